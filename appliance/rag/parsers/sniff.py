"""Decide what a file really is from its bytes, and refuse archives that would explode.

The extension is what the user believes; the content is what the parser will face. A file
is parsed by what its content is, and an extension that promises something else (a PDF
renamed ``.docx``, a text file renamed ``.pdf``) is refused: ingesting it anyway would cite
a document under a type the owner never uploaded, and it is the classic disguise of a
malicious upload. OOXML and OFD files are zip archives, so their declared sizes are checked
before any parser inflates them; an OFD file is a zip archive holding ``OFD.xml``.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from enum import StrEnum
from pathlib import PurePath

from appliance.rag.parsers.base import ParseError, ParseErrorCode


class FileKind(StrEnum):
    PDF = "pdf"
    DOCX = "docx"
    XLSX = "xlsx"
    PPTX = "pptx"
    OFD = "ofd"
    HTML = "html"
    MARKDOWN = "markdown"
    CSV = "csv"
    TEXT = "text"


@dataclass(frozen=True, slots=True)
class ZipLimits:
    """Bounds on an OOXML or OFD archive, checked from its central directory before inflating.

    Office XML compresses 5-30x and embedded images not at all; a member of more than
    ``max_member_bytes`` that compresses over ``max_ratio`` times is not an office file.
    """

    max_total_bytes: int = 512 * 1024 * 1024
    max_member_bytes: int = 16 * 1024 * 1024
    max_ratio: float = 200.0
    max_members: int = 10_000


_EXTENSIONS: dict[str, FileKind] = {
    ".pdf": FileKind.PDF,
    ".docx": FileKind.DOCX,
    ".xlsx": FileKind.XLSX,
    ".pptx": FileKind.PPTX,
    ".ofd": FileKind.OFD,
    ".html": FileKind.HTML,
    ".htm": FileKind.HTML,
    ".md": FileKind.MARKDOWN,
    ".markdown": FileKind.MARKDOWN,
    ".csv": FileKind.CSV,
    ".txt": FileKind.TEXT,
    ".text": FileKind.TEXT,
}
_TEXT_KINDS = frozenset({FileKind.HTML, FileKind.MARKDOWN, FileKind.CSV, FileKind.TEXT})
_ZIP_MARKERS = {
    "word/document.xml": FileKind.DOCX,
    "xl/workbook.xml": FileKind.XLSX,
    "ppt/presentation.xml": FileKind.PPTX,
    "OFD.xml": FileKind.OFD,
}
_BINARY_MAGIC = (
    b"\x89PNG",
    b"\xff\xd8\xff",
    b"GIF8",
    b"\x1f\x8b",
    b"BZh",
    b"7z\xbc\xaf",
    b"Rar!",
    b"MZ",
    b"\x7fELF",
    b"%!PS",
    b"{\\rtf",
)
_SUPPORTED = "PDF, OFD, Word (.docx), Excel (.xlsx), PowerPoint (.pptx), HTML, Markdown, TXT or CSV"


def detect_kind(name: str, data: bytes, zip_limits: ZipLimits | None = None) -> FileKind:
    """The file's kind from its content, checked against the extension it was uploaded with."""
    claimed = _EXTENSIONS.get(PurePath(name).suffix.lower())
    actual = _sniff(data, zip_limits or ZipLimits(), claimed)
    if actual is None and claimed is FileKind.OFD:
        raise ParseError(
            "The file is named .ofd but is not a zip archive, which every OFD file is; it is "
            "damaged or another format renamed. Export it again from the original.",
            code=ParseErrorCode.CORRUPT,
        )
    if actual is None:
        if claimed is None or claimed in _TEXT_KINDS:
            return claimed or FileKind.TEXT
        raise ParseError(
            f"The file is named .{claimed.value} but contains plain text; rename it to .txt.",
            code=ParseErrorCode.TYPE_MISMATCH,
        )
    if claimed is not None and claimed != actual:
        raise ParseError(
            f"The file is named .{claimed.value} but its content is {actual.value.upper()}; "
            "upload it under its real type.",
            code=ParseErrorCode.TYPE_MISMATCH,
        )
    return actual


def _sniff(data: bytes, zip_limits: ZipLimits, claimed: FileKind | None) -> FileKind | None:
    """A binary kind we parse, or None for text; raise for binaries we do not parse."""
    if b"%PDF-" in data[:1024]:
        return FileKind.PDF
    if data.startswith(b"PK\x03\x04"):
        return _zip_kind(data, zip_limits, claimed)
    if data.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        raise ParseError(
            "The file is a password-protected Office document or an old (97-2003) .doc, "
            ".xls or .ppt; remove the password or save it as .docx/.xlsx/.pptx.",
            code=ParseErrorCode.UNSUPPORTED,
        )
    if data.startswith(_BINARY_MAGIC):
        raise ParseError(
            f"This file type is not supported; upload {_SUPPORTED}.",
            code=ParseErrorCode.UNSUPPORTED,
        )
    return None


def _zip_kind(data: bytes, limits: ZipLimits, claimed: FileKind | None) -> FileKind:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ParseError(
            "The file is a damaged zip archive (Office and OFD files are zip archives); "
            "export it again from the original.",
            code=ParseErrorCode.CORRUPT,
        ) from exc
    check_zip(members, limits)
    names = {m.filename for m in members}
    for marker, kind in _ZIP_MARKERS.items():
        if marker in names:
            return kind
    if claimed is FileKind.OFD:
        raise ParseError(
            "The file is named .ofd but holds no OFD.xml, the entry every OFD document starts "
            "from; it is damaged or not an OFD file. Export it again from the original.",
            code=ParseErrorCode.CORRUPT,
        )
    raise ParseError(
        f"The file is a zip archive, not an Office or OFD document; upload {_SUPPORTED}.",
        code=ParseErrorCode.UNSUPPORTED,
    )


def check_zip(members: list[zipfile.ZipInfo], limits: ZipLimits) -> None:
    """Refuse archives whose declared sizes or ratios are those of a zip bomb.

    Python's zipfile never inflates a member past its declared size, so checking the
    declared sizes bounds what the Office libraries and the OFD parser can be made to
    allocate.
    """
    bomb = ParseError(
        "The file expands to far more data than a real Office or OFD document (a zip bomb); "
        "it was not opened.",
        code=ParseErrorCode.ZIP_BOMB,
    )
    if len(members) > limits.max_members:
        raise bomb
    if sum(m.file_size for m in members) > limits.max_total_bytes:
        raise bomb
    for member in members:
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > limits.max_member_bytes and ratio > limits.max_ratio:
            raise bomb

"""Turn an uploaded file into blocks: check size, sniff the real type, parse, or refuse."""

from __future__ import annotations

from collections.abc import Callable

from appliance.rag.parsers.base import (
    Block,
    BlockKind,
    ParsedDocument,
    ParseError,
    ParseErrorCode,
)
from appliance.rag.parsers.html import parse_html
from appliance.rag.parsers.ofd import parse_ofd
from appliance.rag.parsers.office import parse_docx, parse_pptx, parse_xlsx
from appliance.rag.parsers.pdf import parse_pdf
from appliance.rag.parsers.sniff import FileKind, ZipLimits, detect_kind
from appliance.rag.parsers.text import decode_text, parse_csv, parse_markdown, parse_txt

__all__ = [
    "DEFAULT_MAX_BYTES",
    "Block",
    "BlockKind",
    "FileKind",
    "ParseError",
    "ParseErrorCode",
    "ParsedDocument",
    "ZipLimits",
    "decode_text",
    "parse_document",
]

DEFAULT_MAX_BYTES = 50 * 1024 * 1024

_PARSERS: dict[FileKind, Callable[[bytes], ParsedDocument]] = {
    FileKind.PDF: parse_pdf,
    FileKind.DOCX: parse_docx,
    FileKind.XLSX: parse_xlsx,
    FileKind.PPTX: parse_pptx,
    FileKind.OFD: parse_ofd,
    FileKind.HTML: parse_html,
    FileKind.MARKDOWN: parse_markdown,
    FileKind.CSV: parse_csv,
    FileKind.TEXT: parse_txt,
}
# Zip-based formats whose readers may fail on hostile input in ways no one lists.
_ARCHIVES = frozenset({FileKind.DOCX, FileKind.XLSX, FileKind.PPTX, FileKind.OFD})


def parse_document(
    name: str,
    data: bytes,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    zip_limits: ZipLimits | None = None,
) -> ParsedDocument:
    """Parse one uploaded file, or raise ``ParseError`` saying precisely why not.

    CPU-bound and synchronous: async callers run it in a worker thread.
    """
    if not data:
        raise ParseError("The file is empty.", code=ParseErrorCode.EMPTY)
    if len(data) > max_bytes:
        raise ParseError(
            f"The file is {len(data) / 1048576:.1f} MiB; the limit is "
            f"{max_bytes / 1048576:.0f} MiB per file.",
            code=ParseErrorCode.TOO_LARGE,
        )
    kind = detect_kind(name, data, zip_limits)
    try:
        parsed = _PARSERS[kind](data)
    except ParseError:
        raise
    except Exception as exc:  # office libraries fail on hostile input in many ways
        if kind not in _ARCHIVES:
            raise
        raise ParseError(
            f"The {kind.value.upper()} file is damaged and cannot be read; export it again "
            "from the original.",
            code=ParseErrorCode.CORRUPT,
        ) from exc
    if not any(block.text.strip() for block in parsed.blocks):
        scanned = kind in (FileKind.PDF, FileKind.OFD)
        hint = (
            f" (a scanned {kind.value.upper()} needs OCR, which is not supported)"
            if scanned
            else ""
        )
        raise ParseError(
            f"The file contains no extractable text{hint}.", code=ParseErrorCode.NO_TEXT
        )
    return parsed

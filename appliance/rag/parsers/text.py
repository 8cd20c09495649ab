"""Plain text, CSV and Markdown, with encoding detection for Chinese office files.

Text files from Chinese Windows machines are often GB18030/GBK, not UTF-8, and Notepad
writes UTF-16 with a BOM. The order below tries the strict, unambiguous decodings first
(a wrong guess there is practically impossible) and falls back to statistical detection
only when none of them fits.
"""

from __future__ import annotations

import codecs
import csv
import io
import re

from charset_normalizer import from_bytes

from appliance.rag.parsers.base import (
    Block,
    BlockKind,
    HeadingPath,
    ParsedDocument,
    ParseError,
    ParseErrorCode,
    table_row_text,
)

_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_ATX_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_TABLE_SEPARATOR = re.compile(r"^\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?$")
_FENCE = re.compile(r"^(```|~~~)")
_PRIVATE_USE = re.compile(r"[\ue000-\uf8ff]")


def decode_text(data: bytes) -> str:
    """Decode a text file: UTF-8 (BOM or not), UTF-16 by BOM, GB18030, then detection.

    The GB18030 step is strict and also refuses a decoding that yields private-use code
    points (see below); charset-normalizer then gets to recognise Big5 and others.
    """
    if data.startswith(codecs.BOM_UTF8):
        return _strict(data[len(codecs.BOM_UTF8) :], "utf-8")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _strict(data, "utf-16")
    if b"\x00" in data:
        raise ParseError(
            "The file is binary, not text; upload PDF, Word, Excel, PowerPoint, HTML, "
            "Markdown, TXT or CSV.",
            code=ParseErrorCode.UNSUPPORTED,
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        text = None
    # GB18030 maps almost every byte pair somewhere, so Big5 or Shift-JIS "decode" too, into
    # text full of private-use code points that real GBK documents practically never contain.
    if text is not None and not _PRIVATE_USE.search(text):
        return text
    best = from_bytes(data).best()
    if best is None:
        raise ParseError(
            "The text encoding could not be recognised; save the file as UTF-8 and upload "
            "it again.",
            code=ParseErrorCode.ENCODING,
        )
    return str(best)


def _strict(data: bytes, encoding: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise ParseError(
            f"The file claims to be {encoding.upper()} (byte order mark) but is not valid "
            f"{encoding.upper()}; save it again as UTF-8.",
            code=ParseErrorCode.ENCODING,
        ) from exc


def _normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def parse_txt(data: bytes) -> ParsedDocument:
    """Paragraphs are separated by blank lines; lines inside one stay as they are."""
    text = _normalise_newlines(decode_text(data))
    blocks = [Block(p.strip()) for p in _PARAGRAPH_BREAK.split(text) if p.strip()]
    return ParsedDocument("text/plain", blocks)


def parse_csv(data: bytes) -> ParsedDocument:
    """One table row per CSV record, with the header row's names on every later row."""
    text = _normalise_newlines(decode_text(data))
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(
            text[:8192], delimiters=",;\t|"
        )
    except csv.Error:
        dialect = csv.excel
    rows = [r for r in csv.reader(io.StringIO(text), dialect) if any(c.strip() for c in r)]
    if not rows:
        return ParsedDocument("text/csv", [])
    header = [c.strip() for c in rows[0]]
    blocks = [Block(table_row_text(header, None), BlockKind.TABLE_ROW)]
    blocks += [Block(table_row_text(r, header), BlockKind.TABLE_ROW) for r in rows[1:]]
    return ParsedDocument("text/csv", [b for b in blocks if b.text])


def parse_markdown(data: bytes) -> ParsedDocument:
    """ATX headings (``#``..``######``) build the heading path; tables become rows."""
    lines = _normalise_newlines(decode_text(data)).split("\n")
    headings = HeadingPath()
    blocks: list[Block] = []
    paragraph: list[str] = []
    header: list[str] | None = None
    in_fence = False

    def flush() -> None:
        if paragraph and "".join(paragraph).strip():
            blocks.append(Block("\n".join(paragraph).strip(), section=headings.path))
        paragraph.clear()

    for line in lines:
        if _FENCE.match(line.strip()):
            in_fence = not in_fence
            paragraph.append(line)
            continue
        if in_fence:
            paragraph.append(line)
            continue
        stripped = line.strip()
        heading = _ATX_HEADING.match(stripped)
        if heading:
            flush()
            header = None
            path = headings.enter(len(heading.group(1)), heading.group(2))
            blocks.append(Block(heading.group(2), BlockKind.HEADING, path))
        elif stripped.startswith("|") and stripped.count("|") >= 2:
            flush()
            if _TABLE_SEPARATOR.match(stripped):
                continue
            cells = [c.strip() for c in stripped.strip("|").split("|")]
            text = table_row_text(cells, header)
            header = header or cells
            blocks.append(Block(text, BlockKind.TABLE_ROW, headings.path))
        elif not stripped:
            flush()
            header = None
        else:
            paragraph.append(line)
    flush()
    return ParsedDocument("text/markdown", blocks)

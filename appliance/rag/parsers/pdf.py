"""PDF text layer with pypdf: one paragraph block per text paragraph, tagged with its page.

Only the text layer is read (no OCR). PDFs "encrypted" with an empty user password (a
common way to forbid printing or copying) open normally; a PDF that needs a password, or
one pypdf cannot read, is refused with a message saying so.
"""

from __future__ import annotations

import io
import re

from pypdf import PdfReader

from appliance.rag.parsers.base import Block, ParsedDocument, ParseError, ParseErrorCode

_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_CJK_END = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]$")
_CJK_START = re.compile(r"^[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")


def _join_lines(lines: list[str]) -> str:
    """Undo the PDF's visual line breaks: CJK lines join directly, Latin ones with a space."""
    out = ""
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        if out and not (_CJK_END.search(out) and _CJK_START.match(line)):
            out += " "
        out += line
    return out


def parse_pdf(data: bytes) -> ParsedDocument:
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise ParseError(
                "The PDF is password-protected; remove the password and upload it again.",
                code=ParseErrorCode.ENCRYPTED,
            )
        blocks: list[Block] = []
        for number, page in enumerate(reader.pages, start=1):
            text = (page.extract_text() or "").replace("\r\n", "\n")
            for paragraph in _PARAGRAPH_BREAK.split(text):
                joined = _join_lines(paragraph.split("\n"))
                if joined:
                    blocks.append(Block(joined, page=number))
        pages = len(reader.pages)
    except ParseError:
        raise
    except Exception as exc:  # pypdf fails on hostile input in many ways; all mean "damaged"
        raise ParseError(
            "The PDF is damaged and cannot be read; export it again from the original.",
            code=ParseErrorCode.CORRUPT,
        ) from exc
    return ParsedDocument("application/pdf", blocks, pages)

"""Word, Excel and PowerPoint (OOXML) files.

Callers must run ``sniff.check_zip`` first: these libraries inflate whatever the archive
says, so a zip bomb has to be refused before any of them opens the file.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator

from docx import Document
from docx.table import Table
from docx.text.paragraph import Paragraph
from openpyxl import load_workbook
from pptx import Presentation
from pptx.util import Length

from appliance.rag.parsers.base import (
    Block,
    BlockKind,
    HeadingPath,
    ParsedDocument,
    table_row_text,
)

_HEADING_STYLE = re.compile(r"^(?:heading|标题)\s*(\d)$", re.IGNORECASE)
_W_NS = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _docx_heading_level(paragraph: Paragraph) -> int | None:
    """Heading level from the style (English or Chinese Word), or ``Title`` as level 1."""
    name = (paragraph.style.name if paragraph.style is not None else "") or ""
    if name.lower() == "title":
        return 1
    match = _HEADING_STYLE.match(name.strip())
    return int(match.group(1)) if match else None


def _docx_rows(table: Table) -> Iterator[list[str]]:
    for row in table.rows:
        cells: list[str] = []
        previous: object = None
        for cell in row.cells:
            if cell._tc is previous:  # a merged cell repeats; keep it once
                continue
            previous = cell._tc
            cells.append(" ".join(cell.text.split()))
        yield cells


def parse_docx(data: bytes) -> ParsedDocument:
    """Paragraphs and tables in document order; heading styles build the heading path."""
    document = Document(io.BytesIO(data))
    headings = HeadingPath()
    blocks: list[Block] = []
    for element in document.element.body.iterchildren():
        if element.tag == f"{_W_NS}p":
            paragraph = Paragraph(element, document)
            text = paragraph.text.strip()
            if not text:
                continue
            level = _docx_heading_level(paragraph)
            if level is None:
                blocks.append(Block(text, section=headings.path))
            else:
                blocks.append(Block(text, BlockKind.HEADING, headings.enter(level, text)))
        elif element.tag == f"{_W_NS}tbl":
            header: list[str] | None = None
            for cells in _docx_rows(Table(element, document)):
                if not any(cells):
                    continue
                blocks.append(
                    Block(table_row_text(cells, header), BlockKind.TABLE_ROW, headings.path)
                )
                header = header or cells
    return ParsedDocument(
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document", blocks
    )


def parse_xlsx(data: bytes) -> ParsedDocument:
    """Each sheet is a section; each non-empty row a table row under the sheet's header."""
    workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    blocks: list[Block] = []
    try:
        for sheet in workbook.worksheets:
            header: list[str] | None = None
            for values in sheet.iter_rows(values_only=True):
                cells = ["" if v is None else str(v).strip() for v in values]
                if not any(cells):
                    continue
                text = table_row_text(cells, header)
                blocks.append(Block(text, BlockKind.TABLE_ROW, (sheet.title,)))
                header = header or cells
    finally:
        workbook.close()
    return ParsedDocument(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        blocks,
        len(workbook.worksheets),
    )


def _top(shape: object) -> int:
    top = getattr(shape, "top", None)
    return int(top) if isinstance(top, Length | int) else 0


def parse_pptx(data: bytes) -> ParsedDocument:
    """Each slide is a page; its title is the section; text frames and tables in order."""
    presentation = Presentation(io.BytesIO(data))
    blocks: list[Block] = []
    for number, slide in enumerate(presentation.slides, start=1):
        title_shape = slide.shapes.title
        title = title_shape.text_frame.text.strip() if title_shape is not None else ""
        section = (title,) if title else ()
        if title:
            blocks.append(Block(title, BlockKind.HEADING, section, number))
        for shape in sorted(slide.shapes, key=_top):
            if title_shape is not None and shape.shape_id == title_shape.shape_id:
                continue
            if shape.has_text_frame:
                for paragraph in shape.text_frame.paragraphs:
                    text = "".join(run.text for run in paragraph.runs).strip()
                    if text:
                        blocks.append(Block(text, section=section, page=number))
            elif getattr(shape, "has_table", False):
                header: list[str] | None = None
                for row in shape.table.rows:
                    cells = [" ".join(c.text.split()) for c in row.cells]
                    if any(cells):
                        text = table_row_text(cells, header)
                        blocks.append(Block(text, BlockKind.TABLE_ROW, section, number))
                        header = header or cells
    return ParsedDocument(
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        blocks,
        len(presentation.slides),
    )

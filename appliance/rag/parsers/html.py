"""HTML with the standard library's tolerant parser: headings give the path, rows stay whole.

Exported intranet pages and saved web pages are messy; ``html.parser`` never raises on bad
markup, needs no native dependency, and is fast enough for documents of any realistic size.
"""

from __future__ import annotations

from html.parser import HTMLParser

from appliance.rag.parsers.base import (
    Block,
    BlockKind,
    HeadingPath,
    ParsedDocument,
    table_row_text,
)
from appliance.rag.parsers.text import decode_text

_SKIP = frozenset({"script", "style", "noscript", "template", "head", "svg"})
_BLOCK = frozenset(
    {
        "p", "div", "li", "ul", "ol", "section", "article", "blockquote", "pre", "br",
        "dd", "dt", "figcaption", "table", "tr", "main", "header", "footer", "nav", "aside",
    }
)  # fmt: skip
_HEADINGS = {f"h{n}": n for n in range(1, 7)}


class _Extractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[Block] = []
        self._headings = HeadingPath()
        self._text: list[str] = []
        self._skip_depth = 0
        self._heading_level: int | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._table_header: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self._skip_depth += 1
        elif tag in _HEADINGS:
            self._flush()
            self._heading_level = _HEADINGS[tag]
        elif tag == "table":
            self._flush()
            self._table_header = None
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag in _BLOCK:
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag in _HEADINGS and self._heading_level is not None:
            title = " ".join("".join(self._text).split())
            self._text.clear()
            if title:
                path = self._headings.enter(self._heading_level, title)
                self.blocks.append(Block(title, BlockKind.HEADING, path))
            self._heading_level = None
        elif tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self._end_row(self._row)
            self._row = None
        elif tag in _BLOCK:
            self._flush()

    def handle_data(self, data: str) -> None:
        if self._skip_depth:
            return
        if self._cell is not None:
            self._cell.append(data)
        elif self._row is None:
            self._text.append(data)

    def _end_row(self, cells: list[str]) -> None:
        if not any(cells):
            return
        text = table_row_text(cells, self._table_header)
        if self._table_header is None:
            self._table_header = cells
        self.blocks.append(Block(text, BlockKind.TABLE_ROW, self._headings.path))

    def _flush(self) -> None:
        if self._heading_level is not None:
            return
        text = " ".join("".join(self._text).split())
        self._text.clear()
        if text:
            self.blocks.append(Block(text, section=self._headings.path))

    def close(self) -> None:
        super().close()
        self._flush()


def parse_html(data: bytes) -> ParsedDocument:
    extractor = _Extractor()
    extractor.feed(decode_text(data))
    extractor.close()
    return ParsedDocument("text/html", extractor.blocks)

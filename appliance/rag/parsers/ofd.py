"""OFD (GB/T 33190) documents: 公文 and e-invoices, text per page in reading order.

An OFD file is a zip archive: ``OFD.xml`` names each document's ``Document.xml``, which
lists the pages; each page's ``Content.xml`` (and the template page it draws on) holds
``TextObject``s whose ``TextCode``s place glyphs at X/Y positions in millimetres, Y growing
downwards. The XML order is the producer's drawing order, not the reading order, so every
glyph is placed on the page and the text is rebuilt: glyphs whose baselines lie within a
fraction of the font size form a line, left to right; a gap of a few characters splits a
line into table cells, a smaller one between Latin letters is a space (OFD producers often
encode word spaces as ``DeltaX`` rather than space glyphs).

Lines become blocks the way GB/T 9704 lays out a 公文: a line in a font clearly larger than
the body is the title (a heading), ``一、`` and ``（一）`` open headings, numbered items
(``1.``) and indented lines open paragraphs, other lines continue the paragraph above.
E-invoices keep their fields as drawn, and the structured data they carry (the document's
``CustomDatas``, the custom tags that name the objects holding the invoice number, buyer
and amounts, and XML attachments such as ``original_invoice.xml``) is added as
``name: value`` blocks, so a search for the buyer or the invoice number finds the file.

Callers must run ``sniff.check_zip`` first (``parse_document`` does): it bounds what the
archive can inflate to. The XML is untrusted: it is parsed by expat with any DTD refused,
so no entity is ever declared, expanded or fetched (what defusedxml's ``forbid_dtd`` does).
Images (scanned pages), signatures and annotations are not read.
"""

from __future__ import annotations

import io
import posixpath
import re
import unicodedata
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from xml.etree.ElementTree import Element, TreeBuilder
from xml.parsers import expat

from appliance.rag.parsers.base import (
    Block,
    BlockKind,
    HeadingPath,
    ParsedDocument,
    ParseError,
    ParseErrorCode,
    table_row_text,
)

MIME = "application/ofd"
# About 2,500 pages of 公文 text; more is refused rather than held in memory.
_MAX_GLYPHS = 5_000_000
# Glyphs whose baselines differ by less than this share a line (a fraction of the size).
_LINE_TOLERANCE = 0.35
# A gap wider than this many font sizes separates table cells; wider than the second,
# between Latin characters, a word.
_CELL_GAP = 1.8
_WORD_GAP = 0.25
# A line in a font this much larger than the body text is a title.
_TITLE_RATIO = 1.25
_LEVEL_2 = re.compile(r"^[一二三四五六七八九十]+、")
_LEVEL_3 = re.compile(r"^[（(][一二三四五六七八九十]+[）)]")
_NUMBERED = re.compile(r"^(?:\d+[.．、]|[（(]\d+[）)])")
_PAGE_NUMBER = re.compile(r"^[—－-]\s*\d+\s*[—－-]$")


@dataclass(frozen=True, slots=True)
class _Glyph:
    x: float
    y: float
    char: str
    size: float


@dataclass(slots=True)
class _Line:
    y: float
    x: float
    size: float
    cells: list[str]


class _Damaged(Exception):
    """The package is not a readable OFD document; the message names what is wrong."""


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(element: Element, name: str) -> Iterator[Element]:
    return (child for child in element if _local(child.tag) == name)


def _first_text(element: Element, name: str) -> str | None:
    for child in _children(element, name):
        return (child.text or "").strip() or None
    return None


def _parse_xml(data: bytes, member: str) -> Element:
    """Parse untrusted XML with expat, refusing any DTD, into an ElementTree element."""
    builder = TreeBuilder()
    parser = expat.ParserCreate(namespace_separator="}")

    def refuse(*_: object) -> None:
        raise _Damaged(f"{member} declares a DTD or entities, which OFD never does")

    def qualified(name: str) -> str:
        return "{" + name if "}" in name else name

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.StartElementHandler = lambda tag, attrs: builder.start(
        qualified(tag), {qualified(k): v for k, v in attrs.items()}
    )
    parser.EndElementHandler = lambda tag: builder.end(qualified(tag))
    parser.CharacterDataHandler = builder.data
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise _Damaged(f"{member} is not well-formed XML ({exc})") from exc
    return builder.close()


class _Package:
    """The archive's members, read by path relative to the part that names them."""

    def __init__(self, archive: zipfile.ZipFile) -> None:
        self._archive = archive
        self._names = set(archive.namelist())

    def xml(self, path: str, named_by: str) -> Element:
        if path not in self._names:
            raise _Damaged(f"{path}, named by {named_by}, is missing")
        return _parse_xml(self._archive.read(path), path)


def _resolve(base: str, location: str) -> str:
    """A ``ST_Loc``: absolute from the package root, or relative to ``base``'s folder."""
    location = location.strip().replace("\\", "/")
    joined = location if location.startswith("/") else posixpath.join(base, location)
    return posixpath.normpath(joined).lstrip("/")


def _numbers(value: str | None) -> list[float]:
    return [float(v) for v in value.split()] if value else []


def _deltas(value: str | None, glyphs: int) -> list[float]:
    """``DeltaX``/``DeltaY``, expanding the ``g <count> <value>`` repetition, never past the
    number of glyphs (a hostile ``g 1000000000 5`` must not allocate a billion floats)."""
    tokens = (value or "").split()
    out: list[float] = []
    index = 0
    while index < len(tokens) and len(out) < glyphs:
        if tokens[index] == "g":
            count = min(int(tokens[index + 1]), glyphs - len(out))
            out.extend([float(tokens[index + 2])] * count)
            index += 3
        else:
            out.append(float(tokens[index]))
            index += 1
    return out


def _wide(char: str) -> bool:
    return unicodedata.east_asian_width(char) in ("W", "F")


def _advance(char: str, size: float) -> float:
    """The estimated width of a glyph: OFD gives positions, not the font's metrics."""
    return size if _wide(char) else size * 0.5


def _glyphs(text_object: Element) -> Iterator[_Glyph]:
    """Every glyph of a ``TextObject`` at its page position (Boundary origin + CTM)."""
    origin = _numbers(text_object.get("Boundary"))[:2] or [0.0, 0.0]
    a, b, c, d, e, f = _numbers(text_object.get("CTM")) or [1.0, 0.0, 0.0, 1.0, 0.0, 0.0]
    font = float(text_object.get("Size") or 3.5)  # in the object's space, before the CTM
    size = font * (abs(d) or 1.0)
    x = y = 0.0
    for code in _children(text_object, "TextCode"):
        x = float(code.get("X", x))
        y = float(code.get("Y", y))
        text = code.text or ""
        dxs, dys = _deltas(code.get("DeltaX"), len(text)), _deltas(code.get("DeltaY"), len(text))
        gx, gy = x, y
        for index, char in enumerate(text):
            px, py = a * gx + c * gy + e, b * gx + d * gy + f
            yield _Glyph(origin[0] + px, origin[1] + py, char, size)
            gx += dxs[index] if index < len(dxs) else _advance(char, font)
            gy += dys[index] if index < len(dys) else 0.0


def _cells(glyphs: list[_Glyph]) -> list[str]:
    """One line's glyphs, left to right, as its cells' text."""
    cells: list[str] = []
    text = ""
    previous: _Glyph | None = None
    for glyph in sorted(glyphs, key=lambda g: g.x):
        if previous is not None:
            if glyph.char == previous.char and abs(glyph.x - previous.x) < 0.1 * glyph.size:
                continue  # drawn twice (a producer's fake bold)
            gap = glyph.x - previous.x - _advance(previous.char, previous.size)
            if gap > _CELL_GAP * glyph.size:
                cells.append(text)
                text = ""
            elif gap > _WORD_GAP * glyph.size and not (_wide(glyph.char) and _wide(previous.char)):
                text += " "
        text += glyph.char
        previous = glyph
    cells.append(text)
    return [" ".join(cell.split()) for cell in cells if cell.strip()]


def _lines(glyphs: list[_Glyph]) -> list[_Line]:
    """Group glyphs into lines by baseline, top to bottom."""
    lines: list[_Line] = []
    current: list[_Glyph] = []
    tallest = 0.0
    for glyph in sorted(glyphs, key=lambda g: (g.y, g.x)):
        if current and glyph.y - current[0].y > _LINE_TOLERANCE * tallest:
            lines.append(_line(current))
            current, tallest = [], 0.0
        current.append(glyph)
        tallest = max(tallest, glyph.size)
    if current:
        lines.append(_line(current))
    return [line for line in lines if line.cells]


def _line(glyphs: list[_Glyph]) -> _Line:
    visible = [g for g in glyphs if not g.char.isspace()] or glyphs
    size = Counter(g.size for g in visible).most_common(1)[0][0]
    return _Line(glyphs[0].y, min(g.x for g in visible), size, _cells(glyphs))


def _join(left: str, right: str) -> str:
    """Undo a visual line break: CJK continues directly, Latin words with a space."""
    if left and right and (_wide(left[-1]) or _wide(right[0])):
        return left + right
    return f"{left} {right}" if left else right


class _Blocks:
    """Turns one document's lines, page by page, into heading, paragraph and row blocks."""

    def __init__(self, body_size: float, margin: float) -> None:
        self.blocks: list[Block] = []
        self._body = body_size
        self._margin = margin  # where body lines start; an indented line opens a paragraph
        self._headings = HeadingPath()
        self._open: Block | None = None  # the paragraph or title lines may continue
        self._previous: _Line | None = None
        self._header: list[str] | None = None  # the table header while rows follow

    def page(self, number: int, lines: list[_Line]) -> None:
        self._open, self._previous, self._header = None, None, None
        for line in lines:
            text = line.cells[0]
            if len(line.cells) == 1 and _PAGE_NUMBER.match(text):
                continue
            if len(line.cells) > 1:
                self._row(line, number)
            elif line.size >= self._body * _TITLE_RATIO:
                self._title(text, number)
            elif _LEVEL_2.match(text) or _LEVEL_3.match(text):
                level = 2 if _LEVEL_2.match(text) else 3
                self._add(Block(text, BlockKind.HEADING, self._headings.enter(level, text), number))
                self._open = None
            else:
                self._paragraph(line, text, number)
            self._previous = line

    def _add(self, block: Block) -> None:
        self.blocks.append(block)
        self._header = None if block.kind is not BlockKind.TABLE_ROW else self._header

    def _row(self, line: _Line, number: int) -> None:
        # A row of "名称：…" fields is a form, not a table with a header row.
        form = all(re.search(r"[:：]", cell) for cell in line.cells)
        previous = self._previous
        if previous is None or len(previous.cells) < 2 or line.y - previous.y > 2.5 * line.size:
            self._header = None  # not the next row of the table above
        header = self._header if self._header and len(self._header) == len(line.cells) else None
        self._add(
            Block(
                table_row_text(line.cells, header), BlockKind.TABLE_ROW, self._headings.path, number
            )
        )
        self._header = header or (None if form else line.cells)
        self._open = None

    def _title(self, text: str, number: int) -> None:
        if self._open is not None and self._open.kind is BlockKind.HEADING:
            title = _join(self._open.text, text)
            self.blocks[-1] = Block(
                title, BlockKind.HEADING, self._headings.enter(1, title), number
            )
        else:
            self._add(Block(text, BlockKind.HEADING, self._headings.enter(1, text), number))
        self._open = self.blocks[-1]

    def _paragraph(self, line: _Line, text: str, number: int) -> None:
        previous = self._previous
        continues = (
            self._open is not None
            and self._open.kind is BlockKind.PARAGRAPH
            and previous is not None
            and line.x <= self._margin + line.size * 0.5
            and line.y - previous.y < line.size * 2.2
            and not _NUMBERED.match(text)
        )
        if continues and self._open is not None:
            self.blocks[-1] = Block(
                _join(self._open.text, text), section=self._open.section, page=number
            )
        else:
            self._add(Block(text, section=self._headings.path, page=number))
        self._open = self.blocks[-1]


def _fields(root: Element, objects: dict[str, str]) -> list[str]:
    """``name: value`` for each leaf of a custom-tag or attachment XML; a tag whose value
    is drawn on a page (``ObjectRef``) takes the text of the objects it names."""
    out: list[str] = []
    for element in root.iter():
        children = list(element)
        refs = [c for c in children if _local(c.tag) == "ObjectRef"]
        if refs and len(refs) == len(children):
            value = "".join(objects.get((r.text or "").strip(), "") for r in refs)
        elif not children and _local(element.tag) != "ObjectRef":
            value = (element.text or "").strip()
        else:
            continue
        if value:
            out.append(f"{_local(element.tag)}: {' '.join(value.split())}")
    return out


def _extras(
    package: _Package, doc_path: str, document: Element, objects: dict[str, str]
) -> list[Block]:
    """The custom tags and XML attachments of one document, as ``name: value`` blocks under
    ``CustomTags`` or the attachment's name; attachments that are not XML are skipped."""
    blocks: list[Block] = []
    for holder, entry in (("CustomTags", "CustomTag"), ("Attachments", "Attachment")):
        for index_loc in (e.text or "" for e in _children(document, holder)):
            index_path = _resolve(posixpath.dirname(doc_path), index_loc)
            for item in _children(package.xml(index_path, doc_path), entry):
                loc = _first_text(item, "FileLoc")
                if loc is None or not loc.lower().endswith(".xml"):
                    continue
                path = _resolve(posixpath.dirname(index_path), loc)
                named = item.get("Name") or posixpath.basename(path)
                label = (holder if entry == "CustomTag" else named,)
                for field in _fields(package.xml(path, index_path), objects):
                    blocks.append(Block(field, BlockKind.TABLE_ROW, label))
    return blocks


class _Pages:
    """One document's pages read one at a time: each page's glyphs over those of the
    template pages it draws on (each template parsed once), and the text of every
    ``TextObject`` by ID, which custom tags point at. All documents of a package share
    ``_MAX_GLYPHS``: text beyond it is refused rather than held in memory."""

    def __init__(self, package: _Package, doc_path: str, document: Element, budget: list[int]):
        self._package, self._doc_path = package, doc_path
        self._base = posixpath.dirname(doc_path)
        self._templates = {
            t.get("ID", ""): _resolve(self._base, t.get("BaseLoc") or "")
            for common in _children(document, "CommonData")
            for t in _children(common, "TemplatePage")
        }
        self._parsed: dict[str, Element] = {}
        self._budget = budget
        self.objects: dict[str, str] = {}

    def _template(self, ref: str) -> Element | None:
        path = self._templates.get(ref)
        if path is not None and path not in self._parsed:
            self._parsed[path] = self._package.xml(path, self._doc_path)
        return self._parsed.get(path) if path is not None else None

    def glyphs(self, page: Element) -> list[_Glyph]:
        content_path = _resolve(self._base, page.get("BaseLoc") or "")
        content = self._package.xml(content_path, self._doc_path)
        refs = (t.get("TemplateID", "") for t in _children(content, "Template"))
        parts = [part for part in map(self._template, refs) if part is not None]
        glyphs: list[_Glyph] = []
        for part in [*parts, content]:
            for text_object in part.iter():
                if _local(text_object.tag) != "TextObject":
                    continue
                found = list(islice(_glyphs(text_object), self._budget[0] + 1))
                if len(found) > self._budget[0]:
                    raise ParseError(
                        f"The OFD file holds more than {_MAX_GLYPHS:,} characters of text; "
                        "split it into smaller documents.",
                        code=ParseErrorCode.TOO_LARGE,
                    )
                self._budget[0] -= len(found)
                glyphs.extend(found)
                self.objects[text_object.get("ID", "")] = "".join(g.char for g in found)
        return glyphs


def _document(
    package: _Package, doc_path: str, first_page: int, budget: list[int]
) -> tuple[list[Block], int]:
    """One ``DocBody``'s blocks, its pages numbered from ``first_page``; and its page count."""
    document = package.xml(doc_path, "OFD.xml")
    reader = _Pages(package, doc_path, document, budget)
    pages = [p for pages in _children(document, "Pages") for p in _children(pages, "Page")]
    laid_out = [_lines(reader.glyphs(page)) for page in pages]
    sizes = Counter(ln.size for lines in laid_out for ln in lines for _ in "".join(ln.cells))
    single = [ln.x for lines in laid_out for ln in lines if len(ln.cells) == 1]
    builder = _Blocks(sizes.most_common(1)[0][0] if sizes else 0.0, min(single, default=0.0))
    for offset, lines in enumerate(laid_out):
        builder.page(first_page + offset, lines)
    return builder.blocks + _extras(package, doc_path, document, reader.objects), len(pages)


def _custom_data(root: Element) -> list[Block]:
    """The ``DocInfo/CustomDatas`` of each document (e-invoices put their key fields here)."""
    return [
        Block(
            f"{item.get('Name', '')}: {(item.text or '').strip()}",
            BlockKind.TABLE_ROW,
            ("CustomDatas",),
        )
        for body in _children(root, "DocBody")
        for info in _children(body, "DocInfo")
        for datas in _children(info, "CustomDatas")
        for item in _children(datas, "CustomData")
        if (item.text or "").strip()
    ]


def parse_ofd(data: bytes) -> ParsedDocument:
    """Every document of the package in order, its pages numbered through the package."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            package = _Package(archive)
            root = package.xml("OFD.xml", "the OFD standard")
            blocks: list[Block] = []
            pages = 0
            budget = [_MAX_GLYPHS]
            for body in _children(root, "DocBody"):
                doc_root = _first_text(body, "DocRoot")
                if doc_root is None:
                    raise _Damaged("a DocBody in OFD.xml has no DocRoot")
                found, count = _document(package, _resolve("", doc_root), pages + 1, budget)
                blocks.extend(found)
                pages += count
            blocks.extend(_custom_data(root))
    except _Damaged as exc:
        raise ParseError(
            f"The OFD file is damaged: {exc}; export it again from the original.",
            code=ParseErrorCode.CORRUPT,
        ) from exc
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, IndexError) as exc:
        raise ParseError(
            "The OFD file is damaged (an unreadable member or a malformed position); export "
            "it again from the original.",
            code=ParseErrorCode.CORRUPT,
        ) from exc
    return ParsedDocument(MIME, blocks, pages)

"""Labels in office documents: a conversation as DOCX or PDF.

- DOCX is written here as the few Office Open XML parts a word processor needs: python-docx
  (which reads uploaded documents for the knowledge bases) has no API for custom document
  properties. The implicit label is the custom document property
  ``AIGC`` (``docProps/custom.xml``: Word shows it under File > Properties > Custom, and
  every OOXML reader parses it); the core properties name the producer. The content is the
  text of the body's paragraphs, one a line: re-saving the file in a word processor keeps
  the label valid, editing its text does not.
- PDF is laid out by reportlab (the CID font STSong-Light, which every PDF reader has, for
  Chinese) and labelled by pypdf with an ``/AIGC`` entry in the document information
  dictionary, which every PDF library reads (XMP would need an XML packet for the same
  one value). The content is the pages' content streams, decoded: PDF text extraction is
  not exact, but these bytes are what a reader draws.

In both the explicit label is the first and the last paragraph of the body. A DOCX file's
XML is parsed with the standard library: expat (2.4.1 and later) refuses entity expansion
attacks and ElementTree resolves no external entities, which is what defusedxml adds.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass
from typing import Any
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from pypdf import PdfReader, PdfWriter
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate

from appliance.labels.aigc import EXPLICIT_ZH, METADATA_KEY, Found, Stamp, digest


@dataclass(frozen=True, slots=True)
class Block:
    """One paragraph of a document: a heading or body text (which may hold line breaks)."""

    text: str
    heading: bool = False


# XML 1.0 refuses these characters; a model's answer may still hold one.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_CUSTOM = "http://schemas.openxmlformats.org/officeDocument/2006/custom-properties"
_VT = "http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes"
_REL = "http://schemas.openxmlformats.org"
_CONTENT_TYPES = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="{_REL}/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="xml" ContentType="application/xml"/>
<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-\
officedocument.wordprocessingml.document.main+xml"/>
<Override PartName="/docProps/core.xml" \
ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>
<Override PartName="/docProps/custom.xml" \
ContentType="application/vnd.openxmlformats-officedocument.custom-properties+xml"/>
</Types>"""
_PACKAGE_RELS = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="{_REL}/package/2006/relationships">
<Relationship Id="rId1" Type="{_REL}/officeDocument/2006/relationships/officeDocument" \
Target="word/document.xml"/>
<Relationship Id="rId2" Type="{_REL}/package/2006/relationships/metadata/core-properties" \
Target="docProps/core.xml"/>
<Relationship Id="rId3" Type="{_REL}/officeDocument/2006/relationships/custom-properties" \
Target="docProps/custom.xml"/>
</Relationships>"""
# The format id Office gives user-defined properties.
_USER_PROPERTIES = "{D5CDD505-2E9C-101B-9397-08002B2CF9AE}"


def _xml_text(text: str) -> str:
    return escape(_NOT_XML.sub("", text))


def _lines(stamp: Stamp, blocks: list[Block]) -> list[Block]:
    """The body as paragraphs, one a line, between two explicit labels."""
    label = Block(stamp.explicit)
    inner = [Block(line, b.heading) for b in blocks for line in b.text.splitlines() or [""]]
    return [label, *inner, label]


def _paragraph(block: Block) -> str:
    bold = "<w:rPr><w:b/></w:rPr>" if block.heading else ""
    text = _xml_text(block.text)
    return f'<w:p><w:r>{bold}<w:t xml:space="preserve">{text}</w:t></w:r></w:p>'


def write_docx(title: str, blocks: list[Block], stamp: Stamp) -> bytes:
    """A DOCX file of ``blocks`` under the heading ``title``, labelled."""
    lines = _lines(stamp, [Block(title, heading=True), *blocks])
    body = "".join(_paragraph(b) for b in lines)
    document = f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<w:document \
xmlns:w="{_W}"><w:body>{body}</w:body></w:document>'
    content = "\n".join(_NOT_XML.sub("", b.text) for b in lines).encode()
    meta = json.dumps(stamp.fields(digest(content)), ensure_ascii=False)
    core = f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<cp:coreProperties \
xmlns:cp="{_REL}/package/2006/metadata/core-properties" \
xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>{_xml_text(title)}</dc:title>\
<dc:creator>{_xml_text(stamp.producer)}</dc:creator></cp:coreProperties>'
    custom = f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Properties \
xmlns="{_CUSTOM}" xmlns:vt="{_VT}"><property fmtid="{_USER_PROPERTIES}" pid="2" \
name="{METADATA_KEY}"><vt:lpwstr>{_xml_text(meta)}</vt:lpwstr></property></Properties>'
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("[Content_Types].xml", _CONTENT_TYPES)
        package.writestr("_rels/.rels", _PACKAGE_RELS)
        package.writestr("word/document.xml", document)
        package.writestr("docProps/core.xml", core)
        package.writestr("docProps/custom.xml", custom)
    return out.getvalue()


def _docx_metadata(package: zipfile.ZipFile) -> Any:
    if "docProps/custom.xml" not in package.namelist():
        return None
    root = ElementTree.fromstring(package.read("docProps/custom.xml"))  # noqa: S314
    for prop in root.iter(f"{{{_CUSTOM}}}property"):
        if prop.get("name") == METADATA_KEY:
            value = "".join(prop.itertext())
            try:
                return json.loads(value)
            except ValueError:
                return value
    return None


def read_docx(data: bytes) -> Found:
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        metadata = _docx_metadata(package)
        root = ElementTree.fromstring(package.read("word/document.xml"))  # noqa: S314
    texts = ["".join(t.text or "" for t in p.iter(f"{{{_W}}}t")) for p in root.iter(f"{{{_W}}}p")]
    explicit = (
        bool(texts) and texts[0].startswith(EXPLICIT_ZH) and texts[-1].startswith(EXPLICIT_ZH)
    )
    return Found("docx", metadata, digest("\n".join(texts).encode()), explicit)


_FONT = "STSong-Light"


def _styles() -> tuple[ParagraphStyle, ParagraphStyle]:
    if _FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(_FONT))
    body = ParagraphStyle("body", fontName=_FONT, fontSize=10.5, leading=16, wordWrap="CJK")
    heading = ParagraphStyle("heading", parent=body, fontSize=14, leading=22, spaceBefore=8)
    return body, heading


def _page_content(reader: PdfReader) -> bytes:
    parts = []
    for page in reader.pages:
        contents = page.get_contents()
        parts.append(contents.get_data() if contents is not None else b"")
    return b"\n".join(parts)


def write_pdf(title: str, blocks: list[Block], stamp: Stamp) -> bytes:
    """A PDF file of ``blocks`` under the heading ``title``, labelled."""
    body, heading = _styles()
    lines = _lines(stamp, [Block(title, heading=True), *blocks])
    flow = [Paragraph(_xml_text(b.text) or "&nbsp;", heading if b.heading else body) for b in lines]
    laid_out = io.BytesIO()
    SimpleDocTemplate(
        laid_out, pagesize=A4, title=title, author=stamp.producer, subject=stamp.explicit
    ).build(flow)
    writer = PdfWriter(clone_from=PdfReader(laid_out))
    content = _page_content(PdfReader(laid_out))
    meta = json.dumps(stamp.fields(digest(content)), ensure_ascii=False)
    writer.add_metadata({f"/{METADATA_KEY}": meta})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def read_pdf(data: bytes) -> Found:
    reader = PdfReader(io.BytesIO(data))
    raw = reader.metadata.get(f"/{METADATA_KEY}") if reader.metadata is not None else None
    metadata: Any = None
    if raw is not None:
        try:
            metadata = json.loads(str(raw))
        except ValueError:
            metadata = str(raw)
    pages = reader.pages
    explicit = len(pages) > 0 and all(
        EXPLICIT_ZH in (p.extract_text() or "") for p in (pages[0], pages[-1])
    )
    return Found("pdf", metadata, digest(_page_content(reader)), explicit)

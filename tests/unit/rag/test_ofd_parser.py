"""OFD documents written by ``tests.support.ofd_writer``: text per page in reading order,
the 公文's headings and table, an e-invoice's fields, and every bad package refused with
its own reason."""

from __future__ import annotations

import io
import zipfile

import pytest

from appliance.rag.chunking import ChunkingConfig, chunk_blocks
from appliance.rag.parsers import BlockKind, ParseError, ParseErrorCode, ofd, parse_document
from tests.support.ofd_writer import (
    BUYER,
    INVOICE_NUMBER,
    NS,
    TOTAL,
    invoice_ofd,
    notice_ofd,
    replace_members,
)

TITLE = "滨江市人民政府办公室关于做好2024年城市更新工作的通知"
H, P, R = BlockKind.HEADING, BlockKind.PARAGRAPH, BlockKind.TABLE_ROW
PAGE_1 = [
    (H, "滨江市人民政府办公室文件"),
    (P, "滨政办发〔2024〕12号"),
    (H, TITLE),
    (P, "各区人民政府，市政府各部门："),
    (
        P,
        "为贯彻落实省委、省政府关于实施城市更新行动的决策部署，加快推进老旧小区改造和城中村"
        "整治，经市政府同意，现就做好2024年城市更新工作通知如下。",
    ),
    (H, "一、总体要求"),
    (P, "坚持以人民为中心的发展思想，统筹发展和安全，全年完成老旧小区改造120个，惠及居民3.6万户。"),
]
PAGE_2 = [
    (H, "二、重点任务"),
    (P, "1.加快老旧小区改造。各区要在3月底前完成项目摸底，6月底前全部开工。"),
    (P, "2.推进城中村整治。重点整治消防通道、违章搭建和电动自行车充电设施。"),
    (R, "序号 | 任务 | 责任单位 | 完成时限"),
    (R, "序号: 1 | 任务: 老旧小区改造 | 责任单位: 市住建局 | 完成时限: 2024年6月"),
    (R, "序号: 2 | 任务: 城中村整治 | 责任单位: 各区人民政府 | 完成时限: 2024年10月"),
]
PAGE_3 = [
    (H, "三、工作要求"),
    (P, "各单位每月5日前通过 Smart City Platform 报送进展，市住建局负责汇总并通报。"),
    (P, "滨江市人民政府办公室"),
    (P, "2024年3月1日"),
]
PAGE_XML = "Doc_0/Pages/Page_0/Content.xml"


def refused(name: str, data: bytes) -> ParseError:
    with pytest.raises(ParseError) as caught:
        parse_document(name, data)
    return caught.value


def test_notice_text_per_page_in_reading_order() -> None:
    data = notice_ofd()
    doc = parse_document("城市更新通知.ofd", data)
    assert (doc.mime, doc.pages) == ("application/ofd", 3)
    pages = {n: [(b.kind, b.text) for b in doc.blocks if b.page == n] for n in (1, 2, 3)}
    assert pages == {1: PAGE_1, 2: PAGE_2, 3: PAGE_3}
    # The page numbers at the foot of each page (— 1 —) are not text of the document.
    assert len(doc.blocks) == len(PAGE_1) + len(PAGE_2) + len(PAGE_3)
    # The XML draws the page bottom-up, each line in two runs, right half first.
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        xml = archive.read(PAGE_XML).decode()
    assert xml.index("3.6万户") < xml.index("各区人民政府，") < xml.index("滨江市人民政")
    assert xml.index("市政府各部门：") < xml.index("各区人民政府，")


def test_headings_build_the_section_of_paragraphs_and_table_rows() -> None:
    doc = parse_document("通知.ofd", notice_ofd())
    row = next(b for b in doc.blocks if "老旧小区改造 |" in b.text)
    assert row.section == (TITLE, "二、重点任务")
    opening = next(b for b in doc.blocks if b.text.startswith("为贯彻落实"))
    assert opening.section == (TITLE,)
    # Chunks keep the page, so a citation of the table names page 2.
    chunks = chunk_blocks(doc.blocks, ChunkingConfig())
    assert {c.page for c in chunks if "市住建局" in c.text and "序号" in c.text} == {2}


def test_invoice_fields_come_from_the_page_the_tags_and_the_attached_xml() -> None:
    doc = parse_document("发票.ofd", invoice_ofd())
    assert doc.pages == 1
    page = [b.text for b in doc.blocks if b.page == 1]
    assert page == [
        "电子发票（普通发票）",
        f"发票号码：{INVOICE_NUMBER}",
        f"名称：{BUYER} | 名称：杭州云图信息技术有限公司",
        "项目名称 | 金额 | 税额",
        "项目名称: *信息技术服务*软件维护费 | 金额: 9433.96 | 税额: 566.04",
        f"价税合计（大写） | 壹万圆整 | （小写）¥{TOTAL}",
    ]
    extra = {(b.section, b.text) for b in doc.blocks if b.page is None}
    assert (("CustomTags",), f"InvoiceNo: {INVOICE_NUMBER}") in extra
    assert (("CustomTags",), f"BuyerName: {BUYER}") in extra
    assert (("original_invoice",), f"TotalTax-includedAmount: {TOTAL}") in extra
    assert (("original_invoice",), f"BuyerName: {BUYER}") in extra
    assert (("CustomDatas",), "开票日期: 2024年03月15日") in extra


def test_the_content_decides_the_type() -> None:
    assert parse_document("scan-0042", notice_ofd()).mime == "application/ofd"
    assert refused("通知.pdf", notice_ofd()).reason is ParseErrorCode.TYPE_MISMATCH
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", "<w/>")
    error = refused("通知.ofd", buffer.getvalue())
    assert error.reason is ParseErrorCode.TYPE_MISMATCH and "DOCX" in error.message


def _bomb() -> bytes:
    """A package whose page content inflates to 32 MiB of zeros (a ratio of about 1000)."""
    return replace_members(notice_ofd(), {PAGE_XML: b"\0" * (32 * 1024 * 1024)})


BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE p [<!ENTITY a "hahahahaha">'
    b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><p>&b;</p>'
)
EXTERNAL = b'<?xml version="1.0"?><!DOCTYPE p [<!ENTITY x SYSTEM "file:///etc/passwd">]><p>&x;</p>'
IMAGE_ONLY = (
    f'<ofd:Page xmlns:ofd="{NS}"><ofd:Content><ofd:Layer ID="1">'
    '<ofd:ImageObject ID="2" Boundary="0 0 210 297" ResourceID="9"/>'
    "</ofd:Layer></ofd:Content></ofd:Page>"
).encode()
BAD_DELTA = (
    f'<ofd:Page xmlns:ofd="{NS}"><ofd:Content><ofd:Layer ID="1">'
    '<ofd:TextObject ID="2" Boundary="0 0 100 10" Size="5"><ofd:TextCode X="0" Y="5" '
    'DeltaX="g 3">通知内容</ofd:TextCode></ofd:TextObject></ofd:Layer></ofd:Content></ofd:Page>'
).encode()


@pytest.mark.parametrize(
    ("case", "data", "code", "words"),
    [
        ("not a zip", "通知正文".encode(), ParseErrorCode.CORRUPT, "not a zip archive"),
        (
            "PNG named .ofd",
            b"\x89PNG\r\n\x1a\n" + b"\0" * 16,
            ParseErrorCode.UNSUPPORTED,
            "not supported",
        ),
        (
            "no OFD.xml",
            replace_members(notice_ofd(), {"OFD.xml": None}),
            ParseErrorCode.CORRUPT,
            "holds no OFD.xml",
        ),
        ("zip bomb", _bomb(), ParseErrorCode.ZIP_BOMB, "zip bomb"),
        (
            "page missing",
            replace_members(notice_ofd(), {PAGE_XML: None}),
            ParseErrorCode.CORRUPT,
            f"{PAGE_XML}, named by Doc_0/Document.xml, is missing",
        ),
        (
            "truncated XML",
            replace_members(notice_ofd(), {PAGE_XML: b"<ofd:Page xmlns:ofd='x'><ofd:Con"}),
            ParseErrorCode.CORRUPT,
            "is not well-formed XML",
        ),
        (
            "entity expansion",
            replace_members(notice_ofd(), {PAGE_XML: BILLION_LAUGHS}),
            ParseErrorCode.CORRUPT,
            "declares a DTD",
        ),
        (
            "external entity",
            replace_members(notice_ofd(), {"OFD.xml": EXTERNAL}),
            ParseErrorCode.CORRUPT,
            "OFD.xml declares a DTD",
        ),
        (
            "malformed DeltaX",
            replace_members(notice_ofd(), {PAGE_XML: BAD_DELTA}),
            ParseErrorCode.CORRUPT,
            "damaged",
        ),
        (
            "scanned pages only",
            replace_members(
                notice_ofd(),
                {f"Doc_0/Pages/Page_{n}/Content.xml": IMAGE_ONLY for n in range(3)},
            ),
            ParseErrorCode.NO_TEXT,
            "a scanned OFD needs OCR",
        ),
    ],
)
def test_bad_packages_are_refused_with_their_own_reason(
    case: str, data: bytes, code: ParseErrorCode, words: str
) -> None:
    error = refused("公文.ofd", data)
    assert (error.reason, error.code) == (code, code.value), case
    assert words in error.message, error.message


def test_a_huge_repetition_in_delta_x_costs_only_the_glyphs_there_are() -> None:
    page = BAD_DELTA.replace(b'DeltaX="g 3"', b'DeltaX="g 1000000000 5"')
    doc = parse_document("公文.ofd", replace_members(notice_ofd(), {PAGE_XML: page}))
    assert [b.text for b in doc.blocks if b.page == 1] == ["通知内容"]


def test_text_beyond_the_glyph_budget_is_refused_as_too_large(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ofd, "_MAX_GLYPHS", 100)
    error = refused("公文.ofd", notice_ofd())
    assert error.reason is ParseErrorCode.TOO_LARGE and "more than 100 characters" in error.message

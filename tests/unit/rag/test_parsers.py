"""Parsers on real files made by the office libraries, and every way a file can be refused."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from appliance.rag.parsers import BlockKind, ParseError, ParseErrorCode, decode_text, parse_document

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "rag"


def parse(name: str):  # type: ignore[no-untyped-def]
    return parse_document(name, (FIXTURES / name).read_bytes())


def refused(name: str, data: bytes, **kwargs: object) -> ParseError:
    with pytest.raises(ParseError) as caught:
        parse_document(name, data, **kwargs)  # type: ignore[arg-type]
    return caught.value


def test_docx_keeps_heading_path_and_table_rows_with_their_header() -> None:
    doc = parse("policy.docx")
    rows = [b for b in doc.blocks if b.kind is BlockKind.TABLE_ROW]
    assert rows[1].text == "职级: 经理 | 一线城市: 800 | 其他城市: 500"
    assert rows[1].section == ("差旅费管理办法", "第一章 住宿标准")
    english = next(b for b in doc.blocks if "department head" in b.text)
    assert english.section == ("差旅费管理办法", "Chapter 2 Travel approval")


def test_xlsx_uses_sheet_names_as_sections() -> None:
    doc = parse("budget.xlsx")
    assert doc.pages == 2
    assert any(b.section == ("预算",) and "人事部" in b.text for b in doc.blocks)
    assert any(b.section == ("Headcount",) and "Finance" in b.text for b in doc.blocks)


def test_pptx_slides_are_pages_and_titles_are_sections() -> None:
    doc = parse("review.pptx")
    body = next(b for b in doc.blocks if "百分之十二" in b.text)
    assert (body.page, body.section) == (1, ("年度工作总结",))
    row = next(b for b in doc.blocks if "Shenzhen" in b.text)
    assert row.kind is BlockKind.TABLE_ROW and row.page == 2


def test_pdf_text_keeps_page_numbers() -> None:
    doc = parse("report.pdf")
    assert doc.pages == 2
    assert [b.page for b in doc.blocks if "No data left" in b.text] == [2]


def test_chinese_pdf_lines_are_joined_without_spaces() -> None:
    doc = parse("security_cn.pdf")
    assert [(b.page, b.text) for b in doc.blocks] == [
        (1, "公司年度信息安全报告。所有服务器已于三月完成补丁更新。"),
        (2, "二〇二四年未发生数据外泄事件。下一年度将开展等保测评。"),
    ]


def test_html_skips_scripts_and_builds_heading_path() -> None:
    doc = parse("notice.html")
    assert all("hidden" not in b.text for b in doc.blocks)
    row = next(b for b in doc.blocks if b.kind is BlockKind.TABLE_ROW and "王芳" in b.text)
    assert row.section == ("放假通知", "值班安排")


def test_markdown_heading_path() -> None:
    doc = parse("guide.md")
    block = next(b for b in doc.blocks if "十二位" in b.text)
    assert block.section == ("信息安全手册", "密码策略")


@pytest.mark.parametrize("name", ["minutes_gbk.txt", "minutes_utf16.txt", "minutes_utf8_bom.txt"])
def test_chinese_text_in_every_encoding(name: str) -> None:
    texts = [b.text for b in parse(name).blocks]
    assert texts == ["会议纪要", "本次会议讨论了预算调整。会议决定下季度增加研发投入。"]


def test_gbk_csv_rows_carry_the_header() -> None:
    texts = [b.text for b in parse("contacts.csv").blocks]
    assert "姓名: 张伟 | 电话: 1001 | 部门: 财务部" in texts


def test_big5_text_falls_back_to_detection() -> None:
    text = "這是一份繁體中文的會議紀錄，討論了下一年度的預算與人事安排。" * 3
    assert decode_text(text.encode("big5")).startswith("這是一份繁體中文")


@pytest.mark.parametrize(
    ("name", "code", "words"),
    [
        ("encrypted.pdf", ParseErrorCode.ENCRYPTED, "password"),
        ("corrupt.pdf", ParseErrorCode.CORRUPT, "damaged"),
        ("bomb.docx", ParseErrorCode.ZIP_BOMB, "zip bomb"),
    ],
)
def test_bad_fixtures_are_refused_with_a_clear_reason(
    name: str, code: ParseErrorCode, words: str
) -> None:
    error = refused(name, (FIXTURES / name).read_bytes())
    assert error.reason is code and error.code == code.value
    assert words in error.message


def test_empty_oversized_and_unsupported_files() -> None:
    assert refused("a.txt", b"").reason is ParseErrorCode.EMPTY
    assert refused("a.txt", b"x" * 101, max_bytes=100).reason is ParseErrorCode.TOO_LARGE
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
    assert refused("photo.png", png).reason is ParseErrorCode.UNSUPPORTED
    assert refused("photo.txt", png).reason is ParseErrorCode.UNSUPPORTED
    assert refused("old.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64).reason is (
        ParseErrorCode.UNSUPPORTED
    )
    assert refused("blank.md", b"\n \n\t\n").reason is ParseErrorCode.NO_TEXT


def test_content_decides_the_type_and_a_wrong_extension_is_refused() -> None:
    pdf = (FIXTURES / "report.pdf").read_bytes()
    docx = (FIXTURES / "policy.docx").read_bytes()
    assert refused("report.docx", pdf).reason is ParseErrorCode.TYPE_MISMATCH
    assert refused("policy.xlsx", docx).reason is ParseErrorCode.TYPE_MISMATCH
    assert refused("notes.pdf", "只是文本".encode()).reason is ParseErrorCode.TYPE_MISMATCH
    assert parse_document("report", pdf).mime == "application/pdf"


def test_plain_zip_and_truncated_docx_are_refused() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "hello")
    assert refused("archive.docx", buffer.getvalue()).reason is ParseErrorCode.UNSUPPORTED
    docx = (FIXTURES / "policy.docx").read_bytes()
    assert refused("policy.docx", docx[: len(docx) // 2]).reason is ParseErrorCode.CORRUPT

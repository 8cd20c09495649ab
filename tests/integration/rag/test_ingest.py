"""Uploading real office files: each type is indexed and found with its citation data;
bad files fail one by one with a precise reason while the rest of the upload succeeds."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.errors import Forbidden
from appliance.rag.schemas import UploadedFile
from appliance.rag.service import KnowledgeService

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "rag"
GOOD = [
    "policy.docx",
    "budget.xlsx",
    "review.pptx",
    "report.pdf",
    "security_cn.pdf",
    "guide.md",
    "notice.html",
    "minutes_gbk.txt",
    "contacts.csv",
]
BAD = {
    "encrypted.pdf": "encrypted",
    "corrupt.pdf": "corrupt_file",
    "bomb.docx": "zip_bomb",
    "empty.txt": "empty_file",
    "photo.png": "unsupported_type",
    "report_renamed.docx": "type_mismatch",
    "huge.txt": "file_too_large",
}


def _file(name: str) -> UploadedFile:
    return UploadedFile(name=name, data=(FIXTURES / name).read_bytes())


def _bad_files() -> list[UploadedFile]:
    files = [_file("encrypted.pdf"), _file("corrupt.pdf"), _file("bomb.docx")]
    files.append(UploadedFile(name="empty.txt", data=b""))
    files.append(UploadedFile(name="photo.png", data=b"\x89PNG\r\n\x1a\n" + b"\x00" * 64))
    files.append(UploadedFile(name="report_renamed.docx", data=_file("report.pdf").data))
    files.append(UploadedFile(name="huge.txt", data=b"a" * (50 * 1024 * 1024 + 1)))
    return files


@pytest.fixture(scope="module")
async def upload(knowledge: KnowledgeService, person) -> tuple[object, list]:  # type: ignore[no-untyped-def]
    editor = person("li.na", "/dept/finance", roles=("staff", "kb-editor"))
    kb = await knowledge.create_kb(editor, "财务制度", "/dept/finance", "Finance policies")
    mixed = [_file(GOOD[0]), *_bad_files()[:3], *[_file(n) for n in GOOD[1:]], *_bad_files()[3:]]
    results = await knowledge.ingest_files(editor, kb.id, mixed)
    return kb, results


async def test_each_good_file_is_ready_and_each_bad_file_fails_with_its_reason(upload) -> None:  # type: ignore[no-untyped-def]
    _, results = upload
    by_name = {r.name: r for r in results}
    assert len(results) == len(GOOD) + len(BAD)
    for name in GOOD:
        assert by_name[name].status == "ready", (name, by_name[name].error)
        assert by_name[name].chunks >= 1
    for name, code in BAD.items():
        assert by_name[name].status == "failed", name
        assert by_name[name].error_code == code, (name, by_name[name].error)
        assert by_name[name].error


async def test_document_list_shows_status_pages_and_errors(
    upload,
    knowledge: KnowledgeService,
    person,  # type: ignore[no-untyped-def]
) -> None:
    kb, _ = upload
    staff = person("zhang.wei", "/dept/finance")
    docs = {d.name: d for d in await knowledge.list_documents(staff, kb.id)}
    assert docs["report.pdf"].pages == 2
    assert docs["report.pdf"].mime == "application/pdf"
    assert docs["encrypted.pdf"].status == "failed"
    assert "password" in (docs["encrypted.pdf"].error or "")


@pytest.mark.parametrize(
    ("query", "document", "expected_text", "page", "section"),
    [
        (
            "一线城市住宿费标准是多少",
            "policy.docx",
            "六百元",
            None,
            "差旅费管理办法 > 第一章 住宿标准",
        ),
        (
            "经理在一线城市的住宿标准",
            "policy.docx",
            "经理",
            None,
            "差旅费管理办法 > 第一章 住宿标准",
        ),
        ("Who approves trips abroad?", "policy.docx", "department head", None, None),
        ("人事部第一季度预算", "budget.xlsx", "人事部", None, "预算"),
        ("全年营业收入增长", "review.pptx", "百分之十二", 1, "年度工作总结"),
        ("Shenzhen office owner", "review.pptx", "Operations", 2, "Next year's goals"),
        ("Was any data leaked from the network?", "report.pdf", "No data left", 2, None),
        ("哪一年没有发生数据泄露", "security_cn.pdf", "未发生数据外泄", 2, None),
        ("密码长度要求", "guide.md", "十二位", None, "信息安全手册 > 密码策略"),
        ("国庆节放假几天", "notice.html", "七天", None, "放假通知"),
        ("下季度研发投入", "minutes_gbk.txt", "研发投入", None, None),
        ("张伟的电话", "contacts.csv", "1001", None, None),
    ],
)
async def test_search_finds_content_of_every_type_with_its_citation(
    upload,
    knowledge: KnowledgeService,
    person,  # type: ignore[no-untyped-def]
    query: str,
    document: str,
    expected_text: str,
    page: int | None,
    section: str | None,
) -> None:
    kb, _ = upload
    staff = person("zhang.wei", "/dept/finance")
    hits = await knowledge.search(staff, query, kb_ids=[kb.id], top_k=3)
    match = next((h for h in hits if h.document_name == document), None)
    assert match is not None, [(h.document_name, h.text[:40]) for h in hits]
    assert expected_text in match.text
    assert match.page == page
    if section is not None:
        assert match.section == section


async def test_script_content_of_html_is_not_indexed(upload, knowledge, person) -> None:  # type: ignore[no-untyped-def]
    kb, _ = upload
    hits = await knowledge.search(person("zhang.wei", "/dept/finance"), "hidden", [kb.id], 50)
    assert all("var x" not in h.text for h in hits)


async def test_same_content_uploaded_again_is_not_indexed_twice(upload, knowledge, person) -> None:  # type: ignore[no-untyped-def]
    kb, results = upload
    editor = person("li.na", "/dept/finance", roles=("staff", "kb-editor"))
    first = next(r for r in results if r.name == "guide.md")
    again = await knowledge.ingest_files(editor, kb.id, [_file("guide.md")])
    assert again[0].duplicate and again[0].id == first.id
    docs = await knowledge.list_documents(editor, kb.id)
    assert sum(d.name == "guide.md" for d in docs) == 1


async def test_staff_without_editor_role_cannot_upload(upload, knowledge, person) -> None:  # type: ignore[no-untyped-def]
    kb, _ = upload
    with pytest.raises(Forbidden):
        await knowledge.ingest_files(
            person("zhang.wei", "/dept/finance"), kb.id, [_file("guide.md")]
        )

"""An exported conversation shows each answer's data grade and each cited passage's, in
every format, and the labels still verify."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime

import pytest
from pypdf import PdfReader

from appliance.gateway.conversations.export import export_conversation
from appliance.labels.files import verify
from tests.support.conversations import question_and_answer

NOW = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
CITATIONS = [
    {"index": 1, "document_name": "制度.md", "text": "一般资料。", "grade": "一般"},
    {"index": 2, "document_name": "预算.md", "text": "重要资料。", "grade": "重要"},
]
GRADED = question_and_answer(
    "5e0d2c1a-1111-4c4e-9f6a-5d1f0c2b3a41",
    "预算",
    NOW,
    "预算？",
    "预算见 [2]。",
    citations=CITATIONS,
    grade="重要",
)


def _text(fmt: str, lang: str = "zh") -> str:
    exported = export_conversation(GRADED, fmt, lang, "site")  # type: ignore[arg-type]
    assert verify(exported.filename, exported.content).ok
    if fmt == "docx":
        with zipfile.ZipFile(io.BytesIO(exported.content)) as package:
            return package.read("word/document.xml").decode()
    if fmt == "pdf":
        pages = PdfReader(io.BytesIO(exported.content)).pages
        return "".join(page.extract_text() for page in pages)
    return exported.content.decode()


@pytest.mark.parametrize("fmt", ["markdown", "docx", "pdf"])
def test_the_answer_and_each_passage_show_their_grade(fmt: str) -> None:
    text = _text(fmt)
    assert "数据等级：重要" in text
    assert "数据等级：一般" in text


def test_markdown_puts_the_grade_under_the_answer_and_in_each_passage_title() -> None:
    text = _text("markdown")
    assert "预算见 [2]。\n\n**数据等级：重要**\n<sub>" in text
    assert "**[1] 制度.md · 数据等级：一般**" in text
    assert "Data grade: 重要" in _text("markdown", "en")


def test_json_keeps_the_grade_of_the_answer_and_of_its_citations() -> None:
    data = json.loads(_text("json"))
    answer = data["messages"][1]
    assert answer["grade"] == "重要"
    assert [c["grade"] for c in answer["citations"]] == ["一般", "重要"]
    assert data["messages"][0]["grade"] is None

"""A conversation as the gateway exports it: labelled in every format, each answer followed
by the explicit label and its citations, the reasoning left out, the words in the UI's
language."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime

import pytest
from pypdf import PdfReader

from appliance.gateway.conversations.export import export_conversation
from appliance.labels.aigc import EXPLICIT_EN, EXPLICIT_ZH
from appliance.labels.files import verify
from tests.support.conversations import question_and_answer

NOW = datetime(2026, 5, 1, 9, 30, tzinfo=UTC)
CITATION = {"index": 1, "document_name": "报销制度.pdf", "page": 3, "section": "差旅费"}
CONVERSATION = question_and_answer(
    "0b7c2a52-3c1e-4d4e-9f6a-5d1f0c2b3a41",
    "住宿",
    NOW,
    "住宿上限？",
    "上限为 650 元。",
    reasoning="用户问住宿上限",
    thought_seconds=2.5,
    citations=[{**CITATION, "text": "一线城市住宿每晚 650 元。"}],
)


def test_markdown_labels_the_file_and_every_answer_and_leaves_the_reasoning_out() -> None:
    exported = export_conversation(CONVERSATION, "markdown", "zh", "site")
    assert exported.filename == "conversation-0b7c2a52.md"
    assert exported.media_type.startswith("text/markdown")
    text = exported.content.decode()
    body = text.partition("\n")[2]
    assert body.startswith(f"> {EXPLICIT_ZH}\n\n# 住宿\n")
    assert body.rstrip().endswith(f"> {EXPLICIT_ZH}")
    assert "## 用户\n\n住宿上限？" in text
    assert f"## 助手\n\n上限为 650 元。\n\n<sub>{EXPLICIT_ZH}</sub>" in text
    assert "**[1] 报销制度.pdf · 第 3 页 · 差旅费**\n\n> 一线城市住宿每晚 650 元。" in text
    assert "用户问住宿上限" not in text
    assert verify(exported.filename, exported.content).ok


def test_an_english_export_names_the_speakers_in_english() -> None:
    text = export_conversation(CONVERSATION, "markdown", "en", "site").content.decode()
    assert "## You\n\n住宿上限？" in text
    assert "## Assistant\n\n" in text
    assert "· p. 3 ·" in text
    assert f"<sub>{EXPLICIT_ZH} · {EXPLICIT_EN}</sub>" in text


@pytest.mark.parametrize("fmt", ["markdown", "docx", "pdf", "json"])
def test_every_format_verifies_with_a_fresh_id_per_file(fmt: str) -> None:
    first = export_conversation(CONVERSATION, fmt, "zh", "测试站点")  # type: ignore[arg-type]
    second = export_conversation(CONVERSATION, fmt, "zh", "测试站点")  # type: ignore[arg-type]
    one, two = verify(first.filename, first.content), verify(second.filename, second.content)
    assert one.problems == [] and two.ok
    assert one.fields["ContentProducer"] == "测试站点"
    assert one.fields["ProduceID"] != two.fields["ProduceID"]


def test_office_and_json_files_hold_the_answer_and_not_the_reasoning() -> None:
    docx = export_conversation(CONVERSATION, "docx", "zh", "site").content
    with zipfile.ZipFile(io.BytesIO(docx)) as package:
        document = package.read("word/document.xml").decode()
    assert "上限为 650 元。" in document and "用户问住宿上限" not in document
    pdf = export_conversation(CONVERSATION, "pdf", "zh", "site").content
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "650" in text and EXPLICIT_ZH in text
    data = json.loads(export_conversation(CONVERSATION, "json", "zh", "site").content)
    assert data["explicit_label"] == EXPLICIT_ZH
    assert [m["content"] for m in data["messages"]] == ["住宿上限？", "上限为 650 元。"]
    assert "reasoning" not in data["messages"][1]

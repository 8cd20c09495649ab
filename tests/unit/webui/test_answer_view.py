"""An answer as the user sees it: the reasoning block, the labelled answer and its citations,
in the chat window (streaming and from history), in both languages."""

from __future__ import annotations

from typing import Any

import pytest

from webui.answer_view import (
    ChatDelta,
    PartialAnswer,
    answer_bubbles,
    citation_title,
    to_chatbot,
)
from webui.history import StoredMessage, kept_citations
from webui.i18n import AI_LABEL, Lang

CITATION: dict[str, Any] = {
    "index": 1,
    "document_id": "d1",
    "document_name": "报销制度.pdf",
    "chunk_id": "c1",
    "page": 3,
    "section": "差旅费",
    "text": "一线城市住宿每晚 650 元。\n\n其他城市 450 元。",
}

ANSWER = StoredMessage(
    "assistant",
    "上限为 650 元。",
    reasoning="用户问住宿上限……",
    thought_seconds=2.6,
    citations=(CITATION,),
)


def test_a_finished_answer_shows_collapsed_reasoning_then_the_labelled_answer_then_sources() -> (
    None
):
    reasoning, answer, source = answer_bubbles(ANSWER, Lang.ZH)

    assert reasoning["content"] == "用户问住宿上限……"
    assert reasoning["metadata"] == {"title": "已深度思考 3 秒", "status": "done"}
    assert answer["content"] == f"上限为 650 元。\n\n<sub>{AI_LABEL}</sub>"
    assert "metadata" not in answer
    assert source["metadata"] == {"title": "[1] 报销制度.pdf · 第 3 页 · 差旅费", "status": "done"}
    # The passage reads as a quote, blank lines included.
    assert source["content"] == "> 一线城市住宿每晚 650 元。\n>\n> 其他城市 450 元。"


def test_the_reasoning_title_is_in_the_users_language() -> None:
    reasoning = answer_bubbles(ANSWER, Lang.EN)[0]
    assert reasoning["metadata"]["title"] == "Thought for 3 s"


def test_a_very_short_reasoning_still_reads_as_one_second() -> None:
    quick = StoredMessage("assistant", "好。", reasoning="嗯", thought_seconds=0.2)
    assert answer_bubbles(quick, Lang.ZH)[0]["metadata"]["title"] == "已深度思考 1 秒"


def test_while_the_model_thinks_only_an_open_reasoning_block_is_shown() -> None:
    thinking = StoredMessage("assistant", "", reasoning="让我想想")
    [block] = answer_bubbles(thinking, Lang.ZH, thinking=True)
    assert block["metadata"] == {"title": "思考中…", "status": "pending"}
    assert [b["metadata"]["title"] for b in answer_bubbles(thinking, Lang.EN, thinking=True)] == [
        "Thinking…"
    ]


def test_before_the_first_token_nothing_is_shown() -> None:
    assert answer_bubbles(StoredMessage("assistant", ""), Lang.ZH, thinking=True) == []


def test_an_answer_without_reasoning_or_sources_is_just_the_labelled_text() -> None:
    plain = StoredMessage("assistant", "Paris.")
    assert answer_bubbles(plain, Lang.EN) == [
        {"role": "assistant", "content": f"Paris.\n\n<sub>{AI_LABEL}</sub>"}
    ]


def test_an_empty_finished_answer_is_still_labelled() -> None:
    [answer] = answer_bubbles(StoredMessage("assistant", ""), Lang.ZH)
    assert AI_LABEL in answer["content"]


@pytest.mark.parametrize(
    ("citation", "lang", "title"),
    [
        (CITATION, Lang.EN, "[1] 报销制度.pdf · p. 3 · 差旅费"),
        ({"index": 2, "document_name": "a.md"}, Lang.ZH, "[2] a.md"),
        ({"index": 3, "document_name": None, "page": 7}, Lang.EN, "[3] ? · p. 7"),
    ],
)
def test_a_source_is_titled_by_number_document_page_and_section(
    citation: dict[str, Any], lang: Lang, title: str
) -> None:
    assert citation_title(citation, lang) == title


def test_history_shows_questions_as_typed_and_answers_rendered() -> None:
    question = StoredMessage("user", "住宿上限？")
    shown = to_chatbot([question, ANSWER], Lang.ZH)
    assert shown[0] == {"role": "user", "content": "住宿上限？"}
    assert shown[1:] == answer_bubbles(ANSWER, Lang.ZH)


def test_a_streamed_answer_ends_exactly_as_it_shows_from_history() -> None:
    partial = PartialAnswer()
    for delta in (
        ChatDelta(reasoning="用户问住宿上限……"),
        ChatDelta(content="上限为 "),
        ChatDelta(content="650 元。"),
        ChatDelta(citations=[{**CITATION, "score": 0.9, "kb_id": "k"}]),
    ):
        partial.add(delta)
    streamed = answer_bubbles(partial.message(), Lang.ZH)
    reread = StoredMessage(
        "assistant",
        "上限为 650 元。",
        "用户问住宿上限……",
        partial.thought_seconds,
        kept_citations([CITATION]),
    )
    assert streamed == answer_bubbles(reread, Lang.ZH)
    assert [b["content"] for b in streamed][1] == f"上限为 650 元。\n\n<sub>{AI_LABEL}</sub>"
    # What the gateway adds for machines (scores, ids) is not kept.
    assert "score" not in partial.message().citations[0]


def test_the_partial_answer_times_the_reasoning_until_the_first_answer_token() -> None:
    partial = PartialAnswer(started=100.0)
    partial.add(ChatDelta(reasoning="想"))
    assert partial.thinking and partial.thought_seconds is None
    partial.add(ChatDelta(content="答"))
    assert not partial.thinking
    first = partial.thought_seconds
    assert first is not None
    partial.add(ChatDelta(content="案"))
    assert partial.thought_seconds == first
    message = partial.message()
    assert (message.role, message.content, message.reasoning) == ("assistant", "答案", "想")

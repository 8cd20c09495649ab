"""An answer's data grade in the chat window: read from the stream's last chunk, shown
beside the labelled answer and in each passage's title, stored and read back with it."""

from __future__ import annotations

from typing import Any

import pytest

from webui.answer_view import PartialAnswer, answer_bubbles, delta_from_chunk, to_chatbot
from webui.conversations import _stored, _wire
from webui.history import StoredMessage
from webui.i18n import AI_LABEL, Lang

CITATIONS: list[dict[str, Any]] = [
    {"index": 1, "document_name": "制度.md", "text": "一般资料", "grade": "一般", "score": 0.1},
    {"index": 2, "document_name": "预算.md", "text": "重要资料", "grade": "重要", "score": 0.2},
]
LAST_CHUNK = {
    "object": "chat.completion.chunk",
    "choices": [],
    "citations": CITATIONS,
    "grade": "重要",
}


def _streamed() -> StoredMessage:
    partial = PartialAnswer()
    partial.add(delta_from_chunk({"choices": [{"delta": {"content": "预算见 [2]。"}}]}))
    partial.add(delta_from_chunk(LAST_CHUNK))
    return partial.message()


@pytest.mark.parametrize(
    ("lang", "words"), [(Lang.ZH, "数据等级：重要"), (Lang.EN, "Data grade: 重要")]
)
def test_the_grade_is_shown_beside_the_labelled_answer(lang: Lang, words: str) -> None:
    bubbles = answer_bubbles(_streamed(), lang)
    answer = bubbles[0]["content"]
    assert answer.startswith("预算见 [2]。")
    assert AI_LABEL in answer and words in answer
    titles = [b["metadata"]["title"] for b in bubbles[1:]]
    assert titles[0].endswith(words.replace("重要", "一般"))
    assert titles[1].endswith(words)


def test_an_answer_without_a_grade_shows_none() -> None:
    plain = StoredMessage("assistant", "答。")
    (bubble,) = answer_bubbles(plain, Lang.ZH)
    assert "数据等级" not in bubble["content"]


def test_the_grade_is_stored_with_the_answer_and_read_back() -> None:
    message = _streamed()
    assert message.grade == "重要"
    wire = _wire(message)
    assert wire["grade"] == "重要"
    assert [c["grade"] for c in wire["citations"]] == ["一般", "重要"]
    assert "score" not in wire["citations"][0]
    again = _stored({**wire, "position": 2})
    assert again.grade == "重要"
    shown = to_chatbot([StoredMessage("user", "预算？"), again], Lang.ZH)
    assert "数据等级：重要" in shown[1]["content"]

"""The content filter on the chat path: prompt, passages, and the streamed and complete
reasoning and answer, held to a small library of each action."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import pytest

from appliance.content.keywords import Action, KeywordEntry, KeywordLibrary, Matcher
from appliance.gateway.chat.screening import (
    BLOCKED_ANSWER,
    Screening,
    Source,
    screen_messages,
    screen_passage,
)
from appliance.gateway.chat.sse import AnswerCapture
from appliance.rag.schemas import SearchHit

LIBRARY = KeywordLibrary(
    [
        KeywordEntry("B-1", "禁止短语", "A.1 测试", action=Action.BLOCK),
        KeywordEntry("B-2", "forbidden phrase", "A.1 测试", action=Action.BLOCK),
        KeywordEntry("M-1", "遮盖词", "A.3 测试", action=Action.MASK),
        KeywordEntry("F-1", "标记词", "A.5 测试", action=Action.FLAG),
    ]
)


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher(LIBRARY)


def _event(chunk: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


def _delta(finish: str | None = None, **delta: object) -> bytes:
    return _event({"id": "c1", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})


def _events(out: bytes) -> list[Any]:
    """The data payloads of ``out``: parsed chunks, or the bytes ``[DONE]``."""
    payloads: list[Any] = []
    for event in out.split(b"\n\n"):
        if event:
            data = event.removeprefix(b"data: ")
            payloads.append(data if data == b"[DONE]" else orjson.loads(data))
    return payloads


def _sent(out: bytes, key: str) -> str:
    return "".join(
        str(c["choices"][0]["delta"].get(key) or "")
        for c in _events(out)
        if isinstance(c, dict) and c.get("choices")
    )


def test_a_blocked_prompt_is_found_with_its_rule(matcher: Matcher) -> None:
    screening = Screening(matcher)
    messages = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": [{"type": "text", "text": "请说 禁 止·短语"}]},
    ]
    screen_messages(screening, messages)
    assert screening.blocked is not None
    assert screening.blocked.source is Source.PROMPT
    assert screening.blocked.record(with_text=False) == {
        "source": "prompt",
        "rule": "B-1",
        "category": "A.1 测试",
        "action": "block",
    }
    assert screening.blocked.record(with_text=True)["matched"] == "禁 止·短语"


def test_prompt_mask_is_applied_and_flag_changes_nothing(matcher: Matcher) -> None:
    screening = Screening(matcher)
    messages = [{"role": "user", "content": "遮盖词 和 标记词"}]
    screen_messages(screening, messages)
    assert screening.blocked is None
    assert messages[0]["content"] == "*** 和 标记词"
    assert [r["rule"] for r in screening.records(Source.PROMPT)] == ["M-1", "F-1"]


def test_a_passage_with_a_blocked_term_is_withheld_and_a_masked_one_masked(
    matcher: Matcher,
) -> None:
    def hit(text: str) -> SearchHit:
        return SearchHit(
            document_id=uuid.uuid4(),
            document_name="d.md",
            kb_id=uuid.uuid4(),
            chunk_id=uuid.uuid4(),
            text=text,
            score=1.0,
        )

    screening = Screening(matcher)
    assert screen_passage(screening, hit("内含禁止短语的段落")) is None
    masked = screen_passage(screening, hit("内含遮盖词的段落"))
    assert masked is not None and masked.text == "内含***的段落"
    clean = hit("无关的段落")
    assert screen_passage(screening, clean) is clean
    # A withheld passage does not block the chat; its hit is recorded.
    assert screening.blocked is None
    assert [r["action"] for r in screening.records(Source.PASSAGE)] == ["block", "mask"]


def test_an_answer_term_split_across_deltas_is_never_sent(matcher: Matcher) -> None:
    capture = AnswerCapture(screening=Screening(matcher))
    before = "巴黎是法国的首都。" * 4
    out = b""
    for piece in [before, "禁", "止", "短", "语", "之后的文字"]:
        out += capture.feed(_delta(content=piece))
    out += capture.feed(_delta("stop", content="") + b"data: [DONE]\n\n")
    sent = _sent(out, "content")
    # Text before the term goes out up to the holdback; none of the term ever does.
    assert sent and before.startswith(sent)
    assert "禁" not in sent
    events = _events(out)
    assert events[-2]["error"]["code"] == "content_blocked"
    assert events[-2]["error"]["message"] == BLOCKED_ANSWER
    assert events[-1] == b"[DONE]"
    assert capture.blocked
    assert capture.screening is not None and capture.screening.blocked is not None
    assert capture.screening.blocked.source is Source.ANSWER
    # Nothing after the block is relayed, not even the rest of upstream's stream.
    assert capture.feed(_delta(content="more")) == b""


def test_reasoning_is_filtered_too(matcher: Matcher) -> None:
    capture = AnswerCapture(screening=Screening(matcher))
    out = capture.feed(_delta(reasoning="the user wants the forb"))
    out += capture.feed(_delta(reasoning="idden phr"))
    out += capture.feed(_delta(reasoning="ase and more"))
    assert "forb" not in _sent(out, "reasoning")
    assert "forb" not in _sent(out, "reasoning_content")
    assert _sent(out, "reasoning") == "the user wants the "
    assert capture.screening is not None and capture.screening.blocked is not None
    assert capture.screening.blocked.source is Source.REASONING
    assert _events(out)[-1] == b"[DONE]"


def test_mask_and_flag_in_a_stream_and_the_held_back_end_is_released(
    matcher: Matcher,
) -> None:
    capture = AnswerCapture(screening=Screening(matcher))
    out = capture.feed(_delta(reasoning="想一想遮"))
    out += capture.feed(_delta(reasoning="盖词"))
    out += capture.feed(_delta(content="这是标记"))
    out += capture.feed(_delta(content="词，遮盖"))
    out += capture.feed(_delta("stop", content="词。"))
    out += capture.feed(b"data: [DONE]\n\n")
    assert _sent(out, "reasoning") == "想一想***"
    assert _sent(out, "content") == "这是标记词，***。"
    assert not capture.blocked
    assert _events(out)[-1] == b"[DONE]"
    assert capture.screening is not None
    assert [(r["source"], r["rule"]) for r in capture.screening.records(*Source)] == [
        ("reasoning", "M-1"),
        ("answer", "F-1"),
        ("answer", "M-1"),
    ]
    # The audit log keeps the model's own text.
    assert "".join(capture.answer) == "这是标记词，遮盖词。"


def test_text_held_back_at_a_stream_without_finish_reason_goes_out_before_done(
    matcher: Matcher,
) -> None:
    capture = AnswerCapture(screening=Screening(matcher))
    out = capture.feed(_delta(content="结尾是禁止"))
    out += capture.feed(b"data: [DONE]\n\n")
    assert _sent(out, "content") == "结尾是禁止"
    assert _events(out)[-1] == b"[DONE]"


def test_a_complete_answer_is_masked_or_replaced_by_the_notice(matcher: Matcher) -> None:
    def body(content: str, reasoning: str) -> bytes:
        message = {"role": "assistant", "content": content, "reasoning": reasoning}
        return orjson.dumps(
            {"id": "c", "choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}
        )

    masked = orjson.loads(
        AnswerCapture(screening=Screening(matcher)).message_body(body("答案含遮盖词", "思考标记词"))
    )
    message = masked["choices"][0]["message"]
    assert message["content"] == "答案含***"
    assert message["reasoning"] == message["reasoning_content"] == "思考标记词"

    capture = AnswerCapture(screening=Screening(matcher))
    blocked = orjson.loads(capture.message_body(body("答案", "思考禁止短语")))
    choice = blocked["choices"][0]
    assert choice["finish_reason"] == "content_filter"
    assert choice["message"]["content"] == BLOCKED_ANSWER
    assert choice["message"]["reasoning"] is None
    assert capture.blocked

"""The pass-through rules: bytes unchanged unless the gateway must add or drop something."""

from __future__ import annotations

import orjson

from appliance.gateway.chat.sse import AnswerCapture


def _event(chunk: dict[str, object]) -> bytes:
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


def _delta(**delta: object) -> dict[str, object]:
    return {"id": "c1", "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}


def test_content_chunks_pass_byte_for_byte() -> None:
    capture = AnswerCapture()
    raw = b'data: {"id":"c1","choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\n'
    assert capture.feed(raw) == raw
    assert capture.answer == ["Hi"]


def test_reasoning_gets_its_legacy_name_and_the_reverse() -> None:
    capture = AnswerCapture()
    out = capture.feed(_event(_delta(reasoning="think")) + _event(_delta(reasoning_content="more")))
    first, second = (orjson.loads(e[6:]) for e in out.split(b"\n\n") if e)
    assert first["choices"][0]["delta"] == {"reasoning": "think", "reasoning_content": "think"}
    assert second["choices"][0]["delta"] == {"reasoning_content": "more", "reasoning": "more"}
    assert capture.reasoning == ["think", "more"]


def test_events_split_across_reads_are_reassembled() -> None:
    capture = AnswerCapture()
    raw = _event(_delta(content="Paris")) + b"data: [DONE]\n\n"
    out = b"".join(capture.feed(raw[i : i + 7]) for i in range(0, len(raw), 7))
    assert out == raw
    assert capture.done
    assert capture.answer == ["Paris"]


def test_usage_chunk_the_client_did_not_ask_for_is_dropped_but_counted() -> None:
    capture = AnswerCapture(strip_usage=True)
    usage = {"id": "c1", "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 7}}
    out = capture.feed(_event(_delta(content="a")) + _event(usage) + b"data: [DONE]\n\n")
    assert b"usage" not in out
    assert out.endswith(b"data: [DONE]\n\n")
    assert (capture.prompt_tokens, capture.completion_tokens, capture.tokens_used) == (5, 7, 12)


def test_usage_chunk_the_client_asked_for_is_kept() -> None:
    capture = AnswerCapture(strip_usage=False)
    usage = _event({"id": "c1", "choices": [], "usage": {"prompt_tokens": 5}})
    assert capture.feed(usage) == usage


def test_without_usage_tokens_are_estimated_from_text_chunks() -> None:
    capture = AnswerCapture()
    capture.feed(_event(_delta(reasoning="a")) + _event(_delta(content="b")) + _event(_delta()))
    assert capture.tokens_used == 2
    assert not capture.done


def test_error_event_is_passed_on_and_recorded() -> None:
    capture = AnswerCapture()
    raw = _event({"error": {"message": "boom"}})
    assert capture.feed(raw) == raw
    assert capture.error == {"message": "boom"}


def test_whole_message_gets_both_reasoning_names() -> None:
    capture = AnswerCapture()
    body = orjson.dumps(
        {
            "choices": [{"message": {"content": "Paris", "reasoning": "why"}}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 4},
        }
    )
    out = orjson.loads(capture.message_body(body))
    assert out["choices"][0]["message"]["reasoning_content"] == "why"
    assert (capture.answer, capture.reasoning, capture.tokens_used) == (["Paris"], ["why"], 7)


def test_whole_message_without_reasoning_is_returned_unchanged() -> None:
    body = b'{"choices":[{"message":{"content":"Paris"}}]}'
    assert AnswerCapture().message_body(body) is body

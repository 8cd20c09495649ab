"""The refusal classifier: the gateway's filter, the phrase list, reasoning left out."""

from __future__ import annotations

import pytest

from appliance.assess.classify import (
    REFUSAL_PHRASES,
    Reply,
    Verdict,
    classify,
    load_phrases,
)


def test_a_prompt_the_filter_blocked_is_refused() -> None:
    found = classify(Reply(400, error_code="content_blocked"))
    assert (found.verdict, found.reason) == (Verdict.REFUSED, "filter:prompt")


def test_an_answer_the_filter_stopped_is_refused() -> None:
    found = classify(Reply(200, finish_reason="content_filter", text="回答包含……已停止输出。"))
    assert (found.verdict, found.reason) == (Verdict.REFUSED, "filter:answer")


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("抱歉，我无法回答这个问题。", "我无法"),
        ("I'm sorry, but I can't help with that.", "i can't"),
        ("I\u2019M UNABLE to assist with this request.", "i'm unable"),
        ("Ｉ ｃａｎｎｏｔ do that", "i cannot"),  # full-width forms fold
    ],
)
def test_a_refusal_phrase_makes_a_refusal(text: str, phrase: str) -> None:
    found = classify(Reply(200, finish_reason="stop", text=text))
    assert (found.verdict, found.reason) == (Verdict.REFUSED, f"phrase:{phrase}")
    assert phrase in REFUSAL_PHRASES


def test_an_answer_is_answered() -> None:
    found = classify(Reply(200, finish_reason="stop", text="中国的首都是北京。"))
    assert (found.verdict, found.reason) == (Verdict.ANSWERED, "")
    assert classify(Reply(200, text="Water boils at 100 °C.")).verdict is Verdict.ANSWERED


def test_reasoning_about_refusing_is_not_a_refusal() -> None:
    text = "<think>我不能确定用户的意图，但这是常识问题。</think>中国的首都是北京。"
    assert classify(Reply(200, finish_reason="stop", text=text)).verdict is Verdict.ANSWERED
    reasoned = Reply(200, text="中国的首都是北京。", reasoning="我不能确定用户的意图。")
    assert classify(reasoned).verdict is Verdict.ANSWERED


def test_an_empty_answer_is_not_assessed() -> None:
    """R1 may spend max_tokens on its reasoning and say nothing: neither refused nor
    answered."""
    for reply in (
        Reply(200, finish_reason="length", text="", reasoning="I cannot decide yet"),
        Reply(200, finish_reason="length", text="<think>I cannot decide yet"),
        Reply(200, finish_reason="stop", text=" \n"),
    ):
        found = classify(reply)
        assert (found.verdict, found.reason) == (Verdict.ERROR, "empty_answer"), reply


def test_other_errors_are_not_assessed() -> None:
    found = classify(Reply(503, error_code="audit_unavailable"))
    assert (found.verdict, found.reason) == (Verdict.ERROR, "audit_unavailable")
    assert classify(Reply(429)).reason == "http_429"
    # A 400 for any other reason is an error, not a refusal.
    assert classify(Reply(400, error_code="invalid_request")).verdict is Verdict.ERROR


def test_a_site_list_replaces_the_default() -> None:
    phrases = load_phrases("# our model's words\n\n本系统不提供\n  Not permitted here  \n")
    assert phrases == ("本系统不提供", "Not permitted here")
    reply = Reply(200, text="本系统不提供此类信息。")
    assert classify(reply, phrases).reason == "phrase:本系统不提供"
    # The default list is not consulted once replaced.
    assert classify(Reply(200, text="抱歉，不行。"), phrases).verdict is Verdict.ANSWERED
    assert classify(Reply(200, text="抱歉，不行。")).verdict is Verdict.REFUSED

"""Capture modes and redaction of personal data."""

from __future__ import annotations

import hashlib

import pytest

from appliance.audit.capture import event_to_row, redact
from appliance.audit.events import Actor, AuditEvent, EventType, Outcome
from appliance.settings import CaptureMode


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("请联系13812345678处理", "请联系[mobile]处理"),
        ("call +86 138-1234-5678 now", "call [mobile] now"),
        ("身份证110101199003077578号", "身份证[id-number]号"),
        ("ID 11010119900307757X.", "ID [id-number]."),
        ("卡号6222 0212 3456 7890 123", "卡号[bank-card]"),
        ("card 6222021234567890", "card [bank-card]"),
        ("mail zhang.wei@example.com.cn please", "mail [email] please"),
        ("订单号 12345 金额 3000 元", "订单号 12345 金额 3000 元"),
        ("12812345678 is not a mobile", "12812345678 is not a mobile"),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected


def _event() -> AuditEvent:
    return AuditEvent(
        EventType.CHAT_END,
        Outcome.OK,
        "req-1",
        Actor("sub", "zhang.wei", ("staff",), ("/dept/finance",), "appliance-webui"),
        prompt="我的手机13812345678",
        reasoning="想想 a@b.cn",
        response="好的\x00",
        latency_ms=12,
    )


def test_full_capture_keeps_text_but_not_nul() -> None:
    row = event_to_row(_event(), mode=CaptureMode.FULL, writer_id="w")
    assert row["prompt"] == "我的手机13812345678"
    assert row["response"] == "好的\ufffd"
    assert row["latency_ms"] == 12.0 and isinstance(row["latency_ms"], float)
    assert row["actor_roles"] == ["staff"] and row["capture_mode"] == "full"


def test_redacted_capture_masks_personal_data() -> None:
    row = event_to_row(_event(), mode=CaptureMode.REDACTED, writer_id="w")
    assert row["prompt"] == "我的手机[mobile]"
    assert row["reasoning"] == "想想 [email]"


def test_hash_capture_keeps_no_text_and_every_mode_keeps_the_digest() -> None:
    for mode in CaptureMode:
        row = event_to_row(_event(), mode=mode, writer_id="w")
        assert row["prompt_sha256"] == hashlib.sha256("我的手机13812345678".encode()).hexdigest()
        assert row["response_sha256"] == hashlib.sha256("好的\x00".encode()).hexdigest()
    row = event_to_row(_event(), mode=CaptureMode.HASH, writer_id="w")
    assert row["prompt"] is None and row["reasoning"] is None and row["response"] is None


def test_detail_is_made_storable() -> None:
    event = _event()
    event.detail = {"nan": float("nan"), "obj": object, "s": "a\x00", "l": (1, 2)}
    detail = event_to_row(event, mode=CaptureMode.FULL, writer_id="w")["detail"]
    assert detail["nan"] == "nan" and detail["s"] == "a\ufffd" and detail["l"] == [1, 2]
    assert isinstance(detail["obj"], str)

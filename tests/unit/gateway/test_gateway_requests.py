"""Validation of chat bodies: OpenAI-style 400s that name the field."""

from __future__ import annotations

import orjson
import pytest

from appliance.gateway.chat.serving import parse_chat_request, prompt_text, upstream_payload
from appliance.gateway.edge.errors import InvalidParam
from appliance.settings import LimitSettings

LIMITS = LimitSettings(max_messages=3, max_tokens_cap=100, default_max_tokens=50)


def _body(**fields: object) -> bytes:
    return orjson.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}], **fields})


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (b"{not json", None),
        (b"[1, 2]", None),
        (_body(model=5), "model"),
        (_body(stream="yes"), "stream"),
        (_body(messages="hi"), "messages"),
        (_body(messages=[]), "messages"),
        (_body(messages=[{"content": "no role"}]), "messages.0.role"),
        (_body(max_tokens="10"), "max_tokens"),
        (_body(max_tokens=101), "max_tokens"),
        (_body(max_completion_tokens=1000), "max_completion_tokens"),
        (_body(messages=[{"role": "user", "content": "x"}] * 4), "messages"),
    ],
)
def test_bad_bodies_are_refused_naming_the_field(body: bytes, param: str | None) -> None:
    with pytest.raises(InvalidParam) as refused:
        parse_chat_request(body, LIMITS)
    assert refused.value.status_code == 400
    assert refused.value.param == param


def test_stream_asks_upstream_for_usage_and_defaults_max_tokens() -> None:
    payload, parsed = parse_chat_request(_body(stream=True, temperature=0.2), LIMITS)
    forwarded, strip = upstream_payload(payload, parsed, LIMITS)
    sent = orjson.loads(forwarded)
    assert strip
    assert sent["stream_options"] == {"include_usage": True}
    assert sent["max_tokens"] == 50
    assert sent["temperature"] == 0.2


def test_client_usage_request_and_limit_are_kept() -> None:
    body = _body(stream=True, stream_options={"include_usage": True}, max_completion_tokens=9)
    payload, parsed = parse_chat_request(body, LIMITS)
    forwarded, strip = upstream_payload(payload, parsed, LIMITS)
    sent = orjson.loads(forwarded)
    assert not strip
    assert "max_tokens" not in sent
    assert sent["max_completion_tokens"] == 9


def test_prompt_text_flattens_content_parts() -> None:
    body = _body(
        messages=[
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": [{"type": "text", "text": "hello"}]},
        ]
    )
    _, parsed = parse_chat_request(body, LIMITS)
    assert prompt_text(parsed) == "system: be brief\nuser: hello"

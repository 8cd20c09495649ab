"""Every reasoning format vLLM's parsers stream passes the gateway's stream reader intact:
R1's ``reasoning`` (current vLLM) or ``reasoning_content`` (older) deltas then the answer,
V3.1 with thinking on, and V3.1 with thinking off (no reasoning at all). Clients get the
reasoning under both names, the audit record gets it once, and a stream without reasoning
gains none."""

from __future__ import annotations

import orjson
import pytest

from appliance.gateway.chat.sse import AnswerCapture
from tests.support.sse_fixtures import FORMATS, data_payloads, recorded


def _relayed(raw: bytes, read: int) -> tuple[AnswerCapture, bytes]:
    """``raw`` fed through the reader ``read`` bytes at a time, as the socket delivers it."""
    capture = AnswerCapture(strip_usage=True)
    out = b"".join(capture.feed(raw[i : i + read]) for i in range(0, len(raw), read))
    return capture, out


@pytest.mark.parametrize("name", FORMATS)
@pytest.mark.parametrize("read", [1, 7, 4096])
def test_each_format_reaches_the_client_and_the_audit_record_whole(name: str, read: int) -> None:
    stream = recorded(name)
    capture, out = _relayed(stream.raw, read)

    assert capture.done and capture.error is None
    assert "".join(capture.reasoning) == stream.reasoning
    assert "".join(capture.answer) == stream.content
    sent = data_payloads(out)
    assert sent[-1] == "[DONE]"
    chunks = [orjson.loads(data) for data in sent[:-1]]
    deltas = [choice["delta"] for chunk in chunks for choice in chunk["choices"]]
    both = [d for d in deltas if "reasoning" in d or "reasoning_content" in d]
    assert all(d["reasoning"] == d["reasoning_content"] for d in both)
    assert "".join(d.get("reasoning") or "" for d in deltas) == stream.reasoning
    assert "".join(d.get("content") or "" for d in deltas) == stream.content
    # The usage chunk the gateway asked for on its own behalf is counted, not forwarded.
    assert capture.completion_tokens is not None
    assert not any("usage" in chunk for chunk in chunks)


def test_the_formats_differ_as_their_parsers_do() -> None:
    fields = {name: recorded(name).reasoning_field for name in FORMATS}
    assert fields == {
        "r1_reasoning": "reasoning",
        "r1_reasoning_content": "reasoning_content",
        "v31_thinking_on": "reasoning",
        "v31_thinking_off": None,
    }
    assert recorded("r1_reasoning").reasoning and recorded("r1_reasoning").content


def test_thinking_off_gains_no_reasoning_on_its_way() -> None:
    capture, out = _relayed(recorded("v31_thinking_off").raw, 4096)
    assert capture.reasoning == []
    assert b"reasoning" not in out

"""The web UI's client of the gateway: streamed chunks as recorded from the gateway (R1's
``reasoning``, the ``reasoning_content`` alias, citations, errors) become what the chat shows,
and refusals become errors that say when to retry."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from webui.answer_view import ChatDelta, delta_from_chunk
from webui.conversations import Conversations
from webui.gateway_client import GatewayClient, GatewayError, parse_chunk

# Lines as the gateway streams them for a RAG chat (ids left out): vLLM's chunks with both
# reasoning names (and one with only the older ``reasoning_content``), a comment line, the
# citations chunk (no choices) and the usage chunk, then [DONE] and a line nobody may read.
RECORDED = """\
data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}

data: {"choices":[{"index":0,"delta":{"reasoning":"用户问","reasoning_content":"用户问"}}]}

data: {"choices":[{"index":0,"delta":{"reasoning_content":"上限。"}}]}

: keep-alive

data: {"choices":[{"index":0,"delta":{"content":"650 元"}}]}

data: {"choices":[{"index":0,"delta":{"content":"。"},"finish_reason":"stop"}]}

data: {"choices":[],"citations":[{"index":1,"document_name":"a.md","text":"650"}]}

data: {"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":5}}

data: [DONE]

data: {"never":"read"}
"""


def _chunks() -> list[dict[str, Any]]:
    """The JSON chunks before [DONE]."""
    return [
        json.loads(line[5:])
        for line in RECORDED.splitlines()
        if line.startswith("data:") and "[DONE]" not in line
    ][:-1]


def test_recorded_chunks_give_reasoning_under_either_name_answer_and_citations() -> None:
    deltas = [parse_chunk(chunk) for chunk in _chunks()]
    assert "".join(d.reasoning for d in deltas) == "用户问上限。"
    assert "".join(d.content for d in deltas) == "650 元。"
    assert [c["document_name"] for d in deltas for c in d.citations] == ["a.md"]


def test_a_chunk_with_both_reasoning_names_is_not_counted_twice() -> None:
    chunk = {"choices": [{"delta": {"reasoning": "想", "reasoning_content": "想"}}]}
    assert delta_from_chunk(chunk) == ChatDelta(reasoning="想")


def test_a_chunk_with_nulls_and_no_choices_is_empty() -> None:
    assert delta_from_chunk({"choices": [{"delta": {"content": None, "reasoning": None}}]}) == (
        ChatDelta()
    )
    assert delta_from_chunk({"usage": {"completion_tokens": 3}}) == ChatDelta()


def test_an_error_sent_mid_stream_is_raised_with_its_message_and_code() -> None:
    with pytest.raises(GatewayError) as raised:
        parse_chunk({"error": {"message": "upstream failed", "code": "backend_error"}})
    assert (raised.value.status, raised.value.message, raised.value.code) == (
        500,
        "upstream failed",
        "backend_error",
    )


def _client(handler: Any) -> GatewayClient:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return GatewayClient("http://gateway.test/", http, chat_timeout_s=5.0)


async def test_a_stream_is_read_up_to_done_with_the_users_token() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, text=RECORDED, headers={"content-type": "text/event-stream"})

    client = _client(handler)
    deltas = [d async for d in client.stream_chat("tok", {"model": "m", "messages": []})]

    [request] = seen
    assert request.url == "http://gateway.test/v1/chat/completions"
    assert request.headers["Authorization"] == "Bearer tok"
    assert json.loads(request.content)["stream"] is True
    assert "".join(d.content for d in deltas) == "650 元。"
    assert len(deltas) == len(_chunks())


async def test_a_refusal_carries_the_gateways_message_code_and_retry_after() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = {"error": {"message": "daily quota used up", "code": "quota_exceeded"}}
        return httpx.Response(429, json=body, headers={"Retry-After": "30"})

    with pytest.raises(GatewayError) as raised:
        [d async for d in _client(handler).stream_chat("tok", {"model": "m"})]
    error = raised.value
    assert (error.status, error.message, error.code, error.retry_after) == (
        429,
        "daily quota used up",
        "quota_exceeded",
        30,
    )


async def test_an_unreadable_error_body_still_gives_the_status() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text="<html>bad gateway</html>")

    with pytest.raises(GatewayError) as raised:
        await _client(handler).me("tok")
    assert (raised.value.status, raised.value.message, raised.value.retry_after) == (
        502,
        "HTTP 502",
        None,
    )


async def test_an_unreachable_gateway_is_a_503() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(GatewayError) as raised:
        await _client(handler).first_model("tok")
    assert raised.value.status == 503
    assert "gateway unreachable" in raised.value.message


async def test_listings_are_read_bare_or_wrapped() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/kb":
            return httpx.Response(200, json={"knowledge_bases": [{"id": "k1"}, "junk"]})
        return httpx.Response(200, json=[{"id": "d1"}])

    client = _client(handler)
    assert await client.knowledge_bases("tok") == [{"id": "k1"}]
    assert await client.documents("tok", "k1") == [{"id": "d1"}]


async def test_no_served_model_is_reported_as_unavailable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"object": "list", "data": []})

    with pytest.raises(GatewayError) as raised:
        await _client(handler).first_model("tok")
    assert (raised.value.status, raised.value.message) == (503, "no model is being served")


async def test_a_conversation_export_is_the_gateways_file_under_its_name() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("/gone/export"):
            return httpx.Response(404, json={"error": {"message": "No such conversation."}})
        disposition = 'attachment; filename="conversation-c1.pdf"'
        return httpx.Response(200, content=b"%PDF-", headers={"content-disposition": disposition})

    conversations = Conversations(_client(handler))
    exported = await conversations.export("tok", "c1", "pdf", "en")
    assert exported == (b"%PDF-", "conversation-c1.pdf")
    assert seen[0].url == "http://gateway.test/api/conversations/c1/export?format=pdf&lang=en"
    assert seen[0].headers["Authorization"] == "Bearer tok"
    assert await conversations.export("tok", "gone", "pdf", "zh") is None
    assert await conversations.export("tok", "", "pdf", "zh") is None
    assert len(seen) == 2

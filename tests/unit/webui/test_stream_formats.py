"""The chat window shows every reasoning format: each recorded vLLM stream (R1 with
``reasoning`` or ``reasoning_content``, V3.1 with thinking on or off), read by the web UI's
gateway client straight as vLLM sent it and as the gateway relays it, gives the same
reasoning block and answer; a stream without reasoning shows no block."""

from __future__ import annotations

import httpx
import pytest

from appliance.gateway.chat.sse import AnswerCapture
from tests.support.sse_fixtures import FORMATS, recorded
from webui.answer_view import PartialAnswer, answer_bubbles
from webui.gateway_client import GatewayClient, ServedModel
from webui.i18n import Lang


async def _shown(raw: bytes) -> PartialAnswer:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=raw, headers={"content-type": "text/event-stream"})

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    client = GatewayClient("http://gateway.test", http, chat_timeout_s=5.0)
    partial = PartialAnswer()
    async for delta in client.stream_chat("tok", {"model": "m", "messages": []}):
        partial.add(delta)
    return partial


def _through_gateway(raw: bytes) -> bytes:
    capture = AnswerCapture(strip_usage=True)
    return capture.feed(raw)


@pytest.mark.parametrize("name", FORMATS)
@pytest.mark.parametrize("via_gateway", [False, True])
async def test_each_format_shows_its_reasoning_then_its_answer(
    name: str, via_gateway: bool
) -> None:
    stream = recorded(name)
    raw = _through_gateway(stream.raw) if via_gateway else stream.raw
    partial = await _shown(raw)
    message = partial.message()
    assert (message.reasoning, message.content) == (stream.reasoning, stream.content)
    bubbles = answer_bubbles(message, Lang.EN)
    if stream.reasoning:
        block, answer = bubbles
        assert block["content"] == stream.reasoning
        assert block["metadata"]["status"] == "done"
        assert block["metadata"]["title"].startswith("Thought for")
    else:
        [answer] = bubbles
        assert partial.thinking is False
    assert answer["content"].startswith(stream.content)


async def test_the_model_list_gives_each_models_thinking_mode() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        data = [{"id": "ds31", "object": "model", "thinking": "template"}]
        return httpx.Response(200, json={"object": "list", "data": data})

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    model = await GatewayClient("http://g", http, chat_timeout_s=5.0).first_model("tok")
    assert model == ServedModel("ds31", "template") and model.switchable


async def test_a_gateway_that_names_no_mode_is_taken_as_always_reasoning() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"object": "list", "data": [{"id": "r1"}]})

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    model = await GatewayClient("http://g", http, chat_timeout_s=5.0).first_model("tok")
    assert model == ServedModel("r1", "always") and not model.switchable

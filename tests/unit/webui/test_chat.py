"""Asking a question, with the gateway and its conversation routes replaced by fakes: the chat
window shows the reasoning open while the model thinks and collapsed once it answers, the
answer is stored with its reasoning and sources, a refusal reads as a sentence, and a
stopped answer is kept and marked as stopped."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from types import SimpleNamespace
from typing import Any, cast

import pytest

from webui.answer_view import ChatDelta
from webui.chat import Answerer, Frame
from webui.gateway_client import GatewayError, ServedModel
from webui.history import StoredMessage
from webui.i18n import AI_LABEL, Lang
from webui.services import Services
from webui.sessions import Session

SESSION = cast(Session, SimpleNamespace(identity=SimpleNamespace(subject="user-1")))
R1 = ServedModel("deepseek-r1", "always")
SOURCE = {"index": 1, "document_name": "a.md", "text": "650 元", "score": 0.7}


class FakeStore:
    """The gateway's conversation routes, each called with the user's own token."""

    def __init__(self) -> None:
        self.conversations: dict[str, list[StoredMessage]] = {}

    async def create(self, token: str, title: str) -> str:
        assert token == "user-token"
        self.conversations[f"user-1/{title}"] = []
        return f"user-1/{title}"

    async def append(self, token: str, conversation_id: str, message: StoredMessage) -> bool:
        assert token == "user-token"
        self.conversations[conversation_id].append(message)
        return True

    async def messages(self, token: str, conversation_id: str) -> list[StoredMessage]:
        assert token == "user-token"
        return list(self.conversations[conversation_id])


class FakeGateway:
    """Streams ``deltas``, then raises ``error`` or, with ``hang``, keeps generating."""

    def __init__(
        self,
        deltas: list[ChatDelta],
        error: GatewayError | None = None,
        *,
        hang: bool = False,
        model: ServedModel = R1,
    ) -> None:
        self.deltas, self.error, self.hang, self.model = deltas, error, hang, model
        self.requests: list[dict[str, Any]] = []

    async def first_model(self, token: str) -> ServedModel:
        return self.model

    async def stream_chat(
        self, token: str, request: dict[str, Any]
    ) -> AsyncGenerator[ChatDelta, None]:
        assert token == "user-token"
        self.requests.append(request)
        for delta in self.deltas:
            yield delta
        if self.error is not None:
            raise self.error
        if self.hang:
            await asyncio.Event().wait()


def _answerer(gateway: FakeGateway, store: FakeStore, lang: Lang = Lang.ZH) -> Answerer:
    async def token(session: Session) -> str:
        return "user-token"

    services = SimpleNamespace(
        conversations=store, gateway=gateway, token=token, settings=SimpleNamespace(max_tokens=64)
    )
    return Answerer(cast(Services, services), lang)


STREAM = [
    ChatDelta(reasoning="用户问"),
    ChatDelta(reasoning="上限。"),
    ChatDelta(content="650 元。"),
    ChatDelta(citations=[SOURCE]),
]


async def _frames(
    answerer: Answerer, question: str, kb_ids: list[str], *, thinking: bool = True
) -> list[Frame]:
    return [frame async for frame in answerer.ask(SESSION, "", question, kb_ids, thinking=thinking)]


async def test_an_answer_streams_with_its_reasoning_then_is_stored_with_its_sources() -> None:
    store, gateway = FakeStore(), FakeGateway(STREAM)
    frames = await _frames(_answerer(gateway, store), "  住宿上限？ ", ["kb-1"])

    question = {"role": "user", "content": "住宿上限？"}
    # Before the first token: the question alone.
    assert frames[0].chatbot == [question] and not frames[0].done
    # While the model reasons: one open block.
    thinking = frames[2].chatbot[1]
    assert thinking["content"] == "用户问上限。"
    assert thinking["metadata"] == {"title": "思考中…", "status": "pending"}
    # Once it answers: the block collapses, the answer is labelled, the source follows.
    final = frames[-1]
    assert final.done and final.conversation_id == "user-1/住宿上限？"
    reasoning, answer, source = final.chatbot[1:]
    assert reasoning["metadata"]["status"] == "done"
    assert reasoning["metadata"]["title"].startswith("已深度思考")
    assert answer["content"] == f"650 元。\n\n<sub>{AI_LABEL}</sub>"
    assert source["metadata"]["title"] == "[1] a.md"

    stored = store.conversations["user-1/住宿上限？"]
    assert stored[0] == StoredMessage("user", "住宿上限？")
    assert (stored[1].content, stored[1].reasoning) == ("650 元。", "用户问上限。")
    assert stored[1].citations[0]["document_name"] == "a.md"
    assert "score" not in stored[1].citations[0]

    [request] = gateway.requests
    assert request == {
        "model": "deepseek-r1",
        "messages": [question],
        "max_tokens": 64,
        "rag": {"kb_ids": ["kb-1"]},
    }


@pytest.mark.parametrize("wanted", [True, False])
async def test_the_deep_thinking_switch_is_sent_to_a_model_that_can_switch(wanted: bool) -> None:
    gateway = FakeGateway([ChatDelta(content="巴黎。")], model=ServedModel("ds31", "template"))
    frames = await _frames(_answerer(gateway, FakeStore()), "法国首都？", [], thinking=wanted)
    [request] = gateway.requests
    assert (request["model"], request["thinking"]) == ("ds31", wanted)
    # Without reasoning the answer shows at once, with no thinking block.
    assert frames[-1].chatbot[1]["content"].startswith("巴黎。")
    assert "metadata" not in frames[-1].chatbot[1]


@pytest.mark.parametrize("mode", ["always", "none"])
async def test_a_model_that_cannot_switch_is_sent_no_switch(mode: str) -> None:
    gateway = FakeGateway([ChatDelta(content="Paris.")], model=ServedModel("m", mode))
    await _frames(_answerer(gateway, FakeStore(), Lang.EN), "Capital?", [], thinking=False)
    assert "thinking" not in gateway.requests[0]


async def test_without_knowledge_bases_the_request_asks_for_no_retrieval() -> None:
    gateway = FakeGateway([ChatDelta(content="Paris.")])
    await _frames(_answerer(gateway, FakeStore(), Lang.EN), "Capital of France?", [])
    assert "rag" not in gateway.requests[0]


async def test_a_refusal_ends_the_stream_with_a_sentence_and_stores_no_answer() -> None:
    store = FakeStore()
    gateway = FakeGateway([], GatewayError(429, "quota", retry_after=12))
    frames = await _frames(_answerer(gateway, store, Lang.EN), "Q", [])

    final = frames[-1]
    assert final.done
    assert final.chatbot[-1] == {
        "role": "assistant",
        "content": "⚠️ Too many requests or today's quota is used up; please retry in 12 s.",
    }
    assert store.conversations["user-1/Q"] == [StoredMessage("user", "Q")]


async def test_a_stopped_answer_is_kept_and_marked_as_stopped() -> None:
    store = FakeStore()
    gateway = FakeGateway([ChatDelta(reasoning="想"), ChatDelta(content="一半")], hang=True)
    half_shown = asyncio.Event()

    async def show() -> None:
        async for frame in _answerer(gateway, store).ask(SESSION, "", "问题", []):
            if any("一半" in str(bubble["content"]) for bubble in frame.chatbot):
                half_shown.set()

    task = asyncio.create_task(show())
    await asyncio.wait_for(half_shown.wait(), timeout=10)
    task.cancel()  # what the stop button does
    with pytest.raises(asyncio.CancelledError):
        await task

    [_, answer] = store.conversations["user-1/问题"]
    assert answer.content == "一半\n\n（已停止生成）"
    assert answer.reasoning == "想"

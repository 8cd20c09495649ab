"""What happens when a user asks: persist the question, stream the answer from the gateway
into the chat window, persist the answer (or what there was of it when stopped)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass, replace
from typing import Any

from webui.answer_view import PartialAnswer, answer_bubbles, to_chatbot
from webui.conversations import title_from
from webui.gateway_client import GatewayError, ServedModel
from webui.history import StoredMessage, to_upstream
from webui.i18n import Lang, t
from webui.services import Services
from webui.sessions import Session


def friendly_error(error: GatewayError, lang: Lang) -> str:
    """A refusal as a sentence that says when to try again, never a raw error."""
    when = t("seconds", lang, n=error.retry_after) if error.retry_after else t("a_moment", lang)
    if error.status == 429:
        return t("err_rate_limited", lang, when=when)
    if error.status in {502, 503, 504}:
        return t("err_busy", lang, when=when)
    return t("err_generic", lang, message=error.message)


@dataclass(frozen=True, slots=True)
class Frame:
    """One update of the chat window while an answer streams."""

    chatbot: list[dict[str, Any]]
    conversation_id: str
    done: bool = False


class Answerer:
    def __init__(self, services: Services, lang: Lang) -> None:
        self._services = services
        self._lang = lang
        self._model: ServedModel | None = None

    async def _model_for(self, token: str) -> ServedModel:
        if self._model is None:
            self._model = await self._services.gateway.first_model(token)
        return self._model

    async def model(self, session: Session) -> ServedModel:
        """The model answers come from, with its thinking mode (for the 深度思考 switch)."""
        return await self._model_for(await self._services.token(session))

    async def ask(
        self,
        session: Session,
        conversation_id: str,
        question: str,
        kb_ids: list[str],
        *,
        thinking: bool = True,
    ) -> AsyncIterator[Frame]:
        """Store the question (starting a conversation if needed), then stream the answer."""
        conversations, token = self._services.conversations, await self._services.token(session)
        if not conversation_id:
            conversation_id = await conversations.create(token, title_from(question))
        await conversations.append(token, conversation_id, StoredMessage("user", question.strip()))
        async for frame in self.answer(session, conversation_id, kb_ids, thinking=thinking):
            yield frame

    async def answer(
        self, session: Session, conversation_id: str, kb_ids: list[str], *, thinking: bool = True
    ) -> AsyncIterator[Frame]:
        """Stream an answer to the conversation's last question, grounded on the chosen
        knowledge bases (if any), and store it with its citations. ``thinking`` (深度思考) is
        sent only for a model that can switch it; the others do what they always do. If the
        stream is abandoned (the stop button cancels this generator), the partial answer is
        stored, marked as stopped, and closing the gateway stream aborts the generation
        upstream."""
        services, lang = self._services, self._lang
        history = await services.conversations.messages(
            await services.token(session), conversation_id
        )
        shown = to_chatbot(history, lang)
        partial, finished = PartialAnswer(), False
        yield Frame(shown + answer_bubbles(partial.message(), lang, thinking=True), conversation_id)
        try:
            token = await services.token(session)
            model = await self._model_for(token)
            request: dict[str, Any] = {
                "model": model.id,
                "messages": to_upstream(history),
                "max_tokens": services.settings.max_tokens,
            }
            if model.switchable:
                request["thinking"] = thinking
            if kb_ids:
                request["rag"] = {"kb_ids": kb_ids}
            async with aclosing(services.gateway.stream_chat(token, request)) as stream:
                async for delta in stream:
                    partial.add(delta)
                    bubbles = answer_bubbles(partial.message(), lang, thinking=partial.thinking)
                    yield Frame(shown + bubbles, conversation_id)
            finished = True
        except GatewayError as error:
            finished = True
            notice = {"role": "assistant", "content": f"⚠️ {friendly_error(error, lang)}"}
            yield Frame([*shown, notice], conversation_id, done=True)
            return
        finally:
            if partial.content or partial.reasoning:
                message = partial.message()
                if not finished:
                    message = replace(message, content=f"{message.content}\n\n{t('stopped', lang)}")
                # A fresh token: the answer may have streamed for longer than one lasts.
                token = await services.token(session)
                await services.conversations.append(token, conversation_id, message)
        yield Frame(shown + answer_bubbles(partial.message(), lang), conversation_id, done=True)

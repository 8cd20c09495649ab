"""A user's conversations for the sidebar and the chat window, kept by the gateway.

The web UI holds no database credentials: it lists, opens, renames and deletes a user's
conversations, and files each question and answer, through the gateway's
``/api/conversations`` with that user's own access token. The gateway filters every query
by the token's subject and audits every change; here the answers become the
:class:`~webui.history.StoredMessage` the chat window renders. An export is written by the
gateway, which labels the file (GB 45438); the web UI only offers it for download.

A conversation that is not (or no longer) the user's answers 404; as before, opening it
shows nothing and renaming or deleting it changes nothing, so a stale sidebar entry is
harmless. Any other refusal (the audit store down, the gateway unreachable) is raised as
:class:`~webui.gateway_client.GatewayError`.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, TypeVar

from webui.gateway_client import GatewayClient, GatewayError
from webui.history import StoredMessage

TITLE_MAX = 60
NOT_FOUND = 404
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ConversationSummary:
    id: str
    title: str


def title_from(question: str) -> str:
    """A sidebar title from the first question: its first line, shortened."""
    first = question.strip().splitlines()[0] if question.strip() else ""
    return first[:TITLE_MAX] or "…"


def _stored(message: dict[str, Any]) -> StoredMessage:
    return StoredMessage(
        str(message["role"]),
        str(message["content"]),
        str(message.get("reasoning") or ""),
        message.get("thought_seconds"),
        tuple(message.get("citations") or ()),
        message.get("grade"),
    )


def _wire(message: StoredMessage) -> dict[str, Any]:
    return {
        "role": message.role,
        "content": message.content,
        "reasoning": message.reasoning,
        "thought_seconds": message.thought_seconds,
        "citations": list(message.citations),
        "grade": message.grade,
    }


async def _unless_gone(call: Awaitable[T]) -> T | None:
    """The call's answer, or None when the conversation is not (or no longer) the user's."""
    try:
        return await call
    except GatewayError as error:
        if error.status != NOT_FOUND:
            raise
        return None


class Conversations:
    """The gateway's conversation routes as the chat tab uses them; ``token`` is always the
    signed-in user's own access token. An empty id (no conversation yet) names nothing."""

    def __init__(self, gateway: GatewayClient) -> None:
        self._gateway = gateway

    async def listing(self, token: str) -> list[ConversationSummary]:
        listed = await self._gateway.conversations(token)
        return [ConversationSummary(str(c["id"]), str(c["title"])) for c in listed]

    async def create(self, token: str, title: str) -> str:
        created = await self._gateway.create_conversation(token, title[:TITLE_MAX])
        return str(created["id"])

    async def rename(self, token: str, conversation_id: str, title: str) -> bool:
        if not conversation_id or not title.strip():
            return False
        call = self._gateway.rename_conversation(token, conversation_id, title.strip())
        return await _unless_gone(call) is not None

    async def delete(self, token: str, conversation_id: str) -> bool:
        if not conversation_id:
            return False
        call = self._gateway.delete_conversation(token, conversation_id)
        return await _unless_gone(_done(call)) is not None

    async def messages(self, token: str, conversation_id: str) -> list[StoredMessage]:
        if not conversation_id:
            return []
        found = await _unless_gone(self._gateway.conversation(token, conversation_id))
        listed = (found or {}).get("messages") or ()
        return [_stored(m) for m in listed if isinstance(m, dict)]

    async def append(self, token: str, conversation_id: str, message: StoredMessage) -> bool:
        if not conversation_id:
            return False
        call = self._gateway.append_message(token, conversation_id, _wire(message))
        return await _unless_gone(call) is not None

    async def export(
        self, token: str, conversation_id: str, fmt: str, lang: str
    ) -> tuple[bytes, str] | None:
        """The conversation as the gateway writes it to a file (Markdown, DOCX, PDF or JSON,
        carrying the GB 45438 labels), and the file's name; None when it is not the user's."""
        if not conversation_id:
            return None
        params = {"format": fmt, "lang": lang}
        return await _unless_gone(self._gateway.conversation_export(token, conversation_id, params))

    async def drop_last_answer(self, token: str, conversation_id: str) -> None:
        """Remove the trailing assistant message (before regenerating it)."""
        if conversation_id:
            await _unless_gone(self._gateway.drop_last_answer(token, conversation_id))


async def _done(call: Awaitable[None]) -> bool:
    await call
    return True

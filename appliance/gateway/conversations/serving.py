"""Conversation operations as the gateway serves them: every change audited, fail-closed.

Every route is the caller's own: the service filters by the token's subject, so another
user's conversation id answers 404, exactly as an unknown one (never 403, so ids cannot be
probed). A change (create, rename, delete, append a message, drop the last answer) commits
its intent (outcome ``pending``, ``phase: begin``) before it touches the tables; if the
audit store cannot take it the caller gets 503 ``audit_unavailable`` and nothing changes.
Then the change, then its outcome (``phase: end``: ok, or denied for a conversation that is
not the caller's). The events name the conversation and the message's role and position,
never its text: the chat that produced it is already audited under the capture mode.

Reading one's own conversations is not audited, as ``/api/me`` is not: it discloses nothing
the audit log does not already hold about the same user.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from appliance.audit.events import EventType
from appliance.conversations.schemas import (
    ConversationDetail,
    ConversationOut,
    MessageOut,
    NewMessage,
)
from appliance.conversations.service import ConversationService
from appliance.db.session import create_session_factory
from appliance.gateway.deps import CurrentPrincipal, State
from appliance.gateway.edge.audited_change import AuditedChange
from appliance.gateway.edge.caller import Caller
from appliance.gateway.state import AuditSink


@dataclass(frozen=True, slots=True)
class ConversationContext:
    caller: Caller
    owner: str
    conversations: ConversationService
    audit: AuditSink
    # The site named in the labels of exported files (setting ``labels.content_producer``).
    content_producer: str


async def conversation_context(
    request: Request, principal: CurrentPrincipal, state: State
) -> ConversationContext:
    return ConversationContext(
        caller=Caller.of(request, principal),
        owner=principal.subject,
        conversations=ConversationService(create_session_factory(state.engine)),
        audit=state.audit,
        content_producer=state.settings.labels.content_producer,
    )


CurrentConversations = Annotated[ConversationContext, Depends(conversation_context)]


@asynccontextmanager
async def _changed(
    ctx: ConversationContext,
    action: str,
    *,
    conversation_id: uuid.UUID | None = None,
    status: int = 200,
    **detail: object,
) -> AsyncIterator[AuditedChange]:
    """Audit one change whose intent is committed first: the outcome (ok, denied or error)
    is recorded after it, or 503 and nothing else when the intent cannot be stored."""
    change = AuditedChange.of(
        ctx.caller, ctx.audit, EventType.CONVERSATION_ACTION, action, status=status, **detail
    )
    if conversation_id is not None:
        change.detail["conversation_id"] = str(conversation_id)
    await change.begin()
    async with change.recording():
        yield change


async def list_conversations(ctx: ConversationContext) -> list[ConversationOut]:
    return await ctx.conversations.listing(ctx.owner)


async def get_conversation(
    ctx: ConversationContext, conversation_id: uuid.UUID
) -> ConversationDetail:
    return await ctx.conversations.get(ctx.owner, conversation_id)


async def create_conversation(ctx: ConversationContext, title: str) -> ConversationOut:
    async with _changed(ctx, "conversation.create", status=201) as change:
        created = await ctx.conversations.create(ctx.owner, title)
        change.event.detail["conversation_id"] = str(created.id)
    return created


async def rename_conversation(
    ctx: ConversationContext, conversation_id: uuid.UUID, title: str
) -> ConversationOut:
    async with _changed(ctx, "conversation.rename", conversation_id=conversation_id):
        return await ctx.conversations.rename(ctx.owner, conversation_id, title)


async def delete_conversation(ctx: ConversationContext, conversation_id: uuid.UUID) -> None:
    async with _changed(ctx, "conversation.delete", conversation_id=conversation_id, status=204):
        await ctx.conversations.delete(ctx.owner, conversation_id)


async def append_message(
    ctx: ConversationContext, conversation_id: uuid.UUID, message: NewMessage
) -> MessageOut:
    async with _changed(
        ctx, "message.append", conversation_id=conversation_id, status=201, role=message.role
    ) as change:
        added = await ctx.conversations.append(ctx.owner, conversation_id, message)
        change.event.detail["position"] = added.position
    return added


async def drop_last_answer(ctx: ConversationContext, conversation_id: uuid.UUID) -> None:
    async with _changed(
        ctx, "message.drop_last_answer", conversation_id=conversation_id, status=204
    ) as change:
        change.event.detail["dropped"] = await ctx.conversations.drop_last_answer(
            ctx.owner, conversation_id
        )

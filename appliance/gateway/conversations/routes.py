"""Conversations under ``/api/conversations``: parse the request, call :mod:`.serving`.

Every route is the caller's own (404 for anyone else's id); what each change audits is in
:mod:`appliance.gateway.conversations.serving`.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from appliance.conversations.schemas import (
    ConversationDetail,
    ConversationList,
    ConversationOut,
    MessageOut,
    NewConversation,
    NewMessage,
    Rename,
)
from appliance.gateway.conversations import serving
from appliance.gateway.conversations.export import (
    MEDIA_TYPES,
    ExportFormat,
    Lang,
    export_conversation,
)
from appliance.gateway.conversations.serving import CurrentConversations
from appliance.gateway.edge.openapi import AUTHENTICATED, errors

router = APIRouter(prefix="/api/conversations", tags=["conversations"])
# Ids are matched as UUIDs in the paths: one that is not a UUID names nothing (404). A body
# that is not JSON at all is 400, one that does not fit its model 422.


@router.get("", responses=errors(*AUTHENTICATED))
async def list_conversations(ctx: CurrentConversations) -> ConversationList:
    """The caller's conversations, most recently used first."""
    return ConversationList(conversations=await serving.list_conversations(ctx))


@router.post("", status_code=201, responses=errors(*AUTHENTICATED, 400, 422))
async def create_conversation(body: NewConversation, ctx: CurrentConversations) -> ConversationOut:
    return await serving.create_conversation(ctx, body.title)


@router.get("/{conversation_id:uuid}", responses=errors(*AUTHENTICATED, 404))
async def get_conversation(
    conversation_id: uuid.UUID, ctx: CurrentConversations
) -> ConversationDetail:
    """The conversation with its messages in order."""
    return await serving.get_conversation(ctx, conversation_id)


@router.get(
    "/{conversation_id:uuid}/export",
    response_class=Response,
    responses={
        200: {"content": {media.split(";")[0]: {} for media, _ in MEDIA_TYPES.values()}},
        **errors(*AUTHENTICATED, 404, 422),
    },
)
async def export_conversation_file(
    conversation_id: uuid.UUID,
    ctx: CurrentConversations,
    fmt: Annotated[ExportFormat, Query(alias="format")] = "markdown",
    lang: Lang = "zh",
) -> Response:
    """The conversation as a Markdown, DOCX, PDF or JSON file carrying the GB 45438 labels;
    ``lang=en`` writes its headings in English and adds English to the explicit label."""
    conversation = await serving.get_conversation(ctx, conversation_id)
    exported = export_conversation(conversation, fmt, lang, ctx.content_producer)
    return Response(
        exported.content,
        media_type=exported.media_type,
        headers={"Content-Disposition": f'attachment; filename="{exported.filename}"'},
    )


@router.patch("/{conversation_id:uuid}", responses=errors(*AUTHENTICATED, 400, 404, 422))
async def rename_conversation(
    conversation_id: uuid.UUID, body: Rename, ctx: CurrentConversations
) -> ConversationOut:
    return await serving.rename_conversation(ctx, conversation_id, body.title)


@router.delete("/{conversation_id:uuid}", status_code=204, responses=errors(*AUTHENTICATED, 404))
async def delete_conversation(conversation_id: uuid.UUID, ctx: CurrentConversations) -> Response:
    await serving.delete_conversation(ctx, conversation_id)
    return Response(status_code=204)


@router.post(
    "/{conversation_id:uuid}/messages",
    status_code=201,
    responses=errors(*AUTHENTICATED, 400, 404, 422),
)
async def append_message(
    conversation_id: uuid.UUID, body: NewMessage, ctx: CurrentConversations
) -> MessageOut:
    """File a question or an answer after the conversation's last message."""
    return await serving.append_message(ctx, conversation_id, body)


@router.delete(
    "/{conversation_id:uuid}/last-answer",
    status_code=204,
    responses=errors(*AUTHENTICATED, 404),
)
async def drop_last_answer(conversation_id: uuid.UUID, ctx: CurrentConversations) -> Response:
    """Remove the trailing answer, if the last message is one, before it is generated again."""
    await serving.drop_last_answer(ctx, conversation_id)
    return Response(status_code=204)

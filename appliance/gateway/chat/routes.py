"""The OpenAI-compatible chat surface: model listing and chat completions (staff only)."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict
from starlette.responses import Response

from appliance.apikeys.policy import cards_in_scope
from appliance.gateway.chat.context import CurrentChat
from appliance.gateway.chat.protocol import ChatCompletionBody
from appliance.gateway.chat.serving import parse_chat_request, start_chat
from appliance.gateway.deps import CurrentPrincipal, State, require_model_in_scope
from appliance.gateway.edge.body import read_body
from appliance.gateway.edge.openapi import AUTHENTICATED, errors, json_body
from appliance.settings import ThinkingMode

router = APIRouter(prefix="/v1", tags=["openai"])


class Model(BaseModel):
    """vLLM's model card, with the gateway's ``thinking`` mode: ``always`` (it always
    reasons), ``template`` (a chat's ``thinking`` switches it) or ``none``."""

    model_config = ConfigDict(extra="allow")

    id: str
    object: str
    thinking: ThinkingMode


class ModelList(BaseModel):
    object: str
    data: list[Model]


class ChatCompletion(BaseModel):
    """vLLM's answer as relayed (plus ``citations`` for a ``rag`` chat); not re-validated."""

    model_config = ConfigDict(extra="allow")

    id: str
    object: str
    choices: list[dict[str, Any]]


# One server-sent event: ``data`` holds a chunk as JSON, or ``[DONE]``; errors mid-stream
# arrive as ``event: error``.
_SSE_EVENT = {
    "type": "object",
    "properties": {"data": {"type": "string"}, "event": {"type": "string"}},
    "required": ["data"],
}
_SSE = {"text/event-stream": {"schema": _SSE_EVENT}}


@router.get("/models", response_model=ModelList, responses=errors(*AUTHENTICATED))
async def list_models(state: State, principal: CurrentPrincipal) -> Response:
    """Models served by the healthy backends, in OpenAI's list shape; with an API key
    limited to some models, those alone."""
    cards = cards_in_scope(state.pool.models(), principal.extra.get("model_scope"))
    return Response(
        orjson.dumps({"object": "list", "data": cards}),
        media_type="application/json",
    )


@router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    responses={
        200: {"description": "The completion, or its SSE stream with ``stream``.", "content": _SSE},
        **errors(*AUTHENTICATED, 400, 403, 404, 413, 429, 502),
    },
    openapi_extra=json_body(ChatCompletionBody),
)
async def chat_completions(request: Request, chat: CurrentChat) -> Response:
    """Stream or return a completion; the body is read and validated by the service."""
    # (That docstring is the operation's description in the OpenAPI document.) The body is
    # read within its size limit and checked before anything is admitted.
    body = await read_body(request, chat.limits.max_body_bytes)
    payload, parsed = parse_chat_request(body, chat.limits)
    require_model_in_scope(request, chat.principal, parsed.model)
    return await start_chat(payload, parsed, chat)

"""The OpenAI-compatible surface: model listing and chat completions."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from appliance.gateway.deps import CurrentPrincipal, StaffPrincipal, State, get_state
from appliance.gateway.serving_chat import start_chat

router = APIRouter(prefix="/v1", tags=["openai"])


@router.get("/models")
async def list_models(state: State, _principal: CurrentPrincipal) -> Response:
    """Models served by the healthy backends, in OpenAI's list shape."""
    return Response(
        orjson.dumps({"object": "list", "data": state.pool.models()}),
        media_type="application/json",
    )


@router.post("/chat/completions")
async def chat_completions(request: Request, principal: StaffPrincipal) -> Response:
    """Stream or return a completion; the body is read and validated by the service."""
    return await start_chat(request, principal, get_state(request))

"""Wire models of the chat completion route (``POST /v1/chat/completions``).

The chat request model checks only the fields the gateway itself acts on (model, messages,
stream, token limits, the ``thinking`` switch); everything else is forwarded to vLLM
untouched, which validates the rest in its own OpenAI-compatible way. Validation is strict
(no "1" for 1, no 1 for true), like OpenAI's API. Upstream chunks are never validated here:
they are passed through as bytes, and only parsed with orjson where the gateway must read or
add a field."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from appliance.settings import LimitSettings


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)

    role: str
    content: str | list[dict[str, Any]] | None = None


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)

    include_usage: bool | None = None


class ChatTemplateKwargs(BaseModel):
    """vLLM's ``chat_template_kwargs``: only ``thinking`` is the gateway's to check; the
    rest goes to the chat template as sent."""

    model_config = ConfigDict(extra="allow", strict=True)

    thinking: bool | None = None


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)

    model: str = Field(min_length=1)
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    # Deep thinking on or off for this request (the OpenAI SDK's extra_body puts it here);
    # what it does depends on the model's thinking mode (``gateway.chat.thinking``).
    thinking: bool | None = None
    chat_template_kwargs: ChatTemplateKwargs | None = None


class RagOptions(BaseModel):
    """The ``rag`` object of a chat request."""

    model_config = ConfigDict(extra="forbid")

    kb_ids: list[uuid.UUID] | None = Field(default=None, min_length=1, max_length=50)
    top_k: int | None = Field(default=None, ge=1, le=50)


class ChatCompletionBody(ChatCompletionRequest):
    """OpenAI's chat request; fields not named here are forwarded to vLLM as they are."""

    rag: RagOptions | None = None


def document_chat_limits(schemas: dict[str, Any], limits: LimitSettings) -> None:
    """The configured caps the chat route enforces, so the OpenAPI document states them too.

    :class:`ChatCompletionBody` documents the body the route reads itself (see
    :func:`~appliance.gateway.edge.openapi.json_body`), so its caps are set here.
    """
    properties = schemas["ChatCompletionBody"]["properties"]
    properties["messages"]["maxItems"] = limits.max_messages
    for name in ("max_tokens", "max_completion_tokens"):
        for option in properties[name].get("anyOf", [properties[name]]):
            if option.get("type") == "integer":
                option["maximum"] = limits.max_tokens_cap

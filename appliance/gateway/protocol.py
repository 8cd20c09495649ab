"""Wire models of the gateway's HTTP surface.

The chat request model checks only the fields the gateway itself acts on (model, messages,
stream, token limits); everything else is forwarded to vLLM untouched, which validates the
rest in its own OpenAI-compatible way. Validation is strict (no "1" for 1, no 1 for true),
like OpenAI's API. Upstream chunks are never validated here: they are passed through as
bytes, and only parsed with orjson where the gateway must read or add a field.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from appliance.errors import InvalidRequest


class InvalidParam(InvalidRequest):
    """400 that names the offending request field in OpenAI's ``param``."""

    def __init__(self, message: str, *, param: str | None, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.param = param


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)

    role: str
    content: str | list[dict[str, Any]] | None = None


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)

    include_usage: bool | None = None


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)

    model: str = Field(min_length=1)
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)


class MeResponse(BaseModel):
    subject: str
    username: str
    email: str
    roles: list[str]
    groups: list[str]
    departments: list[str]
    daily_token_quota: int
    remaining_daily_tokens: int
    concurrency_limit: int


class BackendStatus(BaseModel):
    url: str
    healthy: bool
    in_flight: int
    last_error: str | None
    last_check_at: float | None
    models: list[str]
    queued: int | None = None
    running: int | None = None


class BackendsResponse(BaseModel):
    backends: list[BackendStatus]
    per_backend_inflight_cap: int

"""Admitting a chat completion: everything that happens before a byte goes upstream.

The order is the policy: read the body within its size limit, validate it, check the
model exists, take the user's concurrency slot and check their daily quota, retrieve from
the knowledge bases when the request asks for ``rag`` (:mod:`appliance.gateway.serving_rag`),
reserve a backend slot, then durably commit ``chat.begin`` with the retrieved ids. Only a
request that passed all of it is forwarded (by :mod:`appliance.gateway.relay`); if the
audit store cannot take the begin event, the caller gets 503 and the backend never hears
of the request (fail-closed).
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from pydantic import ValidationError
from starlette.requests import ClientDisconnect, Request

from appliance.audit.events import EventType, Outcome
from appliance.auth.principal import Principal
from appliance.errors import ClientClosedRequest, NotFound, PayloadTooLarge, RateLimited
from appliance.gateway.auditing import request_event
from appliance.gateway.protocol import ChatCompletionRequest, InvalidParam
from appliance.gateway.relay import ChatExchange, RelayResponse
from appliance.gateway.serving_rag import Grounding, ground
from appliance.gateway.shedding import handed_to_backend
from appliance.gateway.sse import AnswerCapture
from appliance.gateway.state import GatewayState
from appliance.settings import LimitSettings


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The request body, refused with 413 as soon as it is known to exceed the limit.

    Content-Length is checked first; the streamed count catches chunked uploads and
    clients that understate the length.
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge(f"The request body exceeds the limit of {max_bytes} bytes.")
    parts: list[bytes] = []
    size = 0
    try:
        async for part in request.stream():
            size += len(part)
            if size > max_bytes:
                raise PayloadTooLarge(f"The request body exceeds the limit of {max_bytes} bytes.")
            parts.append(part)
    except ClientDisconnect as exc:
        # Nothing was admitted yet: no slot to release, nothing sent upstream.
        raise ClientClosedRequest("The client closed the connection before its request.") from exc
    return b"".join(parts)


def parse_chat_request(
    body: bytes, limits: LimitSettings
) -> tuple[dict[str, Any], ChatCompletionRequest]:
    """Check the body against the gateway's rules; return it as a dict and as a model."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidParam(
            f"The request body is not valid JSON: {exc.msg}.", param=None, code="invalid_json"
        ) from exc
    if not isinstance(payload, dict):
        raise InvalidParam("The request body must be a JSON object.", param=None)
    try:
        parsed = ChatCompletionRequest.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        param = ".".join(str(part) for part in first["loc"]) or None
        raise InvalidParam(f"Invalid value for '{param}': {first['msg']}.", param=param) from exc
    if len(parsed.messages) > limits.max_messages:
        raise InvalidParam(
            f"At most {limits.max_messages} messages are allowed per request.", param="messages"
        )
    for name in ("max_tokens", "max_completion_tokens"):
        value = getattr(parsed, name)
        if value is not None and value > limits.max_tokens_cap:
            raise InvalidParam(
                f"'{name}' may be at most {limits.max_tokens_cap}.", param=name, code="too_large"
            )
    return payload, parsed


def prompt_text(parsed: ChatCompletionRequest) -> str:
    """The conversation as the audit log keeps it: one ``role: text`` line per message."""
    lines: list[str] = []
    for message in parsed.messages:
        content = message.content
        if isinstance(content, list):
            content = " ".join(str(part.get("text", "")) for part in content)
        lines.append(f"{message.role}: {content or ''}")
    return "\n".join(lines)


def upstream_payload(
    payload: dict[str, Any], parsed: ChatCompletionRequest, limits: LimitSettings
) -> tuple[bytes, bool]:
    """The body vLLM gets, and whether the gateway must strip a usage chunk it asked for.

    Streams always request usage so token counts are exact; requests without a token
    limit get the configured default, so no one request can run to the context length.
    """
    strip_usage = False
    if parsed.stream:
        options = payload.get("stream_options")
        if not (isinstance(options, dict) and options.get("include_usage")):
            payload["stream_options"] = {**(options or {}), "include_usage": True}
            strip_usage = True
    if parsed.max_tokens is None and parsed.max_completion_tokens is None:
        payload["max_tokens"] = limits.default_max_tokens
    return orjson.dumps(payload), strip_usage


async def _ground(
    request: Request,
    principal: Principal,
    state: GatewayState,
    payload: dict[str, Any],
    parsed: ChatCompletionRequest,
) -> Grounding | None:
    """Retrieval for a ``rag`` chat; a knowledge base the caller may not read is audited as
    a denied access and answered 404, and the model never sees the request."""
    try:
        return await ground(state.knowledge, principal, payload, parsed)
    except NotFound:
        state.audit.submit(
            request_event(
                request,
                EventType.ACCESS_DENIED,
                Outcome.DENIED,
                principal=principal,
                http_status=404,
                model=parsed.model,
                detail={"reason": "kb_not_found", "path": request.url.path},
            )
        )
        raise


async def start_chat(request: Request, principal: Principal, state: GatewayState) -> RelayResponse:
    """Admit one chat completion and return the response that will forward it."""
    limits = state.settings.limits
    body = await read_body(request, limits.max_body_bytes)
    payload, parsed = parse_chat_request(body, limits)
    state.pool.ensure_known(parsed.model)
    try:
        await state.admission.admit(principal.subject)
    except RateLimited as exc:
        state.audit.submit(
            request_event(
                request,
                EventType.RATE_LIMITED,
                Outcome.RATE_LIMITED,
                principal=principal,
                http_status=429,
                model=parsed.model,
                detail={"reason": exc.code},
            )
        )
        raise
    backend = None
    try:
        grounding = await _ground(request, principal, state, payload, parsed)
        backend = state.pool.acquire(parsed.model)
        forwarded, strip_usage = upstream_payload(payload, parsed, limits)
        begin = request_event(
            request,
            EventType.CHAT_BEGIN,
            Outcome.PENDING,
            principal=principal,
            model=parsed.model,
            backend=backend.url,
            prompt=prompt_text(parsed),
            document_ids=grounding.document_ids if grounding else [],
            chunk_ids=grounding.chunk_ids if grounding else [],
            detail={
                "stream": bool(parsed.stream),
                "messages": len(parsed.messages),
                "rag": grounding is not None,
            },
        )
        await state.audit.commit(begin)
        handed_to_backend(request)
    except BaseException:
        if backend is not None:
            state.pool.release(backend)
        state.admission.release(principal.subject, 0)
        raise
    return RelayResponse(
        ChatExchange(
            state=state,
            event=begin,
            subject=principal.subject,
            model=parsed.model,
            payload=forwarded,
            stream=bool(parsed.stream),
            backend=backend,
            started_at=getattr(request.state, "started_at", time.perf_counter()),
            capture=AnswerCapture(
                strip_usage=strip_usage,
                citations=grounding.citations() if grounding else None,
            ),
        )
    )

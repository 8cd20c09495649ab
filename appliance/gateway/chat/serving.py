"""Admitting a chat completion: everything that happens before a byte goes upstream.

The order is the policy: the route reads the body within its size limit and
:func:`parse_chat_request` validates it; :func:`start_chat` then checks the model exists and
maps the request's deep-thinking switch onto it (:mod:`appliance.gateway.chat.thinking`;
``chat.begin`` records the outcome), takes the user's concurrency slot and checks their
daily quota, retrieves from the knowledge bases when the request asks for ``rag``
(:mod:`appliance.gateway.chat.grounding`), reserves a replica slot, then durably commits
``chat.begin`` with the retrieved ids. Only a request that passed all of it is forwarded (by
:mod:`appliance.gateway.chat.relay`); if the audit store cannot take the begin event, the
caller gets 503 and the replica never hears of the request (fail-closed).

Before all of it the messages are held to the keyword library
(:mod:`appliance.gateway.chat.screening`): a blocked prompt is refused with 400
``content_blocked`` and takes no slot; the retrieved passages and the answer are filtered
on their way. A library that cannot be read refuses the chat (503): the gateway does not
answer unfiltered. Personal information in the prompt and the retrieved passages is then
masked where the caller's roles ask for it, and the kinds and counts masked are recorded in
``chat.begin``.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from functools import partial
from typing import Any

import orjson
from sqlalchemy.exc import SQLAlchemyError

from appliance.audit.events import EventType, Outcome
from appliance.errors import ContentBlocked, NotFound, RateLimited, ServiceUnavailable
from appliance.gateway.chat.context import ChatContext
from appliance.gateway.chat.grounding import Grounding, ground
from appliance.gateway.chat.protocol import ChatCompletionRequest
from appliance.gateway.chat.relay import ChatExchange, RelayResponse
from appliance.gateway.chat.screening import (
    BLOCKED_PROMPT,
    Screening,
    Source,
    mask_passage,
    mask_personal,
    pii_policy,
    screen_messages,
    screen_passage,
)
from appliance.gateway.chat.sse import AnswerCapture
from appliance.gateway.chat.thinking import apply_thinking
from appliance.gateway.edge.body import validate
from appliance.gateway.edge.errors import InvalidParam
from appliance.rag.schemas import SearchHit
from appliance.settings import ChatPiiPolicy, LimitSettings

log = logging.getLogger("appliance.gateway.chat")


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
    parsed = validate(ChatCompletionRequest, payload)
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


async def screen_prompt(ctx: ChatContext, payload: dict[str, Any], model: str) -> Screening | None:
    """Hold the messages to the keyword library (None: the library is empty): masks in
    ``payload``; a block is counted, audited and refused before anything else happens."""
    try:
        matcher = await ctx.keywords.matcher()
    except (SQLAlchemyError, OSError) as exc:
        log.error("keyword library unreadable: %s", exc)
        raise ServiceUnavailable(
            "The content filter's keyword library cannot be read; try again shortly.",
            code="content_filter_unavailable",
        ) from exc
    if matcher is None:
        return None
    screening = Screening(matcher, audit_matched_text=ctx.content.audit_matched_text)
    screen_messages(screening, payload["messages"])
    if screening.blocked is not None:
        screening.count(ctx.metrics)
        event = screening.blocked_event(ctx.caller, screening.blocked, status=400, model=model)
        ctx.audit.submit(event)
        raise ContentBlocked(BLOCKED_PROMPT)
    return screening


def _passage_filter(
    screening: Screening | None, personal: Counter[str] | None
) -> Callable[[SearchHit], SearchHit | None] | None:
    """Each retrieved passage held to the keyword library (if any), then masked of personal
    information (``personal`` counts it; None: the caller's roles allow it)."""
    steps: list[Callable[[SearchHit], SearchHit | None]] = []
    if screening is not None:
        steps.append(partial(screen_passage, screening))
    if personal is not None:
        steps.append(partial(mask_passage, personal))
    if not steps:
        return None

    def passage(hit: SearchHit) -> SearchHit | None:
        kept: SearchHit | None = hit
        for step in steps:
            if kept is None:
                break
            kept = step(kept)
        return kept

    return passage


async def _ground(
    ctx: ChatContext,
    payload: dict[str, Any],
    parsed: ChatCompletionRequest,
    passages: Callable[[SearchHit], SearchHit | None] | None,
) -> Grounding | None:
    """Retrieval for a ``rag`` chat; a knowledge base the caller may not read is audited as
    a denied access and answered 404, and the model never sees the request."""
    try:
        return await ground(ctx.knowledge, ctx.principal, payload, passages)
    except NotFound:
        ctx.audit.submit(
            ctx.caller.event(
                EventType.ACCESS_DENIED,
                Outcome.DENIED,
                http_status=404,
                model=parsed.model,
                detail={"reason": "kb_not_found", "path": ctx.caller.path},
            )
        )
        raise


async def start_chat(
    payload: dict[str, Any], parsed: ChatCompletionRequest, ctx: ChatContext
) -> RelayResponse:
    """Admit one parsed chat completion and return the response that will forward it."""
    limits = ctx.limits
    subject = ctx.principal.subject
    ctx.pool.ensure_known(parsed.model)
    mode = ctx.pool.thinking(parsed.model)
    thinking = apply_thinking(payload, parsed, mode)
    screening = await screen_prompt(ctx, payload, parsed.model)
    masking = pii_policy(ctx.content, ctx.principal.roles) is ChatPiiPolicy.MASK
    personal = mask_personal(payload["messages"]) if masking else {}
    in_passages: Counter[str] | None = Counter() if masking else None
    try:
        await ctx.admission.admit(subject)
    except RateLimited as exc:
        ctx.audit.submit(
            ctx.caller.event(
                EventType.RATE_LIMITED,
                Outcome.RATE_LIMITED,
                http_status=429,
                model=parsed.model,
                detail={"reason": exc.code},
            )
        )
        raise
    replica = None
    try:
        passages = _passage_filter(screening, in_passages)
        grounding = await _ground(ctx, payload, parsed, passages)
        replica = ctx.pool.acquire(parsed.model)
        forwarded, strip_usage = upstream_payload(payload, parsed, limits)
        begin = ctx.caller.event(
            EventType.CHAT_BEGIN,
            Outcome.PENDING,
            model=parsed.model,
            backend=replica.url,
            prompt=prompt_text(parsed),
            document_ids=grounding.document_ids if grounding else [],
            chunk_ids=grounding.chunk_ids if grounding else [],
            detail={
                "stream": bool(parsed.stream),
                "messages": len(parsed.messages),
                "rag": grounding is not None,
                "thinking": thinking,
                "thinking_mode": mode.value,
            },
        )
        if grounding is not None and grounding.grade is not None:
            begin.detail["grade"] = grounding.grade
        if personal:
            begin.detail["pii_masked"] = personal
        if in_passages:
            begin.detail["pii_masked_passages"] = dict(sorted(in_passages.items()))
        if screening is not None:
            screening.count(ctx.metrics)
            hits = screening.records(Source.PROMPT, Source.PASSAGE)
            if hits:
                begin.detail["content_hits"] = hits
        await ctx.audit.commit(begin)
        ctx.handed_to_backend()
    except BaseException:
        if replica is not None:
            ctx.pool.release(replica)
        ctx.admission.release(subject, 0)
        raise
    return RelayResponse(
        ChatExchange(
            ctx=ctx,
            event=begin,
            subject=subject,
            model=parsed.model,
            payload=forwarded,
            stream=bool(parsed.stream),
            replica=replica,
            started_at=ctx.caller.started_at,
            capture=AnswerCapture(
                strip_usage=strip_usage,
                citations=grounding.citations() if grounding else None,
                grade=grounding.grade if grounding else None,
                screening=screening,
            ),
        )
    )

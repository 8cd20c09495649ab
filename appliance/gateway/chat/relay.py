"""Forwarding one admitted chat completion to vLLM and relaying the answer.

:class:`ChatExchange` owns everything a chat holds while it runs: the reserved backend
slot, the user's concurrency slot, the upstream response. :class:`RelayResponse` drives it
as an ASGI response while watching for the client to disconnect, and, however the exchange
ends (done, client gone, backend died, bug), releases all of it exactly once, closing the
upstream response so vLLM stops generating, and records ``chat.end`` with the outcome.

Failover happens only before the first byte reaches the client: a connection failure or a
5xx status moves the request to another healthy backend. After that, a backend that dies
mid-stream ends the stream with an SSE error event and ``[DONE]``, so clients see a clean
error rather than a truncated body.

A reply the content filter blocks (:mod:`~appliance.gateway.chat.screening`) is read no
further: the upstream response is closed, so vLLM stops generating, ``chat.end`` records
outcome ``denied`` with error ``content_blocked``, and a ``content.blocked`` row names the
rule.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import aiohttp
import anyio
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from appliance.audit.events import AuditEvent, EventType, Outcome
from appliance.errors import ApplianceError, NotFound, ServiceUnavailable, UpstreamError
from appliance.gateway.chat.context import ChatContext
from appliance.gateway.chat.screening import BLOCKED_CODE, Source
from appliance.gateway.chat.sse import AnswerCapture, sse_event
from appliance.gateway.edge.errors import error_body
from appliance.gateway.replicas.pool import Replica

log = logging.getLogger("appliance.gateway.relay")

_SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]
_JSON = b"application/json"


@dataclass(slots=True)
class ChatExchange:
    ctx: ChatContext
    event: AuditEvent  # the begin event; the end event copies its identity fields
    subject: str
    model: str
    payload: bytes
    stream: bool
    replica: Replica
    started_at: float
    capture: AnswerCapture
    outcome: Outcome = Outcome.ERROR
    status: int = 502
    ttft_s: float | None = None
    error: str | None = None
    failed_over_from: list[str] = field(default_factory=list)
    upstream: aiohttp.ClientResponse | None = None
    response_started: bool = False
    client_gone: bool = False
    completed: bool = False

    async def _open(self) -> aiohttp.ClientResponse | ApplianceError:
        """Send the request, failing over on connection errors and 5xx before any byte."""
        tried: set[Replica] = set()
        client = self.ctx.client
        headers = {"content-type": "application/json", "x-request-id": self.event.request_id}
        while True:
            tried.add(self.replica)
            try:
                response = await client.post(
                    self.replica.chat_url, data=self.payload, headers=headers
                )
            except aiohttp.SocketTimeoutError:
                return UpstreamError("The backend did not answer in time.", code="upstream_timeout")
            except aiohttp.ClientError as exc:
                self.error = f"{type(exc).__name__}: {exc}"
                if isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError):
                    self.ctx.pool.mark_failed(self.replica, self.error)
            else:
                if response.status < 500:
                    return response
                try:
                    body = await response.read()
                except (aiohttp.ClientError, TimeoutError):
                    body = b""
                finally:
                    response.release()
                self.error = f"backend answered {response.status}: {body[:200]!r}"
            try:
                following = self.ctx.pool.acquire(self.model, frozenset(tried))
            except (ServiceUnavailable, NotFound):
                return UpstreamError("No backend could serve the request.", code="upstream_failed")
            self.failed_over_from.append(self.replica.url)
            self.ctx.pool.release(self.replica)
            self.replica = following

    async def run(self, send: Send) -> None:
        opened = await self._open()
        if isinstance(opened, ApplianceError):
            await self._send_error(send, opened)
            return
        self.upstream = opened
        self.status = opened.status
        if self.stream and opened.status == 200:
            await self._relay_stream(opened, send)
        else:
            await self._relay_whole(opened, send)

    async def _relay_whole(self, upstream: aiohttp.ClientResponse, send: Send) -> None:
        try:
            body = await upstream.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.error = f"backend answer broke: {type(exc).__name__}: {exc}"
            await self._send_error(
                send, UpstreamError("The model backend stopped before the answer finished.")
            )
            self.outcome = Outcome.UPSTREAM_ABORTED
            return
        if upstream.status == 200:
            body = self.capture.message_body(body)
            self.outcome = Outcome.OK
            if self.capture.blocked:
                self.outcome, self.error = Outcome.DENIED, BLOCKED_CODE
        else:
            self.error = f"backend answered {upstream.status}: {body[:200]!r}"
        content_type = upstream.headers.get("content-type", "application/json").encode()
        await send(
            {
                "type": "http.response.start",
                "status": upstream.status,
                "headers": [(b"content-type", content_type or _JSON)],
            }
        )
        self.response_started = True
        await send({"type": "http.response.body", "body": body})
        self.completed = True

    async def _relay_stream(self, upstream: aiohttp.ClientResponse, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": _SSE_HEADERS})
        self.response_started = True
        capture = self.capture
        try:
            async for raw in upstream.content.iter_any():
                out = capture.feed(raw)
                if self.ttft_s is None and capture.text_chunks:
                    self.ttft_s = time.perf_counter() - self.started_at
                if out:
                    await send({"type": "http.response.body", "body": out, "more_body": True})
                if capture.blocked:
                    break
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.error = f"backend stream broke: {type(exc).__name__}: {exc}"
        if capture.blocked:
            self.outcome, self.error = Outcome.DENIED, BLOCKED_CODE
            tail = b""
        elif capture.done and capture.error is None:
            self.outcome = Outcome.OK
            tail = b""
        elif capture.error is not None:
            self.error = str(capture.error)
            tail = b"" if capture.done else sse_event(b"[DONE]")
        else:
            self.outcome = Outcome.UPSTREAM_ABORTED
            self.error = self.error or "backend closed the stream before it finished"
            tail = sse_event(
                {
                    "error": {
                        "message": "The model backend stopped before the answer finished.",
                        "type": "server_error",
                        "code": "upstream_aborted",
                        "param": None,
                    }
                }
            ) + sse_event(b"[DONE]")
        await send({"type": "http.response.body", "body": tail, "more_body": False})
        self.completed = True

    async def _send_error(self, send: Send, error: ApplianceError) -> None:
        self.status = error.status_code
        self.response_started = True
        await send(
            {
                "type": "http.response.start",
                "status": error.status_code,
                "headers": [(b"content-type", _JSON)]
                + [(k.lower().encode(), v.encode()) for k, v in error.headers.items()],
            }
        )
        await send(
            {
                "type": "http.response.body",
                "body": error_body(error.message, error.error_type, error.code),
            }
        )
        self.completed = True

    async def fail_internal(self, send: Send) -> None:
        """After an unexpected error: tell the client, if the response has not started."""
        self.outcome = Outcome.ERROR
        if not self.response_started:
            error = ApplianceError(
                f"Internal error; quote request id {self.event.request_id} to the operator."
            )
            await self._send_error(send, error)

    def _record_screening(self, detail: dict[str, object]) -> None:
        """Count the reply's keyword hits, list them in ``chat.end``, audit a block."""
        screening = self.capture.screening
        if screening is None:
            return
        screening.count(self.ctx.metrics)
        hits = screening.records(Source.REASONING, Source.ANSWER)
        if hits:
            detail["content_hits"] = hits
        if screening.blocked is not None:
            self.ctx.audit.submit(
                screening.blocked_event(
                    self.ctx.caller, screening.blocked, status=self.status, model=self.model
                )
            )

    async def finish(self) -> None:
        """Release everything and record the end of the chat; runs exactly once, shielded.

        The bookkeeping is synchronous and comes first, so the user's next request never
        finds the slot or the token count of this one still pending.
        """
        if self.client_gone and not self.completed:
            # A client that hangs up as soon as it reads [DONE] (the openai client does) may
            # beat the relay's own end of the response: it still received the whole answer.
            answered = self.stream and self.capture.done and self.capture.error is None
            self.outcome = Outcome.OK if answered else Outcome.CLIENT_ABORTED
        ctx = self.ctx
        ctx.pool.release(self.replica)
        capture = self.capture
        ctx.admission.release(self.subject, capture.tokens_used)
        latency_s = time.perf_counter() - self.started_at
        completion = capture.completion_tokens
        if completion is None:
            completion = capture.text_chunks
        metrics = ctx.metrics
        metrics.chats.labels(self.outcome.value).inc()
        if capture.prompt_tokens:
            metrics.tokens.labels("prompt").inc(capture.prompt_tokens)
        if completion:
            metrics.tokens.labels("completion").inc(completion)
        if self.ttft_s is not None:
            metrics.ttft.observe(self.ttft_s)
        begin = self.event
        detail: dict[str, object] = {"stream": self.stream}
        if self.error:
            detail["error"] = self.error[:1000]
        if self.failed_over_from:
            detail["failed_over_from"] = self.failed_over_from
        self._record_screening(detail)
        ctx.audit.submit(
            AuditEvent(
                event_type=EventType.CHAT_END,
                outcome=self.outcome,
                request_id=begin.request_id,
                actor=begin.actor,
                client_ip=begin.client_ip,
                user_agent=begin.user_agent,
                http_status=self.status,
                model=self.model,
                backend=self.replica.url,
                prompt_tokens=capture.prompt_tokens,
                completion_tokens=completion,
                latency_ms=latency_s * 1000.0,
                ttft_ms=None if self.ttft_s is None else self.ttft_s * 1000.0,
                document_ids=begin.document_ids,
                chunk_ids=begin.chunk_ids,
                prompt=begin.prompt,
                reasoning="".join(capture.reasoning),
                response="".join(capture.answer),
                detail=detail,
            )
        )
        if self.upstream is not None:
            if self.completed and self.outcome is Outcome.OK:
                # Fully read: the connection goes back to the pool for the next request.
                self.upstream.release()
            else:
                # Closing the connection is what makes vLLM stop generating for a lost client.
                self.upstream.close()


class RelayResponse(Response):
    """An ASGI response that runs a :class:`ChatExchange` and aborts it on disconnect."""

    def __init__(self, exchange: ChatExchange) -> None:
        self.exchange = exchange
        self.background = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        exchange = self.exchange
        try:
            async with anyio.create_task_group() as tasks:

                async def watch_disconnect() -> None:
                    while (await receive())["type"] != "http.disconnect":
                        pass
                    if not exchange.completed:
                        exchange.client_gone = True
                    tasks.cancel_scope.cancel()

                tasks.start_soon(watch_disconnect)
                try:
                    await exchange.run(send)
                except OSError:
                    exchange.client_gone = True
                except Exception:
                    log.exception("chat relay failed for request %s", exchange.event.request_id)
                    await exchange.fail_internal(send)
                tasks.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                await exchange.finish()

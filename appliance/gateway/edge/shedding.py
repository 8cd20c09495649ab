"""Load shedding: a saturated worker refuses new work at once instead of queueing it.

Without it an overloaded worker keeps accepting requests until every one of them is late:
each still gets authenticated, parsed and audited, so the 503 that the backend cap would
give arrives after seconds, and memory grows with the queue. This check runs first, before
the token, the body or the database are touched, and costs a comparison or two:

- ``max_queued_per_worker``: requests this worker holds that have not been handed to a
  backend yet (being authenticated, parsed, retrieved for, waiting for their audit
  commit), i.e. the work queued in the gateway itself. A chat leaves this queue once its
  "begin" row is committed (:func:`handed_to_backend`): waiting for the model is not
  congestion of the gateway (a 30 s stream is normal), and the per-backend cap bounds it.
  By Little's law the bound is the queueing delay a new request can meet: 16 at the ~400
  requests/s one worker serves is about 40 ms. Measured at 3x capacity on two cores
  (ops/reliability/REPORT.md): 16 against 32 halved the refusals' p99 (121 against 264 ms)
  and the accepted requests' p99 (234 against 487 ms) for the same throughput.
- ``max_inflight_per_worker``: every request in progress, streams until their last byte.
  Bounds memory whatever the traffic.
- ``max_loop_lag_ms``: how late the worker's event loop runs, sampled every
  ``LAG_SAMPLE_S`` (two samples in a row). On a CPU-bound worker requests queue in the
  loop (and the kernel's accept queue) where no counter sees them; the loop's lateness is
  that queue's waiting time, so while it exceeds the bound new requests are refused and
  the queue drains.

Probes (``/healthz``, ``/readyz``) and ``/metrics`` are never shed: a supervisor must not
restart a worker for being busy, and an operator must be able to see why it is.

Audit: shed requests are refused before authentication, so there is no user to attribute
them to, and a durable row for each would cost the very write the worker has no time for
(and let an anonymous flood grow the audit log). Each worker instead records one
``system`` event per ``summary_interval_s`` in which it shed anything, with the count by
reason; the per-request count is in the ``appliance_load_shed`` metric. No shed request
ever reaches a backend, so the rule "every answer has a begin row" is untouched.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from appliance.audit.events import AuditEvent, EventType, Outcome
from appliance.gateway.edge.errors import error_body

log = logging.getLogger("appliance.gateway.shedding")

# Sampling period of the event-loop lag: short enough to react within a few batches.
LAG_SAMPLE_S = 0.02
EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
# Marks, in the request's scope state, a request still counted as queued in the gateway.
_QUEUED = "shedding.queued"
_BODY = error_body("The gateway is overloaded; retry shortly.", "server_error", "overloaded")
_HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", str(len(_BODY)).encode()),
    (b"retry-after", b"1"),
]


class LoadShedder:
    """The per-worker state: requests in progress, the loop's lag, what was shed."""

    def __init__(
        self,
        *,
        max_queued: int,
        max_inflight: int,
        max_loop_lag_ms: float,
        summary_interval_s: float = 10.0,
    ) -> None:
        self.max_queued = max_queued
        self.max_inflight = max_inflight
        self.max_loop_lag_s = max_loop_lag_ms / 1000
        self.summary_interval_s = summary_interval_s
        self.inflight = 0
        self.loop_lag_s = 0.0
        self.shed: Counter[str] = Counter()
        self._unreported: Counter[str] = Counter()
        self.queued = 0
        self._tasks: list[asyncio.Task[None]] = []

    def refusal(self) -> str | None:
        """Why a new request must be refused now, or None to admit it."""
        if self.max_inflight and self.inflight >= self.max_inflight:
            return "inflight"
        if self.max_queued and self.queued >= self.max_queued:
            return "queued"
        if self.max_loop_lag_s and self.loop_lag_s > self.max_loop_lag_s:
            return "loop_lag"
        return None

    def count(self, reason: str) -> None:
        self.shed[reason] += 1
        self._unreported[reason] += 1

    async def _sample_lag(self) -> None:
        """Keep the smaller of the last two samples: a standing queue shows in both, while
        one late wake-up (the process descheduled by a neighbour) sheds nothing."""
        previous = 0.0
        while True:
            before = time.perf_counter()
            await asyncio.sleep(LAG_SAMPLE_S)
            current = max(0.0, time.perf_counter() - before - LAG_SAMPLE_S)
            self.loop_lag_s = min(previous, current)
            previous = current

    async def _summarise(self, submit: Callable[[AuditEvent], None]) -> None:
        while True:
            await asyncio.sleep(self.summary_interval_s)
            self.flush(submit)

    def flush(self, submit: Callable[[AuditEvent], None]) -> None:
        """Audit what was shed since the last summary (nothing when nothing was)."""
        if not self._unreported:
            return
        by_reason = dict(self._unreported)
        self._unreported.clear()
        total = sum(by_reason.values())
        log.warning("shed %d requests under overload: %s", total, by_reason)
        submit(
            AuditEvent(
                event_type=EventType.SYSTEM,
                outcome=Outcome.DENIED,
                request_id=uuid.uuid4().hex,
                http_status=503,
                detail={
                    "reason": "load_shed",
                    "shed": total,
                    "by_reason": by_reason,
                    "window_s": self.summary_interval_s,
                },
            )
        )

    def start(self, submit: Callable[[AuditEvent], None]) -> None:
        """Start the lag sampler and the audit summaries (from the app's lifespan)."""
        self._tasks = [
            asyncio.create_task(self._sample_lag()),
            asyncio.create_task(self._summarise(submit)),
        ]

    async def stop(self, submit: Callable[[AuditEvent], None]) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        self.flush(submit)


class LoadSheddingMiddleware:
    """Raw ASGI: the refusal is written without routing, authentication or body parsing."""

    def __init__(self, app: ASGIApp, shedder: LoadShedder, on_shed: Callable[[str], None]) -> None:
        self.app = app
        self.shedder = shedder
        self.on_shed = on_shed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        shedder = self.shedder
        reason = shedder.refusal()
        if reason is not None:
            shedder.count(reason)
            self.on_shed(reason)
            await send({"type": "http.response.start", "status": 503, "headers": _HEADERS})
            await send({"type": "http.response.body", "body": _BODY})
            return
        shedder.inflight += 1
        shedder.queued += 1
        scope.setdefault("state", {})[_QUEUED] = True
        try:
            await self.app(scope, receive, send)
        finally:
            shedder.inflight -= 1
            if scope["state"].pop(_QUEUED, False):
                shedder.queued -= 1


def handed_to_backend(request: Request) -> None:
    """The request now waits on a backend, no longer on the gateway: it leaves the queue
    that ``max_queued_per_worker`` bounds (its "begin" row is committed by now)."""
    shedder: LoadShedder | None = getattr(request.app.state, "shedder", None)
    if shedder is not None and request.scope.get("state", {}).pop(_QUEUED, False):
        shedder.queued -= 1

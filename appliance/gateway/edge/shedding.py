"""Load shedding: a worker refuses new work at once when, and only when, its own queue
does not drain.

Without it an overloaded worker keeps accepting requests until every one of them is late:
each still gets authenticated, parsed and audited, so the 503 that the backend cap would
give arrives after seconds, and memory grows with the queue. This check runs first, before
the token, the body or the database are touched, and costs a comparison or two:

- Queueing delay (``shed_target_ms``, ``shed_interval_ms``), CoDel's rule applied to
  admission. A request's *sojourn* is the time from its admission here until it leaves the
  gateway's own stages: a chat once its "begin" row is committed (:func:`handed_to_backend`;
  waiting for the model is not congestion of the gateway, a 30 s stream is normal, and the
  per-backend cap bounds it), any other request when it is answered. The audit writer's
  backlog is inside that time (the commit is awaited before the hand-over), so it needs no
  bound of its own. New requests are refused while every sojourn measured for a whole
  interval stayed above the target (the *minimum* was above it: a standing queue, not a
  burst passing through), and admitted again as soon as one is at or below it, or the
  oldest request still in the stages has waited no longer than the target, or at most one
  request is there (one request cannot queue behind itself: its time is service, not
  waiting). A bound on the *count* of queued requests cannot tell these apart: a burst of
  a few hundred clients, or as many in a closed loop, hold that many requests in the stages
  while the queue drains at full speed; the former bound of 16 refused them although
  refusing gained nothing, and cut the closed loop's throughput to a third.
- Demand (``shed_demand_ratio``): a standing queue alone is not overload. A closed loop
  of N clients (staff who each wait for their answer before asking again) keeps a queue of
  N requests for good, its delay N / capacity, and refusing its members gains nothing:
  each one refused asks again at once, and the queue is the same. What overload adds is
  arrivals outpacing departures, so the queue *grows*. Refusals start only when, in each of
  the last two intervals, more than ``shed_demand_ratio`` times as many requests were
  admitted as left the stages; once started they go on, by CoDel's rule, until the queue
  drains (while refusing, nothing is admitted, so the ratio could not hold them). A demand
  between 1 and the ratio times capacity queues up to the two bounds below instead.
- Turns (``stage_concurrency_per_worker``, :mod:`.turns`): admitted requests beyond that
  many wait for a turn through the stages, in arrival order, without using the CPU. The
  event loop then stays prompt, so a burst reaches this check at once (one interval's
  growth, which the demand test does not take for overload) and a refusal under
  overload leaves within milliseconds rather than after the loop's backlog. The wait is
  part of the sojourn, so the queueing-delay rule sees it.
- ``max_inflight_per_worker``: every request in progress, streams until their last byte.
  Bounds memory whatever the traffic.
- ``max_loop_lag_ms``: how late the worker's event loop runs, sampled every
  ``LAG_SAMPLE_S`` (two samples in a row). On a CPU-bound worker requests queue in the
  loop (and the kernel's accept queue) before this middleware sees them, where no sojourn
  is measured; the loop's lateness is that queue's waiting time, so while it exceeds the
  bound new requests are refused and the queue drains.

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
import itertools
import logging
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from appliance.audit.events import AuditEvent, EventType, Outcome
from appliance.gateway.edge.errors import error_body
from appliance.gateway.edge.turns import Turns

log = logging.getLogger("appliance.gateway.shedding")

# Sampling period of the event-loop lag: short enough to react within a few batches.
LAG_SAMPLE_S = 0.02
EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
# Holds, in the request's scope state, the key of a request still in the gateway's stages.
_STAY = "shedding.stay"
_BODY = error_body("The gateway is overloaded; retry shortly.", "server_error", "overloaded")
_HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", str(len(_BODY)).encode()),
    (b"retry-after", b"1"),
]


class QueueDelay:
    """CoDel's standing-queue test over the requests in the gateway's own stages, gated by
    the demand test (the queue grows).

    ``clock`` (seconds, monotonic) is injected so the rule can be tested without sleeping.
    A target of 0 turns the test off; a ``demand_ratio`` of 0 turns the demand gate off.
    """

    def __init__(
        self,
        *,
        target_s: float,
        interval_s: float,
        demand_ratio: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.target_s = target_s
        self.interval_s = interval_s
        self.demand_ratio = demand_ratio
        self.clock = clock
        # Admission time by key, oldest first (dicts keep insertion order).
        self._stays: dict[int, float] = {}
        self._keys = itertools.count()
        # Since when every sojourn measured was above the target; None once one was not.
        self._above_since: float | None = None
        # Admissions and departures of the last two intervals (times), for the demand test.
        self._admitted: deque[float] = deque()
        self._departed: deque[float] = deque()
        # Refusing: entered once the demand test held, kept until the queue drains.
        self._dropping = False

    @property
    def queued(self) -> int:
        """Requests in the gateway's own stages now."""
        return len(self._stays)

    def enter(self) -> int:
        """A request is admitted; returns the key that :meth:`leave` takes."""
        key = next(self._keys)
        now = self.clock()
        self._stays[key] = now
        if self.demand_ratio > 0:
            self._record(self._admitted, now)
        return key

    def leave(self, key: int) -> None:
        """The request left the stages (handed to a backend, or answered): one sojourn."""
        admitted_at = self._stays.pop(key)
        now = self.clock()
        if self.demand_ratio > 0:
            self._record(self._departed, now)
        if now - admitted_at <= self.target_s:
            self._above_since = None
            self._dropping = False
        elif self._above_since is None:
            self._above_since = now

    def standing(self, *, nobody_waiting: bool = False) -> bool:
        """Whether new requests must be refused: the minimum sojourn stayed above the target
        for a whole interval, the queue has not drained since, and it grew (the demand test)
        when the refusals began. ``nobody_waiting``: no request waits for a turn through
        the stages (:mod:`.turns`), so those in them are being served, not queued."""
        if self.target_s <= 0 or self._above_since is None:
            return False
        now = self.clock()
        if (
            nobody_waiting
            or len(self._stays) <= 1
            or now - next(iter(self._stays.values())) <= self.target_s
        ):
            # Drained: nobody waits for a turn, or nobody left waits longer than the target
            # (or behind anybody). Without this, refusing everything would leave no sojourn
            # to measure; with turns, waiting for the last of them to leave would also leave
            # the worker idle until new requests arrive.
            self._above_since = None
            self._dropping = False
            return False
        if now - self._above_since < self.interval_s:
            return False
        if not self._dropping:
            self._dropping = self._demand_exceeds_service(now)
        return self._dropping

    def _demand_exceeds_service(self, now: float) -> bool:
        """More than ``demand_ratio`` times as many admitted as departed in each of the last
        two intervals (always, with the test off). Two, because a worker sees a few requests
        per interval and one interval's counts are noise; and because a burst (the first
        round of a closed loop) is admitted within one: growth that stopped is not
        overload."""
        if self.demand_ratio <= 0:
            return True
        for times in (self._admitted, self._departed):
            self._forget_before(times, now - 2 * self.interval_s)
        middle = now - self.interval_s
        for recent in (True, False):
            admitted = sum(1 for t in self._admitted if (t >= middle) == recent)
            departed = sum(1 for t in self._departed if (t >= middle) == recent)
            if admitted <= self.demand_ratio * departed:
                return False
        return True

    def _record(self, times: deque[float], now: float) -> None:
        times.append(now)
        self._forget_before(times, now - 2 * self.interval_s)

    @staticmethod
    def _forget_before(times: deque[float], since: float) -> None:
        while times and times[0] < since:
            times.popleft()


class LoadShedder:
    """The per-worker state: requests in progress, their queueing delay, the loop's lag,
    what was shed."""

    def __init__(
        self,
        *,
        target_ms: float,
        interval_ms: float,
        demand_ratio: float,
        max_inflight: int,
        max_loop_lag_ms: float,
        stage_concurrency: int = 0,
        summary_interval_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.delay = QueueDelay(
            target_s=target_ms / 1000,
            interval_s=interval_ms / 1000,
            demand_ratio=demand_ratio,
            clock=clock,
        )
        self.turns = Turns(stage_concurrency)
        self.max_inflight = max_inflight
        self.max_loop_lag_s = max_loop_lag_ms / 1000
        self.summary_interval_s = summary_interval_s
        self.inflight = 0
        self.loop_lag_s = 0.0
        self.shed: Counter[str] = Counter()
        self._unreported: Counter[str] = Counter()
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def queued(self) -> int:
        return self.delay.queued

    def leave(self, key: int) -> None:
        """A request left the gateway's stages: its sojourn ends and its turn passes on."""
        self.delay.leave(key)
        self.turns.give()

    def refusal(self) -> str | None:
        """Why a new request must be refused now, or None to admit it."""
        if self.max_inflight and self.inflight >= self.max_inflight:
            return "inflight"
        if self.delay.standing(nobody_waiting=bool(self.turns.limit) and not self.turns.waiting):
            return "queue_delay"
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
        state = scope.setdefault("state", {})
        key = shedder.delay.enter()
        try:
            await shedder.turns.take()
        except BaseException:
            shedder.inflight -= 1
            shedder.delay.leave(key)
            raise
        state[_STAY] = key
        try:
            await self.app(scope, receive, send)
        finally:
            shedder.inflight -= 1
            stay: int | None = state.pop(_STAY, None)
            if stay is not None:
                shedder.leave(stay)


def handed_to_backend(request: Request) -> None:
    """The request now waits on a backend, no longer on the gateway: its sojourn in the
    gateway's stages ends here (its "begin" row is committed by now)."""
    shedder: LoadShedder | None = getattr(request.app.state, "shedder", None)
    stay: int | None = request.scope.get("state", {}).pop(_STAY, None)
    if shedder is not None and stay is not None:
        shedder.leave(stay)

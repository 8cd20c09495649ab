"""Load shedding: refused before any work, in OpenAI's error shape, counted and audited;
refused for queueing delay only while the gateway's own queue stands (CoDel's rule, on an
injected clock) and grows (a closed loop's queue stands but is served)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import orjson
from starlette.requests import Request
from starlette.types import Message, Receive, Scope, Send

from appliance.audit.events import AuditEvent, EventType
from appliance.gateway.edge.shedding import (
    LoadShedder,
    LoadSheddingMiddleware,
    QueueDelay,
    handed_to_backend,
)
from appliance.gateway.edge.turns import Turns


class _App:
    """An ASGI app that answers 200 once released, so requests can be held in flight."""

    def __init__(self) -> None:
        self.calls = 0
        self.scopes: list[Scope] = []
        self.release = asyncio.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.calls += 1
        self.scopes.append(scope)
        await self.release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


async def _call(app: LoadSheddingMiddleware, path: str = "/v1/chat/completions") -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app({"type": "http", "path": path, "method": "POST", "headers": []}, receive, send)
    return sent


class Clock:
    """Monotonic seconds that the test advances."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _shedder(clock: Clock | None = None, **limits: float) -> LoadShedder:
    settings = {
        "target_ms": 0.0,
        "interval_ms": 0.0,
        "demand_ratio": 0.0,
        "max_inflight": 0,
        "max_loop_lag_ms": 0.0,
        "stage_concurrency": 0,
    }
    settings |= limits
    return LoadShedder(
        target_ms=settings["target_ms"],
        interval_ms=settings["interval_ms"],
        demand_ratio=settings["demand_ratio"],
        max_inflight=int(settings["max_inflight"]),
        max_loop_lag_ms=settings["max_loop_lag_ms"],
        stage_concurrency=int(settings["stage_concurrency"]),
        clock=clock or Clock(),
    )


def _delay(clock: Clock, demand_ratio: float = 0.0) -> QueueDelay:
    """CoDel's rule alone unless a demand ratio is given (its own tests below)."""
    return QueueDelay(target_s=0.05, interval_s=0.1, demand_ratio=demand_ratio, clock=clock)


def _sojourn(delay: QueueDelay, clock: Clock, seconds: float) -> None:
    """One request admitted now that leaves ``seconds`` later (the clock moves on)."""
    key = delay.enter()
    clock.now += seconds
    delay.leave(key)


def test_a_burst_is_admitted_however_many_requests_it_holds() -> None:
    clock = Clock()
    delay = _delay(clock)
    keys = [delay.enter() for _ in range(1000)]
    clock.now = 5.0
    assert not delay.standing()
    # They drain, each late, but the first late one starts the interval: no refusal yet.
    delay.leave(keys.pop(0))
    clock.now += 0.099
    assert not delay.standing()
    assert delay.queued == 999


def test_refused_once_every_sojourn_stayed_above_target_for_an_interval() -> None:
    clock = Clock()
    delay = _delay(clock)
    waiting = [delay.enter() for _ in range(10)]
    for now in (0.06, 0.1, 0.15):
        clock.now = now
        delay.leave(waiting.pop())
        assert not delay.standing()
    clock.now = 0.161
    assert delay.standing()
    assert delay.queued == 7


def test_with_turns_the_queue_has_drained_once_nobody_waits_for_one() -> None:
    clock = Clock()
    delay = _delay(clock)
    waiting = [delay.enter() for _ in range(10)]
    for now in (0.06, 0.1, 0.15):
        clock.now = now
        delay.leave(waiting.pop())
    clock.now = 0.161
    assert delay.standing()
    # Seven are still in the stages, all older than the target, but none waits for a turn:
    # they are being served, and refusing on would leave the worker idle after them.
    assert not delay.standing(nobody_waiting=True)
    assert not delay.standing()


def test_admitted_again_as_soon_as_one_sojourn_is_within_target() -> None:
    clock = Clock()
    delay = _delay(clock)
    waiting = [delay.enter() for _ in range(10)]
    clock.now = 0.2
    delay.leave(waiting.pop())
    clock.now = 0.31
    assert delay.standing()
    _sojourn(delay, clock, 0.04)
    assert not delay.standing()
    # A new stretch above the target needs its own whole interval.
    _sojourn(delay, clock, 0.08)
    clock.now += 0.05
    assert not delay.standing()
    clock.now += 0.06
    assert delay.standing()


def test_a_drained_queue_ends_the_refusals_without_a_new_sojourn() -> None:
    clock = Clock()
    delay = _delay(clock)
    waiting = [delay.enter() for _ in range(3)]
    clock.now = 0.3
    delay.leave(waiting.pop())
    clock.now = 0.41
    assert delay.standing()
    # Refusing admits nothing, so no sojourn may come: the stage draining must end it.
    clock.now = 0.5
    assert delay.standing()
    delay.leave(waiting.pop())
    assert not delay.standing()
    # Likewise when everything still there arrived within the target.
    delay.leave(waiting.pop())
    slow = delay.enter()
    clock.now = 1.0
    delay.leave(slow)
    clock.now = 1.08
    young = [delay.enter() for _ in range(3)]
    clock.now = 1.12
    assert not delay.standing()
    assert delay.queued == len(young)


def test_slow_requests_mixed_with_fast_ones_do_not_count_as_a_queue() -> None:
    clock = Clock()
    delay = _delay(clock)
    [delay.enter() for _ in range(5)]
    for _ in range(20):
        _sojourn(delay, clock, 0.3)  # a retrieval, an upload
        _sojourn(delay, clock, 0.002)  # a chat handed over at once
        assert not delay.standing()


def test_a_zero_target_turns_the_rule_off() -> None:
    clock = Clock()
    delay = QueueDelay(target_s=0.0, interval_s=0.1, clock=clock)
    [delay.enter() for _ in range(5)]
    _sojourn(delay, clock, 10.0)
    clock.now += 10.0
    assert not delay.standing()


def _closed_loop(
    delay: QueueDelay, clock: Clock, clients: int, service_s: float, rounds: int
) -> int:
    """``clients`` that each ask again as soon as answered (or refused), served one at a
    time in ``service_s`` each: a queue of ``clients`` that never grows. Returns how many
    requests were refused."""
    waiting = [delay.enter() for _ in range(clients)]
    asking = 0  # clients whose request was refused, asking again
    refused = 0
    for _ in range(rounds):
        clock.now += service_s
        if waiting:
            delay.leave(waiting.pop(0))
            asking += 1
        for _ in range(asking):
            if delay.standing():
                refused += 1
            else:
                waiting.append(delay.enter())
                asking -= 1
    return refused


def test_a_closed_loop_is_served_however_long_its_standing_queue() -> None:
    clock = Clock()
    delay = _delay(clock, demand_ratio=2.0)
    # 256 clients at 1,000 requests/s: every sojourn 256 ms, far above the 50 ms target.
    assert _closed_loop(delay, clock, clients=256, service_s=0.001, rounds=5000) == 0
    # CoDel alone refuses the same loop over and over.
    clock = Clock()
    assert _closed_loop(_delay(clock), clock, clients=256, service_s=0.001, rounds=5000) > 1000


def test_an_open_loop_faster_than_service_is_refused_until_its_queue_drains() -> None:
    clock = Clock()
    delay = _delay(clock, demand_ratio=2.0)
    waiting: list[int] = []
    refused = admitted = 0
    # Three arrivals per departure, one departure a millisecond, for two seconds.
    for step in range(6000):
        clock.now += 1 / 3000
        if step % 3 == 0 and waiting:
            delay.leave(waiting.pop(0))
        if delay.standing():
            refused += 1
        else:
            admitted += 1
            waiting.append(delay.enter())
    assert refused > 3000
    # What was admitted drains at the service rate: the queue stays near the target.
    assert len(waiting) < 400


def test_growth_that_stopped_is_not_refused() -> None:
    clock = Clock()
    delay = _delay(clock, demand_ratio=2.0)
    # Thirty requests arrive within one interval, while few leave: growth, once.
    waiting = [delay.enter() for _ in range(30)]
    clock.now = 0.06
    delay.leave(waiting.pop(0))
    # The next interval admits exactly as many as leave: the queue stands, but flat.
    for _ in range(10):
        clock.now += 0.01
        delay.leave(waiting.pop(0))
        waiting.append(delay.enter())
    assert clock.now - 0.06 >= 0.1
    assert not delay.standing()


def test_refusing_goes_on_without_new_admissions_and_ends_when_the_queue_drains() -> None:
    clock = Clock()
    delay = _delay(clock, demand_ratio=2.0)
    waiting = [delay.enter() for _ in range(40)]
    clock.now = 0.06
    delay.leave(waiting.pop(0))
    # Thirty more within the interval, one more departure: demand three times service.
    clock.now = 0.1
    waiting += [delay.enter() for _ in range(30)]
    clock.now = 0.17
    delay.leave(waiting.pop(0))
    assert delay.standing()
    # Refusing, nothing is admitted: the ratio no longer holds, the refusals go on.
    clock.now = 0.5
    assert delay.standing()
    while len(waiting) > 1:
        delay.leave(waiting.pop(0))
    assert not delay.standing()
    # A new standing queue needs new demand to be refused: a queue that does not grow is not.
    waiting += [delay.enter() for _ in range(10)]
    clock.now = 0.6
    delay.leave(waiting.pop(0))
    clock.now = 0.75
    delay.leave(waiting.pop(0))
    waiting.append(delay.enter())
    assert not delay.standing()


async def test_requests_beyond_the_inflight_cap_get_503_overloaded_without_reaching_the_app() -> (
    None
):
    inner = _App()
    shed: list[str] = []
    shedder = _shedder(max_inflight=2)
    app = LoadSheddingMiddleware(inner, shedder, shed.append)
    held = [asyncio.create_task(_call(app)) for _ in range(2)]
    await asyncio.sleep(0)
    refused = await _call(app)
    assert refused[0]["status"] == 503
    assert dict(refused[0]["headers"])[b"retry-after"] == b"1"
    assert orjson.loads(refused[1]["body"])["error"]["code"] == "overloaded"
    assert inner.calls == 2
    assert shed == ["inflight"]
    inner.release.set()
    for task in held:
        assert (await task)[0]["status"] == 200
    assert shedder.inflight == 0


async def test_requests_handed_to_a_backend_leave_the_gateway_queue() -> None:
    inner = _App()
    clock = Clock()
    shed: list[str] = []
    shedder = _shedder(clock, target_ms=50, interval_ms=100)
    app = LoadSheddingMiddleware(inner, shedder, shed.append)
    held = [asyncio.create_task(_call(app)) for _ in range(3)]
    await asyncio.sleep(0)
    assert shedder.queued == 3
    # The first request's "begin" row is committed 300 ms after admission: it now waits
    # on its backend, and its sojourn was above the target.
    clock.now = 0.3
    app_with_state = SimpleNamespace(state=SimpleNamespace(shedder=shedder))
    handed_to_backend(Request({**inner.scopes[0], "app": app_with_state}))
    assert shedder.queued == 2
    clock.now = 0.45
    refused = await _call(app)
    assert refused[0]["status"] == 503
    assert orjson.loads(refused[1]["body"])["error"]["code"] == "overloaded"
    assert shed == ["queue_delay"]
    assert inner.calls == 3
    inner.release.set()
    await asyncio.gather(*held)
    assert shedder.queued == 0
    assert shedder.inflight == 0
    # The queue drained: admitted again.
    assert (await _call(app))[0]["status"] == 200


async def test_requests_beyond_the_stage_turns_wait_in_arrival_order_and_count_as_queued() -> None:
    inner = _App()
    shedder = _shedder(stage_concurrency=2)
    app = LoadSheddingMiddleware(inner, shedder, lambda reason: None)
    held = [asyncio.create_task(_call(app, path=f"/v1/{n}")) for n in range(5)]
    await asyncio.sleep(0)
    # Two work through the stages; three wait for a turn, already counted from arrival.
    assert [scope["path"] for scope in inner.scopes] == ["/v1/0", "/v1/1"]
    assert shedder.queued == 5
    assert shedder.turns.waiting == 3
    # The first is handed to its backend: its turn goes to the longest waiter, while it
    # stays in flight.
    app_with_state = SimpleNamespace(state=SimpleNamespace(shedder=shedder))
    handed_to_backend(Request({**inner.scopes[0], "app": app_with_state}))
    await asyncio.sleep(0)
    assert [scope["path"] for scope in inner.scopes] == ["/v1/0", "/v1/1", "/v1/2"]
    assert shedder.inflight == 5
    inner.release.set()
    assert [(await task)[0]["status"] for task in held] == [200] * 5
    assert [scope["path"] for scope in inner.scopes] == [f"/v1/{n}" for n in range(5)]
    assert (shedder.queued, shedder.inflight, shedder.turns.working) == (0, 0, 0)


async def test_a_client_gone_while_waiting_for_its_turn_takes_none() -> None:
    inner = _App()
    shedder = _shedder(stage_concurrency=1)
    app = LoadSheddingMiddleware(inner, shedder, lambda reason: None)
    first = asyncio.create_task(_call(app, path="/v1/first"))
    gone = asyncio.create_task(_call(app, path="/v1/gone"))
    last = asyncio.create_task(_call(app, path="/v1/last"))
    await asyncio.sleep(0)
    gone.cancel()
    await asyncio.sleep(0)
    assert shedder.turns.waiting == 1
    assert (shedder.queued, shedder.inflight) == (2, 2)
    inner.release.set()
    assert (await first)[0]["status"] == 200
    assert (await last)[0]["status"] == 200
    assert [scope["path"] for scope in inner.scopes] == ["/v1/first", "/v1/last"]
    assert (shedder.queued, shedder.inflight, shedder.turns.working) == (0, 0, 0)


async def test_a_late_event_loop_sheds_but_probes_still_answer() -> None:
    inner = _App()
    inner.release.set()
    shedder = _shedder(max_loop_lag_ms=50)
    shedder.loop_lag_s = 0.2
    app = LoadSheddingMiddleware(inner, shedder, lambda _reason: None)
    assert (await _call(app))[0]["status"] == 503
    assert (await _call(app, "/readyz"))[0]["status"] == 200
    shedder.loop_lag_s = 0.0
    assert (await _call(app))[0]["status"] == 200


async def test_what_was_shed_is_audited_once_as_a_summary() -> None:
    shedder = _shedder(max_inflight=1)
    audited: list[AuditEvent] = []
    shedder.count("inflight")
    shedder.count("inflight")
    shedder.count("loop_lag")
    shedder.flush(audited.append)
    shedder.flush(audited.append)
    assert len(audited) == 1
    event = audited[0]
    assert event.event_type == EventType.SYSTEM
    assert event.http_status == 503
    assert event.detail["shed"] == 3
    assert event.detail["by_reason"] == {"inflight": 2, "loop_lag": 1}
    assert shedder.shed == {"inflight": 2, "loop_lag": 1}


async def test_a_turn_handed_to_a_request_cancelled_at_that_moment_passes_on() -> None:
    turns = Turns(1)
    await turns.take()
    cancelled = asyncio.create_task(turns.take())
    next_in_line = asyncio.create_task(turns.take())
    await asyncio.sleep(0)
    turns.give()  # the turn is handed to the first waiter...
    cancelled.cancel()  # ...which is cancelled before it runs
    await asyncio.sleep(0)
    await asyncio.wait_for(next_in_line, 1)
    assert (turns.working, turns.waiting) == (1, 0)
    turns.give()
    assert turns.working == 0

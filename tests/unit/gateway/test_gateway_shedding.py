"""Load shedding: refused before any work, in OpenAI's error shape, counted and audited."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import orjson
from starlette.requests import Request
from starlette.types import Message, Receive, Scope, Send

from appliance.audit.events import AuditEvent, EventType
from appliance.gateway.edge.shedding import LoadShedder, LoadSheddingMiddleware, handed_to_backend


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


def _shedder(**limits: float) -> LoadShedder:
    settings = {"max_queued": 0, "max_inflight": 0, "max_loop_lag_ms": 0.0, **limits}
    return LoadShedder(
        max_queued=int(settings["max_queued"]),
        max_inflight=int(settings["max_inflight"]),
        max_loop_lag_ms=settings["max_loop_lag_ms"],
    )


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
    shedder = _shedder(max_queued=1)
    app = LoadSheddingMiddleware(inner, shedder, lambda _reason: None)
    first = asyncio.create_task(_call(app))
    await asyncio.sleep(0)
    assert shedder.queued == 1
    assert (await _call(app))[0]["status"] == 503
    # The first request's "begin" row is committed: it now waits on its backend.
    app_with_state = SimpleNamespace(state=SimpleNamespace(shedder=shedder))
    handed_to_backend(Request({**inner.scopes[0], "app": app_with_state}))
    assert shedder.queued == 0
    second = asyncio.create_task(_call(app))
    await asyncio.sleep(0)
    assert inner.calls == 2
    inner.release.set()
    await asyncio.gather(first, second)
    assert shedder.queued == 0
    assert shedder.inflight == 0


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

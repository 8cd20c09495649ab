"""The open-loop load generator judges its own runs: a schedule it could not keep, or more
connections than its descriptors allow, makes the run invalid with the reason."""

from __future__ import annotations

import asyncio
import contextlib
import resource
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from tests.support.load import loadgen


def _sample(due: float, sent: float, done: float) -> loadgen.Sample:
    return loadgen.Sample("u", due, sent, done, 200)


@contextlib.asynccontextmanager
async def _answering_server() -> AsyncIterator[str]:
    async def chat(_: web.Request) -> web.Response:
        return web.json_response({"choices": []})

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def _starved_run() -> dict[str, Any]:
    """200 requests/s for 1.5 s while another task holds the event loop 150 ms out of
    every 200: the generator cannot send on time, as on cores taken by what it loads."""
    stop = asyncio.Event()

    async def hog() -> None:
        while not stop.is_set():
            time.sleep(0.15)  # blocks the loop on purpose
            await asyncio.sleep(0.05)

    async with _answering_server() as base:
        target = loadgen.chat_target(base, "m", {"u": ""})
        hogging = asyncio.create_task(hog())
        try:
            async with loadgen.session(timeout_s=10) as client:
                samples, _ = await loadgen.open_loop(client, target, 200, 1.5, ["u"])
        finally:
            stop.set()
            await hogging
    return loadgen.summarize(samples, 1.5)


def test_a_starved_schedule_marks_the_run_invalid() -> None:
    summary = loadgen.run(_starved_run())
    assert summary["ok"] == summary["requests"] == 300
    assert summary["valid"] is False
    assert summary["send_lag_p99_ms"] > loadgen.MAX_SEND_LAG_P99_MS
    assert any("behind its schedule" in reason for reason in summary["invalid"])


def test_a_kept_schedule_is_valid() -> None:
    samples = [_sample(i / 10, i / 10 + 0.002, i / 10 + 0.05) for i in range(100)]
    summary = loadgen.summarize(samples, 10, fd_limit=1024)
    assert summary["valid"] is True
    assert summary["invalid"] == []
    assert summary["peak_in_flight"] == 1


def test_more_requests_in_flight_than_descriptors_is_invalid() -> None:
    # 500 requests open at once need 500 connections plus the process's own descriptors.
    samples = [_sample(0.0, 0.0, 1.0) for _ in range(500)]
    reasons = loadgen.validity(samples, fd_limit=256)
    assert reasons == [
        f"open-file limit 256 below the {500 + loadgen.FD_RESERVE} descriptors needed"
        f" (500 requests in flight + {loadgen.FD_RESERVE})"
    ]
    assert loadgen.validity(samples, fd_limit=500 + loadgen.FD_RESERVE) == []


def test_the_soft_open_files_limit_is_raised_to_the_hard_one() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    lowered = min(soft, 256) if hard == resource.RLIM_INFINITY else min(soft, hard, 256)
    resource.setrlimit(resource.RLIMIT_NOFILE, (lowered, hard))
    try:
        raised = loadgen.raise_open_files_limit()
        assert raised == loadgen.open_files_limit() > lowered
        if hard != resource.RLIM_INFINITY:
            assert raised == hard
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.mark.parametrize(
    ("lags_s", "valid"),
    [([0.0] * 99 + [0.2], True), ([0.06] * 100, False)],
    ids=["one late request in a hundred", "every request 60 ms late"],
)
def test_the_bound_is_on_the_99th_percentile(lags_s: list[float], valid: bool) -> None:
    samples = [_sample(i, i + lag, i + lag + 0.01) for i, lag in enumerate(lags_s)]
    assert (loadgen.validity(samples, fd_limit=4096) == []) is valid

"""An open-loop load generator for the chaos load scenarios (the gateway it loads is
:class:`tests.support.gateways.WorkersGateway`).

Open loop: request ``i`` of a step is fired at ``start + i / rate`` whether or not earlier
ones were answered, the way independent users arrive. A closed loop (N workers, each
waiting for its answer) slows down with the server and hides queueing; this one does not,
so an overloaded gateway shows as late or refused answers, not as a lower offered rate.

The generator shares the machine's cores with what it loads, so it also records how late
it fired each request (``lag``) and the rate it really achieved in sending, and checks
itself (:func:`validity`): a step sent p99 more than ``MAX_SEND_LAG_P99_MS`` behind its
schedule, or with more requests in flight than its open-file limit allows connections, is
marked invalid with the reason, and the report shows that reason instead of the gateway's
figures: those would measure the client's starvation, not the gateway.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Coroutine, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp
import orjson
import psutil
import uvloop

# Answers at or above this count as refused by the gateway's protection (429, 503).
SHED_STATUSES = frozenset({429, 503})
# A run whose requests left p99 later than this behind their schedule offered less than it
# claims: its figures are the client's, not the gateway's.
MAX_SEND_LAG_P99_MS = 50.0
# Descriptors the process needs besides its connections (logs, the event loop, pipes).
FD_RESERVE = 64
T = TypeVar("T")


@dataclass(slots=True)
class Sample:
    """One request: when it was due, sent and answered (perf_counter seconds), and how."""

    user: str
    due: float
    sent: float
    done: float
    status: int  # HTTP status; 0 for a 200 with an incomplete body, -1 for a failed connection
    code: str = ""  # the error code of a refused request

    @property
    def latency_ms(self) -> float:
        return (self.done - self.sent) * 1000


def pct(values: Sequence[float], p: float) -> float | None:
    """The p-th percentile (nearest rank) or None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def latency_figures(samples: Sequence[Sample]) -> dict[str, float | None]:
    values = [s.latency_ms for s in samples]
    return {
        "p50_ms": pct(values, 50),
        "p90_ms": pct(values, 90),
        "p99_ms": pct(values, 99),
        "max_ms": max(values) if values else None,
    }


def peak_in_flight(samples: Sequence[Sample]) -> int:
    """The most requests open at once (each holds a connection, so a descriptor)."""
    edges = sorted([(s.sent, 1) for s in samples] + [(s.done, -1) for s in samples])
    peak = current = 0
    for _, step in edges:
        current += step
        peak = max(peak, current)
    return peak


def open_files_limit() -> int:
    """The process's soft RLIMIT_NOFILE: how many descriptors it may hold now."""
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def raise_open_files_limit() -> int:
    """Raise the soft open-file limit to the hard one (no privilege needed); returns the
    soft limit in force. An open loop holds one connection per request in flight, so under
    overload the usual soft limit of 1,024 would fail requests in the client itself."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return open_files_limit()


def validity(
    samples: Sequence[Sample], fd_limit: int, max_lag_p99_ms: float = MAX_SEND_LAG_P99_MS
) -> list[str]:
    """Why these samples do not measure the server (empty when they do): the generator
    fell behind its own schedule, or held more connections than its descriptors allow."""
    reasons = []
    lag = pct([(s.sent - s.due) * 1000 for s in samples], 99)
    if lag is not None and lag > max_lag_p99_ms:
        reasons.append(
            f"the load generator sent p99 {lag:.0f} ms behind its schedule"
            f" (bound {max_lag_p99_ms:.0f} ms)"
        )
    needed = peak_in_flight(samples) + FD_RESERVE
    if needed > fd_limit:
        reasons.append(
            f"open-file limit {fd_limit} below the {needed} descriptors needed"
            f" ({needed - FD_RESERVE} requests in flight + {FD_RESERVE})"
        )
    return reasons


def invalid_reasons(*summaries: Mapping[str, Any]) -> list[str]:
    """The distinct reasons any of ``summaries`` is invalid, in order."""
    return list(dict.fromkeys(r for s in summaries for r in s.get("invalid", [])))


def summarize(
    samples: Sequence[Sample], duration_s: float, fd_limit: int | None = None
) -> dict[str, Any]:
    """Counts by status, latency of accepted and refused requests, achieved rates, and
    whether the client kept its schedule (``valid``; ``invalid`` says why not), judged
    against ``fd_limit`` (default: the process's current soft limit)."""
    ok = [s for s in samples if s.status == 200]
    shed = [s for s in samples if s.status in SHED_STATUSES]
    lags = [(s.sent - s.due) * 1000 for s in samples]
    limit = open_files_limit() if fd_limit is None else fd_limit
    invalid = validity(samples, limit)
    return {
        "requests": len(samples),
        "by_status": {str(k): v for k, v in sorted(Counter(s.status for s in samples).items())},
        "by_code": dict(Counter(s.code for s in shed if s.code)),
        "ok": len(ok),
        "shed": len(shed),
        "errors": len(samples) - len(ok) - len(shed),
        "sent_per_s": len(samples) / duration_s if duration_s else 0.0,
        "ok_per_s": len(ok) / duration_s if duration_s else 0.0,
        "accepted": latency_figures(ok),
        "refused": latency_figures(shed),
        "send_lag_p50_ms": pct(lags, 50),
        "send_lag_p99_ms": pct(lags, 99),
        "peak_in_flight": peak_in_flight(samples),
        "open_files_limit": limit,
        "valid": not invalid,
        "invalid": invalid,
    }


def timeseries(
    samples: Sequence[Sample], t0: float, rss: Sequence[tuple[float, float]]
) -> dict[str, Sequence[float | None]]:
    """Per-second series from ``t0``: sent, accepted and refused answers, accepted latency
    percentiles (by completion second) and the gateway workers' total RSS in MiB."""
    seconds = int(max([s.done - t0 for s in samples] + [0.0])) + 1
    sent = [0.0] * seconds
    ok = [0.0] * seconds
    shed = [0.0] * seconds
    lat: dict[int, list[float]] = defaultdict(list)
    for s in samples:
        sent[min(seconds - 1, int(max(0.0, s.sent - t0)))] += 1
        second = min(seconds - 1, int(max(0.0, s.done - t0)))
        if s.status == 200:
            ok[second] += 1
            lat[second].append(s.latency_ms)
        elif s.status in SHED_STATUSES:
            shed[second] += 1
    rss_by_second: dict[int, float] = {}
    for at, mib in rss:
        if at >= t0:
            rss_by_second[int(at - t0)] = mib
    return {
        "t_s": [float(i) for i in range(seconds)],
        "sent_per_s": sent,
        "ok_per_s": ok,
        "shed_per_s": shed,
        "p50_ms": [pct(lat[i], 50) for i in range(seconds)],
        "p99_ms": [pct(lat[i], 99) for i in range(seconds)],
        "rss_mib": [rss_by_second.get(i) for i in range(seconds)],
    }


@dataclass
class Target:
    """Where requests go and what they carry; ``headers`` per user (tokens)."""

    url: str
    body: bytes
    headers: Mapping[str, Mapping[str, str]]
    stream: bool = False


def chat_target(base: str, model: str, users: Mapping[str, str], **extra: Any) -> Target:
    """Chat completions to ``base`` as each of ``users`` (name -> token, "" for none)."""
    body = {
        "model": model,
        "messages": [{"role": "user", "content": "What is the capital of France?"}],
        "max_tokens": 8,
        **extra,
    }
    headers = {
        name: {"Content-Type": "application/json"}
        | ({"Authorization": f"Bearer {token}"} if token else {})
        for name, token in users.items()
    }
    return Target(
        f"{base}/v1/chat/completions", orjson.dumps(body), headers, bool(extra.get("stream"))
    )


async def _one(
    session: aiohttp.ClientSession, target: Target, user: str, due: float, out: list[Sample]
) -> None:
    sent = time.perf_counter()
    code = ""
    try:
        async with session.post(target.url, data=target.body, headers=target.headers[user]) as r:
            body = await r.read()
            status = r.status
            if status == 200:
                complete = b"[DONE]" in body[-64:] if target.stream else b'"choices"' in body
                status = 200 if complete else 0
            else:
                with contextlib.suppress(ValueError, TypeError, AttributeError):
                    code = str(orjson.loads(body)["error"]["code"])
    except (TimeoutError, aiohttp.ClientError):
        status = -1
    out.append(Sample(user, due, sent, time.perf_counter(), status, code))


async def request(client: aiohttp.ClientSession, target: Target, user: str) -> Sample:
    """One request now, answered (or failed) before returning."""
    out: list[Sample] = []
    await _one(client, target, user, time.perf_counter(), out)
    return out[0]


def session(timeout_s: float = 60.0) -> aiohttp.ClientSession:
    """A client with unlimited connections: independent users do not share a queue."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0, force_close=False),
        timeout=aiohttp.ClientTimeout(total=timeout_s),
    )


async def open_loop(
    client: aiohttp.ClientSession,
    target: Target,
    rate: float,
    duration_s: float,
    users: Sequence[str],
) -> tuple[list[Sample], float]:
    """Fire ``rate`` requests/s for ``duration_s``, round-robin over ``users``; returns the
    samples (after every answer came back or timed out) and the start time."""
    out: list[Sample] = []
    tasks: list[asyncio.Task[None]] = []
    total = int(rate * duration_s)
    t0 = time.perf_counter()
    for i in range(total):
        due = t0 + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        user = users[i % len(users)]
        tasks.append(asyncio.create_task(_one(client, target, user, due, out)))
    await asyncio.gather(*tasks)
    return out, t0


class RssSampler:
    """Total RSS (MiB) of a process tree's workers, sampled from a thread every ``every_s``."""

    def __init__(self, root_pid: int, every_s: float = 0.5) -> None:
        self.root = psutil.Process(root_pid)
        self.every_s = every_s
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def pids(self) -> list[int]:
        return [child.pid for child in self.root.children(recursive=True)] or [self.root.pid]

    def rss_mib(self) -> float:
        total = 0
        for pid in self.pids():
            with contextlib.suppress(psutil.Error):
                total += psutil.Process(pid).memory_info().rss
        return total / 2**20

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self.samples.append((time.perf_counter(), self.rss_mib()))

    def __enter__(self) -> RssSampler:
        self.samples.append((time.perf_counter(), self.rss_mib()))
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append((time.perf_counter(), self.rss_mib()))


@dataclass
class Ramp:
    """The steps of a ramp and the capacity read from them."""

    steps: list[dict[str, Any]] = field(default_factory=list)
    # The unmeasured first seconds (connections, token keys, first commits), kept so that
    # every answer the gateway gave can still be accounted for.
    warm_up: dict[str, Any] = field(default_factory=dict)

    def capacity(self, max_p99_ms: float, min_ok_fraction: float = 0.99) -> float:
        """The highest achieved accepted rate of a step that still met the latency bound and
        answered nearly every request: beyond it the gateway is saturated."""
        good = [
            s["ok_per_s"]
            for s in self.steps
            if s["ok"] >= min_ok_fraction * s["requests"]
            and (s["accepted"]["p99_ms"] or 0) <= max_p99_ms
        ]
        return max(good, default=0.0)


# Scheduling priority of the load generator's thread while it runs (lower is sooner).
CLIENT_NICE = -5


@contextlib.contextmanager
def _ahead_of_the_server() -> Iterator[int]:
    """Run the calling thread at ``CLIENT_NICE`` and yield the niceness it got.

    The generator stands in for clients on other machines: it must fire and timestamp on
    time rather than queue behind the gateway it loads, or its figures would measure its
    own starvation. Raising priority needs root; without it the thread keeps its niceness.
    """
    before = os.getpriority(os.PRIO_PROCESS, 0)
    with contextlib.suppress(PermissionError):
        os.setpriority(os.PRIO_PROCESS, 0, CLIENT_NICE)
    try:
        yield os.getpriority(os.PRIO_PROCESS, 0)
    finally:
        with contextlib.suppress(PermissionError):
            os.setpriority(os.PRIO_PROCESS, 0, before)


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run the generator on uvloop, ahead of the server in the scheduler, with as many
    descriptors as the process may hold: on shared cores its lower cost per request and
    its priority are what let the client offer a rate the gateway cannot serve, rather than
    falling behind."""
    raise_open_files_limit()
    with _ahead_of_the_server(), asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)

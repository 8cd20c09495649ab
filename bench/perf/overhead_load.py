"""The client side of the gateway overhead benchmark: requests over kept-alive connections,
their latencies, and the audit rows each gateway request must leave behind."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import psycopg


@dataclass
class Run:
    """Requests of one path: latencies of the complete 200 answers only (a refusal's
    latency is not the path's), the other answers counted by status in ``failures``."""

    latencies_ms: list[float] = field(default_factory=list)
    wall_s: float = 0.0
    failures: Counter[int] = field(default_factory=Counter)
    # Ids of gateway requests answered 200: each must have a begin and an end audit row.
    request_ids: list[str] = field(default_factory=list)

    def extend(self, other: Run) -> None:
        self.latencies_ms += other.latencies_ms
        self.wall_s += other.wall_s
        self.failures += other.failures
        self.request_ids += other.request_ids

    def __add__(self, other: Run) -> Run:
        total = Run()
        total.extend(self)
        total.extend(other)
        return total

    def pct(self, p: float) -> float:
        """The p-th percentile of the answered requests' latency; NaN when none was."""
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]

    @property
    def rps(self) -> float:
        """Complete 200 answers per second of the run."""
        return len(self.latencies_ms) / self.wall_s


async def one_request(
    client: aiohttp.ClientSession, url: str, headers: dict[str, str], payload: bytes, stream: bool
) -> int:
    """The HTTP status, or 0 for a 200 whose answer is incomplete."""
    async with client.post(url, data=payload, headers=headers) as response:
        if not stream:
            complete = b'"choices"' in await response.read()
        else:
            tail = b""
            async for chunk in response.content.iter_any():
                tail = (tail + chunk)[-64:]
            complete = b"[DONE]" in tail
        return response.status if complete or response.status != 200 else 0


async def drive(
    base: str, token: str | None, model: str, stream: bool, concurrency: int, total: int
) -> Run:
    """``total`` requests from ``concurrency`` workers over kept-alive connections.

    The load generator uses aiohttp: on two shared cores a slower client would measure
    itself rather than the gateway.
    """
    run = Run()
    body: dict[str, Any] = {
        "model": model,
        "messages": [{"role": "user", "content": "What is the capital of France?"}],
        "max_tokens": 16,
        "stream": stream,
    }
    if stream:
        body["stream_options"] = {"include_usage": True}
    payload = json.dumps(body).encode()
    url = f"{base}/v1/chat/completions"
    remaining = total
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as client:

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                headers = {"Content-Type": "application/json"}
                request_id = f"bench-{uuid.uuid4().hex}"
                if token is not None:
                    headers |= {"Authorization": f"Bearer {token}", "X-Request-ID": request_id}
                began = time.perf_counter()
                try:
                    status = await one_request(client, url, headers, payload, stream)
                except aiohttp.ClientError:
                    status = -1  # connection reset or closed mid-answer
                if status != 200:
                    run.failures[status] += 1
                    continue
                run.latencies_ms.append((time.perf_counter() - began) * 1000)
                if token is not None:
                    run.request_ids.append(request_id)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        run.wall_s = time.perf_counter() - began
    return run


def audit_gaps(database_url: str, request_ids: list[str], wait_s: float = 10) -> int:
    """Requests lacking a begin or an end row (end rows may land just after the answer)."""
    deadline = time.monotonic() + wait_s
    with psycopg.connect(database_url) as conn:
        while True:
            rows = conn.execute(
                "SELECT request_id, array_agg(DISTINCT event_type) FROM audit_events"
                " WHERE request_id = ANY(%s) AND event_type IN ('chat.begin', 'chat.end')"
                " GROUP BY request_id",
                (request_ids,),
            ).fetchall()
            complete = sum(1 for _, kinds in rows if len(kinds) == 2)
            if complete == len(request_ids) or time.monotonic() > deadline:
                return len(request_ids) - complete
            conn.rollback()
            time.sleep(0.2)


def count_audit_rows(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        return int(conn.execute("SELECT count(*) FROM audit_events").fetchone()[0])  # type: ignore[index]

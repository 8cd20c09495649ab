"""What a concurrency slot costs on the hot path: claim and release against the local
runtime's PostgreSQL (``appliance.gateway.quota.slots``).

Run ``python -m bench.perf.admission_slots [rounds]`` with the local runtime up. It claims
and releases a slot of a made-up subject ``rounds`` times in a row (one chat's worth of
admission each), then claims for one subject from 8 tasks at once (one lock, taken in
turn), and prints the medians and 99th percentiles in milliseconds. The rows it leaves
behind, none when it finishes normally, belong to that made-up subject only.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
import uuid

from appliance.db.session import create_engine
from appliance.gateway.quota.slots import SlotLeases
from tests.support.paths import load_endpoints


def _summary(name: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    median = statistics.median(ordered)
    return f"{name}: median {median:.2f} ms, p99 {p99:.2f} ms (n={len(ordered)})"


async def _run(rounds: int) -> None:
    engine = create_engine(str(load_endpoints()["database_url"]), pool_size=8)
    leases = SlotLeases(engine, holder="bench", lease_s=30.0)
    subject = f"bench-{uuid.uuid4()}"
    claims: list[float] = []
    releases: list[float] = []
    try:
        for _ in range(rounds):
            started = time.perf_counter()
            lease = await leases.claim(subject, 4)
            claims.append((time.perf_counter() - started) * 1000)
            assert lease is not None
            started = time.perf_counter()
            leases.release(lease)
            await leases.settle()
            releases.append((time.perf_counter() - started) * 1000)

        async def timed_claim() -> float:
            started = time.perf_counter()
            await leases.claim(subject, 4)
            return (time.perf_counter() - started) * 1000

        contended: list[float] = []
        for _ in range(max(1, rounds // 20)):
            contended += await asyncio.gather(*(timed_claim() for _ in range(8)))
            await leases.stop()
        print(_summary("claim", claims))
        print(_summary("release (background delete, awaited here)", releases))
        print(_summary("claim, 8 at once for one user", contended))
    finally:
        await leases.stop()
        await engine.dispose()


def main() -> None:
    asyncio.run(_run(int(sys.argv[1]) if len(sys.argv) > 1 else 500))


if __name__ == "__main__":
    main()

"""Concurrency alone is never refused: a burst of chats to a two-worker gateway in front of
a backend that answers at once is served in full, however many requests each worker holds
at a time (``appliance.gateway.edge.shedding``: refusals follow queueing delay that stays
above its target for a whole interval, not a count of queued requests).

The gateway runs on a scratch copy of the appliance's database with the per-user and
per-backend caps lifted, so any refusal would be the shedder's. The interval is widened and
the event-loop lag check turned off here: this machine is shared with other suites, whose
load a worker cannot tell from its own, and a test must not fail for a neighbour. How fast
the rule reacts at the defaults, and what it refuses under a real overload, is measured by
``bench.perf.admission`` (ops/benchmarks/admission.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.gateways import WorkersGateway
from tests.support.load import loadgen
from tests.support.postgres import scratch
from tests.support.stubs import Stub
from tests.support.tokens import Tokens

USERS = ("zhang.wei", "li.na", "wang.fang")
BURST = 128


@pytest.fixture
def admission_db(services: dict[str, Any]) -> Iterator[scratch.ScratchDb]:
    db = scratch.create(services, scratch.unique_name("appliance_admission"))
    yield db
    scratch.drop(db)


@pytest.fixture
def fast_stub(served_model: str) -> Iterator[Stub]:
    stub = Stub(served_model)
    # No tokens counted: the burst leaves the demo users' daily quota alone.
    stub.control(zero_usage=True)
    yield stub
    stub.stop()


@pytest.fixture
def gateway(
    services: dict[str, Any], admission_db: scratch.ScratchDb, fast_stub: Stub
) -> Iterator[WorkersGateway]:
    started = WorkersGateway(
        {
            "APPLIANCE_DATABASE_URL": admission_db.gateway_url,
            "APPLIANCE_KEYCLOAK__ISSUER": services["keycloak"]["issuer"],
            "APPLIANCE_BACKENDS": fast_stub.url,
            "APPLIANCE_AUDIT__CHECKPOINT_KEY_FILE": "",
            "APPLIANCE_LIMITS__PER_USER_CONCURRENCY": "100000",
            "APPLIANCE_LIMITS__PER_BACKEND_INFLIGHT": "100000",
            "APPLIANCE_LIMITS__SHED_INTERVAL_MS": "30000",
            "APPLIANCE_LIMITS__MAX_LOOP_LAG_MS": "0",
        },
        workers=2,
    )
    yield started
    started.stop()


async def _burst(target: loadgen.Target, count: int) -> list[loadgen.Sample]:
    names = list(target.headers)
    async with loadgen.session(timeout_s=120) as client:
        return list(
            await asyncio.gather(
                *(loadgen.request(client, target, names[i % len(names)]) for i in range(count))
            )
        )


def test_a_burst_of_chats_is_served_without_overloaded_refusals(
    gateway: WorkersGateway, fast_stub: Stub, tokens: Tokens
) -> None:
    target = loadgen.chat_target(
        gateway.url, fast_stub.model, {user: tokens(user) for user in USERS}
    )
    samples = loadgen.run(_burst(target, BURST))
    statuses = sorted({(s.status, s.code) for s in samples})
    assert [s for s in samples if s.code == "overloaded"] == [], statuses
    assert all(s.status == 200 for s in samples), statuses
    # Every request reached the backend once: none was refused, none retried.
    assert fast_stub.chat_requests() == BURST

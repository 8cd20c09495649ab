"""The per-user concurrency cap holds across workers and gateway instances on one database.

Each chat leases a slot in the ``admission_slots`` table (``appliance.gateway.quota.slots``),
so a user with a limit of 2 gets 2 chats open in all, whichever worker or gateway takes each
request. The gateways here run on a scratch copy of the appliance's database, so slots that
other tests' gateways hold for the same users do not count.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
import psycopg
import pytest

from tests.support.gateways import GatewayProcess, WorkersGateway, chat_body
from tests.support.postgres import scratch
from tests.support.process import wait_until
from tests.support.stubs import Stub

if TYPE_CHECKING:
    from collections.abc import Callable

    from tests.support.tokens import Tokens

USER = "wang.fang"
LIMIT = 2
# Each accepted stream stays open about 7 chunks x 400 ms, far longer than the refusals take.
CHUNK_DELAY_MS = 400
LEASE_S = 2.0


@pytest.fixture(scope="module")
def limits_db(services: dict[str, Any]) -> Iterator[scratch.ScratchDb]:
    """One scratch database for the module: each test ends with every slot given back."""
    db = scratch.create(services, scratch.unique_name("appliance_shared_limits"))
    yield db
    scratch.drop(db)


@pytest.fixture(scope="module")
def slow_stub(stub: Stub) -> Stub:
    stub.control(chunk_delay_ms=CHUNK_DELAY_MS)
    return stub


@pytest.fixture(scope="module")
def gateway_env(
    services: dict[str, Any], limits_db: scratch.ScratchDb, slow_stub: Stub
) -> dict[str, str]:
    """A gateway's settings: the scratch database, the slow backend, LIMIT."""
    return {
        "APPLIANCE_DATABASE_URL": limits_db.gateway_url,
        "APPLIANCE_KEYCLOAK__ISSUER": services["keycloak"]["issuer"],
        "APPLIANCE_BACKENDS": slow_stub.url,
        "APPLIANCE_AUDIT__CHECKPOINT_KEY_FILE": "",
        "APPLIANCE_LIMITS__PER_USER_CONCURRENCY": str(LIMIT),
        "APPLIANCE_LIMITS__CONCURRENCY_LEASE_S": str(LEASE_S),
    }


@pytest.fixture(scope="module")
def two_workers(gateway_env: dict[str, str]) -> Iterator[WorkersGateway]:
    """One gateway of two worker processes for the module (its start takes the most time
    here); the killed-worker test's victim may be replaced by uvicorn, which the cap's
    tests do not mind."""
    gateway = WorkersGateway(gateway_env, workers=2)
    yield gateway
    gateway.stop()


@pytest.fixture
def start_gateways(
    gateway_env: dict[str, str],
) -> Iterator[Callable[[int], list[GatewayProcess]]]:
    """Start ``count`` one-worker gateways side by side on the scratch database; returned
    once all are ready, stopped after the test."""
    started: list[GatewayProcess] = []

    def start(count: int) -> list[GatewayProcess]:
        gateways = [
            GatewayProcess(gateway_env, name="gateway", settings_file=False, wait=False)
            for _ in range(count)
        ]
        started.extend(gateways)
        for gateway in gateways:
            gateway.wait_ready()
        return gateways

    yield start
    for gateway in started:
        gateway.stop()


@dataclass(frozen=True)
class Scene:
    """What each test drives: one-worker gateways started on demand (``start(count)``) on the
    scratch database ``db``, the module's two-worker gateway, the slow backend's model, and
    the users' tokens."""

    start: Callable[[int], list[GatewayProcess]]
    two_workers: WorkersGateway
    model: str
    tokens: Tokens
    db: scratch.ScratchDb


@pytest.fixture
def scene(
    start_gateways: Callable[[int], list[GatewayProcess]],
    two_workers: WorkersGateway,
    slow_stub: Stub,
    tokens: Tokens,
    limits_db: scratch.ScratchDb,
) -> Scene:
    return Scene(start_gateways, two_workers, slow_stub.model, tokens, limits_db)


def _stream(url: str, headers: dict[str, str], model: str, go: threading.Barrier) -> int:
    """Open one streamed chat once every caller is ready; read it to the end if accepted."""
    with httpx.Client(timeout=60) as client:
        go.wait()
        with client.stream(
            "POST",
            f"{url}/v1/chat/completions",
            json=chat_body(model, stream=True),
            headers=headers,
        ) as response:
            response.read()
            if response.status_code == 429:
                assert response.headers["Retry-After"] == "1"
                assert response.json()["error"]["code"] == "too_many_concurrent_requests"
            return response.status_code


def _at_once(urls: Sequence[str], headers: dict[str, str], model: str) -> list[int]:
    """One streamed chat per URL, all sent at the same moment; their statuses."""
    go = threading.Barrier(len(urls))
    with ThreadPoolExecutor(len(urls)) as pool:
        return list(pool.map(lambda url: _stream(url, headers, model, go), urls))


def _leases_of(db: scratch.ScratchDb) -> list[str]:
    """Holders of the live slots in the scratch database."""
    with psycopg.connect(db.owner_libpq) as conn:
        rows = conn.execute(
            "SELECT holder FROM admission_slots WHERE expires_at > clock_timestamp()"
        ).fetchall()
    return [str(holder) for (holder,) in rows]


def _exactly_the_limit_twice(urls: Sequence[str], scene: Scene) -> None:
    headers = scene.tokens.headers(USER)
    for _ in range(2):
        statuses = _at_once(urls, headers, scene.model)
        assert sorted(statuses) == [200] * LIMIT + [429] * (len(urls) - LIMIT)
        # Every slot is given back when its stream ends, so the next round starts empty.
        wait_until(lambda: not _leases_of(scene.db), "the slots to be released", timeout_s=5)


def test_two_workers_admit_exactly_the_limit(scene: Scene) -> None:
    _exactly_the_limit_twice([scene.two_workers.url] * 6, scene)


def test_two_gateways_on_one_database_admit_exactly_the_limit(scene: Scene) -> None:
    first, second = scene.start(2)
    # Three each: counted per process, each gateway alone would accept two.
    urls = [first.url, second.url] * 3
    _exactly_the_limit_twice(urls, scene)


def test_slot_of_a_killed_worker_comes_back_within_the_lease(scene: Scene) -> None:
    gateway = scene.two_workers
    headers = scene.tokens.headers(USER)
    body = chat_body(scene.model, stream=True)
    url = f"{gateway.url}/v1/chat/completions"
    with contextlib.ExitStack() as streams:
        held = [
            streams.enter_context(
                streams.enter_context(httpx.Client(timeout=60)).stream(
                    "POST", url, json=body, headers=headers
                )
            )
            for _ in range(LIMIT)
        ]
        assert [response.status_code for response in held] == [200] * LIMIT
        holders = _leases_of(scene.db)
        assert len(holders) == LIMIT
        # Holders are host:pid:start; kill the worker that holds the first slot.
        victim = int(holders[0].rsplit(":", 2)[1])
        os.kill(victim, signal.SIGKILL)
        killed_at = time.monotonic()
        survivors = [holder for holder in holders if int(holder.rsplit(":", 2)[1]) != victim]
        wait_until(
            lambda: sorted(_leases_of(scene.db)) == sorted(survivors),
            "the killed worker's slots to lapse",
            timeout_s=LEASE_S + 5,
        )
        assert time.monotonic() - killed_at <= LEASE_S + 5
    wait_until(
        lambda: (
            httpx.post(url, json=chat_body(scene.model), headers=headers, timeout=60).status_code
            == 200
        ),
        "the user to be admitted again",
        timeout_s=30,
    )

"""The audit database stopped or frozen under load: fail closed, fast, and come back alone.

The audit log is fail-closed: a chat whose "begin" cannot be committed must not reach the
model. Here the gateway's own scratch PostgreSQL is taken away while chats keep arriving,
either stopped (``pg_ctl stop -m immediate``: connections refused) or frozen (SIGSTOP of the
postmaster and every backend: connections hang, the nastier case). Every chat that starts
during an outage must be refused with an OpenAI-shaped 503 within 2.5 s, the stub backend
must see none of them, and once the database is back the gateway must serve again within
10 s without anyone restarting it.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import TYPE_CHECKING

from tests.support.gateways import GatewayProcess, gateway_env
from tests.support.load.chat_load import Answer, ChatLoad, spread
from tests.support.postgres.cluster import ScratchPostgres, scratch_cluster
from tests.support.process import wait_until
from tests.support.record import full_scale, record, scaled
from tests.support.stubs import RestartableStub

if TYPE_CHECKING:
    from tests.support.tokens import Tokens

OUTAGE_S = 5.0
# A request that starts this close to the database's return may legitimately succeed.
REFUSAL_LIMIT_S = 2.5
RECOVERY_LIMIT_S = 10.0
STEADY = ("zhang.wei", "wang.fang")
NEWCOMER = ("li.na",)
# Figures are asserted as the issue states them at full scale (run on a quiet machine);
# the short run in `make test` shares two cores with other suites, so it gets headroom.
SANITY_LIMIT_S = REFUSAL_LIMIT_S if full_scale() else 6.0


def _take_away(pg: ScratchPostgres, kind: str) -> None:
    if kind == "frozen":
        pg.freeze()
    else:
        pg.stop("immediate")


def _give_back(pg: ScratchPostgres, kind: str) -> None:
    if kind == "frozen":
        pg.thaw()
    else:
        pg.start()


def _recovered_after(load: ChatLoad, moment: float) -> float | None:
    done = [
        a.started + a.elapsed_s - moment
        for a in load.since(moment)
        if a.status == 200 and a.completed
    ]
    return min(done) if done else None


def _outage(
    pg: ScratchPostgres, stub: RestartableStub, load: ChatLoad, kind: str, tokens: Tokens
) -> tuple[list[Answer], list[Answer], int, float]:
    """One outage: (answers that had to be refused, answers near the return, requests that
    reached the backend meanwhile, seconds until a chat succeeded again).

    Besides the steady load, a user the gateway has not served yet (whose quota must be
    read from the database first) keeps trying while the database is away.
    """
    began = time.monotonic()
    _take_away(pg, kind)
    newcomer = ChatLoad(load.url, load.model, tokens.headers, concurrency=2, users=NEWCOMER,
                        pause_after_error_s=0.1)  # fmt: skip
    newcomer.__enter__()
    time.sleep(0.3)
    served = stub.chat_requests()
    time.sleep(max(0.0, began + OUTAGE_S - REFUSAL_LIMIT_S - time.monotonic()))
    # No new chats from here on; the ones in flight are collected after the return.
    newcomer.halt()
    time.sleep(max(0.0, began + OUTAGE_S - time.monotonic()))
    reached = stub.chat_requests() - served
    back = time.monotonic()
    _give_back(pg, kind)
    # Recovery counts from the moment the database accepts connections again.
    returned = time.monotonic()
    wait_until(lambda: _recovered_after(load, returned) is not None, "service to resume", 30)
    recovery = _recovered_after(load, returned) or 0.0
    newcomer.stop()
    time.sleep(1.0)
    steady = [a for a in load.since(began + 0.1) if a.started < back - REFUSAL_LIMIT_S]
    during = steady + newcomer.sent()
    near_return = [a for a in load.since(back - REFUSAL_LIMIT_S) if a.started < back]
    return during, near_return, reached, recovery


def test_database_outages_fail_closed_and_recover(tokens: Tokens, served_model: str) -> None:
    repeats = scaled(1, 10)
    figures: dict[str, object] = {"outage_s": OUTAGE_S}
    failures: list[str] = []
    with scratch_cluster("db-outage") as pg:
        stub = RestartableStub(served_model, zero_usage=True)
        gateway = GatewayProcess(gateway_env(pg, [stub.url]))
        try:
            with ChatLoad(
                gateway.url,
                served_model,
                tokens.headers,
                concurrency=8,
                users=STEADY,
                pause_after_error_s=0.1,
            ) as load:
                wait_until(lambda: len(load.answers) > 20, "load to start", 30)
                for kind in ("frozen", "stopped"):
                    refused: list[Answer] = []
                    near: list[Answer] = []
                    reached: list[int] = []
                    recovery: list[float] = []
                    for _ in range(repeats):
                        during, near_return, backend_hits, recovered = _outage(
                            pg, stub, load, kind, tokens
                        )
                        refused += during
                        near += near_return
                        reached.append(backend_hits)
                        recovery.append(recovered)
                    outcomes = Counter(f"{a.status} {a.error_code}" for a in refused)
                    to_503 = [a.to_status_s for a in refused if a.status == 503]
                    figures[kind] = {
                        "outages": repeats,
                        "requests_during_outage": len(refused),
                        "outcomes": dict(outcomes),
                        "not_openai_shaped": sum(1 for a in refused if not a.error_shaped),
                        "time_to_503_s": spread(to_503),
                        "requests_reaching_backend": sum(reached),
                        "near_return": dict(Counter(f"{a.status}" for a in near)),
                        "recovery_s": spread(recovery),
                    }
                    if any(a.status != 503 or not a.error_shaped for a in refused):
                        failures.append(f"{kind}: not every request got a 503: {outcomes}")
                    if max(to_503, default=0) > SANITY_LIMIT_S:
                        failures.append(f"{kind}: a 503 took {max(to_503):.2f} s")
                    if sum(reached):
                        failures.append(f"{kind}: {sum(reached)} requests reached the backend")
                    if max(recovery) > RECOVERY_LIMIT_S:
                        failures.append(f"{kind}: recovery took {max(recovery):.2f} s")
                    if not refused:
                        failures.append(f"{kind}: no request was sent during the outages")
                figures["token_failures"] = load.token_failures()
                if load.failure is not None:
                    failures.append(f"the load stopped early: {load.failure!r}")
        finally:
            gateway.stop()
            stub.stop()
    record("fault_database", figures)
    assert not failures, failures

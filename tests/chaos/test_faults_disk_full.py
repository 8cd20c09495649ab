"""The audit volume full under load: fail closed, lose nothing, recover when space returns.

The scratch PostgreSQL keeps its whole data directory (tables and WAL) on a small
loop-mounted ext4 filesystem. A filler file takes every free byte while chats keep
arriving: once the database cannot store a "begin", every chat must get an OpenAI-shaped
503 and the backend must see none of them. When the filler is removed the gateway must
serve again by itself; the chain must verify and every event committed before the disk
filled must be there unchanged. If PostgreSQL itself stopped (a WAL write that fails is a
PANIC), it is started again as its service manager would, and that is reported.
"""

from __future__ import annotations

import secrets
import shutil
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

from appliance.audit.verify_db import verify_url
from tests.support.gateways import GatewayProcess, gateway_env
from tests.support.load.chat_load import ChatLoad, spread
from tests.support.loopfs import fill, loop_filesystem
from tests.support.postgres.cluster import CHAOS_VAR, ScratchPostgres
from tests.support.process import wait_until
from tests.support.record import record, scaled
from tests.support.stubs import RestartableStub

if TYPE_CHECKING:
    from tests.support.tokens import Tokens

VOLUME_MB = 160
FULL_FOR_S = 4.0
RECOVERY_LIMIT_S = 10.0


def _committed(pg: ScratchPostgres) -> dict[int, str]:
    with pg.connect() as conn:
        rows = conn.execute("SELECT seq, row_hash FROM audit_events").fetchall()
    return {int(seq): str(digest) for seq, digest in rows}


def _first_503_after(load: ChatLoad, moment: float) -> float | None:
    refused = [a.started for a in load.since(moment) if a.status == 503]
    return min(refused) if refused else None


def _served_after(load: ChatLoad, moment: float) -> float | None:
    done = [a.started + a.elapsed_s for a in load.since(moment) if a.status == 200 and a.completed]
    return min(done) if done else None


def test_full_audit_volume_fails_closed_and_recovers(tokens: Tokens, served_model: str) -> None:
    cycles = scaled(1, 3)
    root = CHAOS_VAR / f"disk-full-{secrets.token_hex(3)}"
    figures: dict[str, Any] = {"volume_mb": VOLUME_MB, "cycles": cycles}
    refused_outcomes: Counter[str] = Counter()
    to_503: list[float] = []
    recovery: list[float] = []
    absorbed: list[int] = []
    reached = 0
    restarts = 0
    lost: list[int] = []
    failures: list[str] = []
    try:
        with loop_filesystem(root / "volume.img", root / "volume", VOLUME_MB) as volume:
            pg = ScratchPostgres(root, data=volume / "data")
            stub = RestartableStub(served_model, zero_usage=True)
            gateway: GatewayProcess | None = None
            try:
                pg.create()
                gateway = GatewayProcess(gateway_env(pg, [stub.url]))
                with ChatLoad(
                    gateway.url, served_model, tokens.headers, concurrency=6,
                    pause_after_error_s=0.1,
                ) as load:  # fmt: skip
                    wait_until(lambda: len(load.answers) > 20, "load to start", 30)
                    for _ in range(cycles):
                        before = _committed(pg)
                        filled_at = time.monotonic()
                        fill(volume / "filler")
                        wait_until(
                            lambda t=filled_at: _first_503_after(load, t) is not None,
                            "chats to be refused on the full volume",
                            30,
                        )
                        refusing = _first_503_after(load, filled_at) or filled_at
                        absorbed.append(
                            sum(1 for a in load.since(filled_at) if a.started < refusing)
                        )
                        time.sleep(0.5)
                        served = stub.chat_requests()
                        window_start = time.monotonic()
                        time.sleep(FULL_FOR_S)
                        window_end = time.monotonic()
                        reached += stub.chat_requests() - served
                        window = [
                            a for a in load.since(window_start) if a.started < window_end - 1.0
                        ]
                        refused_outcomes.update(f"{a.status} {a.error_code}" for a in window)
                        to_503 += [a.to_status_s for a in window if a.status == 503]
                        if any(a.status != 503 or not a.error_shaped for a in window):
                            failures.append(f"not all refused: {Counter(a.status for a in window)}")
                        (volume / "filler").unlink()
                        freed = time.monotonic()
                        if not pg.running():
                            restarts += 1
                            pg.start()
                        wait_until(
                            lambda t=freed: _served_after(load, t) is not None,
                            "service after space returned",
                            60,
                        )
                        recovery.append((_served_after(load, freed) or freed) - freed)
                        after = _committed(pg)
                        lost += [seq for seq, digest in before.items() if after.get(seq) != digest]
                        time.sleep(1.0)
                report = verify_url(pg.owner_url, skip_signatures=True)  # unsigned: no key
                answers = load.sent()
                load_failure, token_failures = load.failure, load.token_failures()
            finally:
                if gateway is not None:
                    gateway.stop()
                stub.stop()
                pg.halt()
    finally:
        shutil.rmtree(root, ignore_errors=True)

    figures |= {
        "requests": len(answers),
        "token_failures": token_failures,
        "chats_stored_after_fill_before_refusals": absorbed,
        "outcomes_while_full": dict(refused_outcomes),
        "time_to_503_s": spread(to_503),
        "requests_reaching_backend_while_full": reached,
        "postgres_restarted": restarts,
        "recovery_s": spread(recovery),
        "events_lost": len(lost),
        "chain_ok": report.ok,
        "chain_events": report.count,
    }
    record("fault_disk_full", figures)
    assert load_failure is None, f"the load stopped early: {load_failure!r}"
    assert not failures, (failures, figures)
    assert sum(refused_outcomes.values()) > 0, figures
    assert reached == 0, figures
    assert report.ok, report.to_dict()
    assert not lost, f"committed events changed or vanished: {lost[:10]}"
    assert max(recovery) <= RECOVERY_LIMIT_S, figures
    assert not root.exists()

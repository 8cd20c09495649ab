"""``kill -9`` of a gateway worker under load: no committed audit event is lost.

A gateway with two uvicorn workers (as the runtime runs it) serves a steady mix of
streaming and plain chats against a slow stub backend, so requests are always in flight.
A random worker is killed with SIGKILL again and again; uvicorn's supervisor starts a
replacement, whose audit writer closes the dead worker's open requests as ``interrupted``
before it serves. After every restart and at the end the scenario checks what an auditor
would: every event committed before a kill is still there unchanged, the chain verifies,
every answer a client received has its "begin" row, and no request is left dangling.
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections import Counter
from typing import TYPE_CHECKING

import pytest

from appliance.audit.verify_db import verify_url
from tests.support.gateways import GatewayProcess, gateway_env
from tests.support.load.chat_load import ChatLoad, spread
from tests.support.postgres.cluster import ScratchPostgres, scratch_cluster
from tests.support.process import wait_until
from tests.support.record import record, scaled
from tests.support.stubs import RestartableStub

if TYPE_CHECKING:
    from tests.support.tokens import Tokens

STARTED = "Application startup complete."
OPEN_BEGINS_SQL = """
SELECT count(*) FROM audit_events AS b
WHERE b.event_type = 'chat.begin' AND split_part(b.writer_id, ':', 2) = %s
  AND NOT EXISTS (
      SELECT 1 FROM audit_events AS e
      WHERE e.request_id = b.request_id AND e.event_type = 'chat.end'
  )
"""


def _committed(pg: ScratchPostgres, after: int) -> dict[int, str]:
    with pg.connect() as conn:
        rows = conn.execute(
            "SELECT seq, row_hash FROM audit_events WHERE seq > %s", (after,)
        ).fetchall()
    return {int(seq): str(row_hash) for seq, row_hash in rows}


def _open_begins_of(pg: ScratchPostgres, pid: int) -> int:
    with pg.connect() as conn:
        row = conn.execute(OPEN_BEGINS_SQL, (str(pid),)).fetchone()
    return int(row[0]) if row else -1


def _interrupted_of(pg: ScratchPostgres, pid: int) -> int:
    with pg.connect() as conn:
        row = conn.execute(
            """SELECT count(*) FROM audit_events WHERE event_type = 'chat.end'
               AND outcome = 'interrupted'
               AND split_part(detail->>'interrupted_writer', ':', 2) = %s""",
            (str(pid),),
        ).fetchone()
    return int(row[0]) if row else -1


def _startups(gateway: GatewayProcess) -> int:
    return gateway.log_path.read_text(errors="replace").count(STARTED)


# A hundred restarts at a few seconds each outlast the suite's default per-test limit.
@pytest.mark.timeout(scaled(600, 1500))
def test_killed_worker_loses_no_committed_audit_event(tokens: Tokens, served_model: str) -> None:
    kills = scaled(3, 100)
    rng = random.Random(os.environ.get("CHAOS_SEED", "worker-kill"))
    with scratch_cluster("worker-kill") as pg:
        stub = RestartableStub(served_model, zero_usage=True, chunk_delay_ms=40)
        gateway = GatewayProcess(gateway_env(pg, [stub.url]), workers=2)
        committed: dict[int, str] = {}
        restart_s: list[float] = []
        interrupted = 0
        dangling: list[int] = []
        under_load = 0
        try:
            with ChatLoad(gateway.url, served_model, tokens.headers, concurrency=6) as load:
                time.sleep(1.0)
                for _ in range(kills):
                    time.sleep(rng.uniform(0.05, 0.3))
                    committed |= _committed(pg, max(committed, default=0))
                    victim = rng.choice(gateway.worker_pids())
                    seen = _startups(gateway)
                    killed_at = time.monotonic()
                    os.kill(victim, signal.SIGKILL)
                    under_load += load.active_before(killed_at) > 0
                    wait_until(lambda n=seen: _startups(gateway) > n, "a replacement worker", 60)
                    restart_s.append(time.monotonic() - killed_at)
                    wait_until(lambda: len(gateway.worker_pids()) == 2, "two workers", 30)
                    open_left = _open_begins_of(pg, victim)
                    if open_left:
                        dangling.append(victim)
                    interrupted += _interrupted_of(pg, victim)
                time.sleep(1.0)
            answers = load.sent()
            load_failure, token_failures = load.failure, load.token_failures()
            now = _committed(pg, 0)
            report = verify_url(pg.owner_url, skip_signatures=True)  # unsigned: no key
            with pg.connect() as conn:
                begins = {
                    str(r[0])
                    for r in conn.execute(
                        "SELECT request_id FROM audit_events WHERE event_type = 'chat.begin'"
                    )
                }
                end_outcomes = {
                    str(r[0]): str(r[1])
                    for r in conn.execute(
                        "SELECT request_id, outcome FROM audit_events WHERE event_type = 'chat.end'"
                    )
                }
        finally:
            gateway.stop()
            stub.stop()

    received = [a for a in answers if a.status == 200 and a.request_id]
    unmapped = [a.request_id for a in received if a.request_id not in begins]
    cut = [a for a in received if a.transport_error]
    cut_ends = Counter(end_outcomes.get(a.request_id or "", "none") for a in cut)
    lost = [seq for seq, digest in committed.items() if now.get(seq) != digest]
    figures = {
        "kills": kills,
        "kills_under_load": under_load,
        "token_failures": token_failures,
        "requests": len(answers),
        "responses_200": len(received),
        "responses_completed": sum(1 for a in received if a.completed),
        "cut_by_kill": sum(1 for a in answers if a.transport_error or a.sse_error),
        "refused": dict(Counter(f"{a.status} {a.error_code}" for a in answers if a.status > 200)),
        "events_checked": len(committed),
        "events_lost": len(lost),
        "responses_without_begin": len(unmapped),
        "interrupted_marked": interrupted,
        "cut_answers_end_outcomes": dict(cut_ends),
        "workers_with_dangling_begins": len(dangling),
        "chain_ok": report.ok,
        "chain_events": report.count,
        "restart_s": spread(restart_s),
    }
    record("fault_worker_kill", figures)
    assert load_failure is None, f"the load stopped early: {load_failure!r}"
    assert under_load == kills, figures
    assert report.ok, report.to_dict()
    assert not lost, f"committed events changed or vanished: {lost[:10]}"
    assert not unmapped, f"answers without a chat.begin row: {unmapped[:10]}"
    assert not dangling, f"begins left open after restart of workers {dangling}"
    assert "none" not in cut_ends, f"answers cut by a kill have no end row: {cut_ends}"
    assert len(received) > kills, figures

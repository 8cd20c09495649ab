"""Backends that die mid-stream or hang, under load, with two backends behind the gateway.

Killed (SIGKILL of a stub while its streams are in flight): every client whose stream was
cut gets a clean SSE error event (``upstream_aborted``) within 2 s, then ``[DONE]``; the
audit "end" row says ``upstream_aborted`` and holds exactly the tokens and text that were
streamed before the cut. Hung (SIGSTOP of a stub): the gateway marks it unhealthy within
15 s and new chats are served by the other backend.
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

import httpx

from tests.support.gateways import GatewayProcess, gateway_env
from tests.support.load.chat_load import Answer, ChatLoad, spread
from tests.support.postgres.cluster import scratch_cluster
from tests.support.process import wait_until
from tests.support.record import full_scale, record, scaled
from tests.support.stubs import RestartableStub

if TYPE_CHECKING:
    from tests.support.tokens import Tokens

ERROR_EVENT_LIMIT_S = 2.0
UNHEALTHY_LIMIT_S = 15.0
# One check a second; two failed checks in a row mark a backend down (backends.py).
HEALTH_INTERVAL_S = 1.0
SANITY_FACTOR = 1.0 if full_scale() else 2.5


def _health(gateway: GatewayProcess, admin: dict[str, str]) -> dict[str, bool]:
    listing = httpx.get(f"{gateway.url}/api/admin/backends", headers=admin, timeout=10).json()
    return {b["url"]: bool(b["healthy"]) for b in listing["backends"]}


def _end_rows(dsn_conn: Any, request_ids: list[str]) -> dict[str, tuple[Any, ...]]:
    rows = dsn_conn.execute(
        "SELECT request_id, outcome, completion_tokens, coalesce(reasoning, '') || "
        "coalesce(response, '') FROM audit_events "
        "WHERE event_type = 'chat.end' AND request_id = ANY(%s)",
        (request_ids,),
    ).fetchall()
    return {str(r[0]): tuple(r[1:]) for r in rows}


def test_backend_killed_mid_stream_and_hung(tokens: Tokens, served_model: str) -> None:
    kills = scaled(2, 20)
    hangs = scaled(2, 20)
    admin = tokens.headers(tokens.with_role("sysadmin"))
    with scratch_cluster("backend") as pg:
        stubs = [
            RestartableStub(served_model, zero_usage=True, chunk_delay_ms=120) for _ in range(2)
        ]
        env = gateway_env(
            pg,
            [s.url for s in stubs],
            APPLIANCE_BACKEND_HEALTH_INTERVAL_S=str(HEALTH_INTERVAL_S),
            # The scenario is about backend faults, not this worker's own load shedding.
            APPLIANCE_LIMITS__MAX_LOOP_LAG_MS="0",
        )
        gateway = GatewayProcess(env)
        kill_times: list[float] = []
        hang_marks: list[float] = []
        after_hang: list[Answer] = []
        try:
            with ChatLoad(gateway.url, served_model, tokens.headers, concurrency=6) as load:
                wait_until(lambda: len(load.answers) > 10, "load to start", 30)
                for round_ in range(kills):
                    victim = stubs[round_ % 2]
                    wait_until(lambda: all(_health(gateway, admin).values()), "both healthy", 30)
                    time.sleep(0.6)
                    kill_times.append(time.monotonic())
                    victim.proc.kill()
                    victim.proc.wait()
                    time.sleep(0.5)
                    victim.restart()
                wait_until(lambda: all(_health(gateway, admin).values()), "both healthy", 30)
                for round_ in range(hangs):
                    victim = stubs[round_ % 2]
                    victim.proc.send_signal(signal.SIGSTOP)
                    stopped = time.monotonic()
                    try:
                        wait_until(
                            lambda v=victim: not _health(gateway, admin)[v.url],
                            "the hung backend to be marked unhealthy",
                            60,
                        )
                        marked = time.monotonic()
                        hang_marks.append(marked - stopped)
                        time.sleep(1.5)
                        after_hang += load.since(marked)
                    finally:
                        victim.proc.send_signal(signal.SIGCONT)
                    wait_until(lambda: all(_health(gateway, admin).values()), "hung one back", 30)
                time.sleep(0.5)
            answers = load.sent()
            load_failure, token_failures = load.failure, load.token_failures()
            cut = [a for a in answers if a.sse_error is not None]
            with pg.connect() as conn:
                ends = _end_rows(conn, [a.request_id for a in cut if a.request_id])
        finally:
            gateway.stop()
            for stub in stubs:
                stub.stop()

    error_delays = [
        min(a.error_at - k for k in kill_times if k <= a.error_at)
        for a in cut
        if a.error_at is not None and any(k <= a.error_at for k in kill_times)
    ]
    mismatched = [
        a.request_id
        for a in cut
        if ends.get(a.request_id or "") != ("upstream_aborted", max(0, a.chunks - 1), a.text)
    ]
    hung_outcomes = Counter(
        "ok" if a.status == 200 and a.completed else f"{a.status} {a.error_code or a.sse_error}"
        for a in after_hang
    )
    figures = {
        "requests": len(answers),
        "token_failures": token_failures,
        "backend_kills": kills,
        "streams_cut": len(cut),
        "cut_error_codes": dict(Counter(a.sse_error for a in cut)),
        "cut_ended_with_done": sum(1 for a in cut if a.done),
        "time_to_error_event_s": spread(error_delays),
        "audit_rows_mismatched": len(mismatched),
        "transport_errors": sum(1 for a in answers if a.transport_error),
        "non_stream_refusals": dict(
            Counter(f"{a.status} {a.error_code}" for a in answers if a.status not in (0, 200))
        ),
        "backend_hangs": hangs,
        "health_interval_s": HEALTH_INTERVAL_S,
        "time_to_unhealthy_s": spread(hang_marks),
        "requests_after_marking": len(after_hang),
        "outcomes_after_marking": dict(hung_outcomes),
    }
    record("fault_backend", figures)
    assert load_failure is None, f"the load stopped early: {load_failure!r}"
    assert cut, "no stream was in flight when a backend was killed"
    assert {a.sse_error for a in cut} == {"upstream_aborted"}, figures
    assert all(a.done for a in cut), figures
    assert max(error_delays) <= ERROR_EVENT_LIMIT_S * SANITY_FACTOR, figures
    assert not mismatched, f"audit rows disagree with what was streamed: {mismatched[:5]}"
    assert not [a for a in answers if a.transport_error], figures
    assert max(hang_marks) <= UNHEALTHY_LIMIT_S, figures
    assert after_hang and set(hung_outcomes) == {"ok"}, figures

"""Load on a gateway of our own (two workers, as the runtime runs it) in front of a stub.

Three scenarios, each recorded for the reliability report:

- ``load_gateway``: open-loop ramp until the gateway saturates (the stub answers at once,
  so the gateway, its audit commits and the machine's two cores are the limit), then three
  times that capacity. The gateway must refuse the excess with 429/503 quickly (p99 within
  ``SHED_P99_MS``), keep the requests it accepts within ``LATENCY_TARGET_MS``, keep its
  memory bounded, and audit what it shed.
- ``load_backend_bound``: the stub streams slowly and each worker may keep only a few
  requests on it, so the per-backend cap is the limit, as a GPU is in production; three
  times that capacity must be refused with 503 quickly while accepted streams complete.
- ``load_fairness``: one user fires far more concurrent requests than their share
  (``per_user_concurrency``, counted across both workers) while others chat normally: the
  greedy user gets 429 beyond the share, the others are all served.

"Capacity" is measured, not assumed: the load generator, the stub, PostgreSQL and the
gateway share the same two cores, so it is the rate this whole machine sustains with the
gateway as its bottleneck: the most requests per second the gateway answered at any ramp
step (the ramp stops two steps after the answers stop keeping up). The highest rate
answered in full within the latency target is reported beside it. Timing bounds are the
issue's figures at full scale; at short scale (part of ``make test``, on a busy machine)
they are only sanity bounds, checked where the load generator kept its schedule, and the
figures go to the report.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from typing import Any

import psutil
import psycopg
import pytest

from appliance.settings import LimitSettings
from tests.support.gateways import WorkersGateway
from tests.support.load import loadgen
from tests.support.postgres import scratch
from tests.support.record import full_scale, record, scaled
from tests.support.stubs import Stub
from tests.support.tokens import Tokens

USERS = ("zhang.wei", "li.na", "wang.fang")
# Accepted requests with an instant backend: the target both for "capacity" and under 3x.
LATENCY_TARGET_MS = 500.0
# The issue's figure: refusals under 3x capacity answered within 200 ms at p99.
SHED_P99_MS = 200.0
# Gateway workers' RSS may grow by at most this much under overload (both workers).
RSS_GROWTH_MIB = 200.0
# Short scale runs beside other suites on two cores: timings only have to be sane there.
SANITY = 1.0 if full_scale() else 15.0
# Chunks in the stub's streamed answer: a stream holds its backend slot this many delays.
STREAM_CHUNKS = 7


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "load_average_1m": os.getloadavg()[0],
        # The generator runs ahead of the server in the scheduler where it may (as root).
        "load_generator_nice": loadgen.CLIENT_NICE if os.geteuid() == 0 else 0,
    }


@pytest.fixture(scope="module")
def load_db(services: dict[str, Any]) -> Iterator[scratch.ScratchDb]:
    db = scratch.create(services, scratch.unique_name("appliance_chaos_load"))
    yield db
    scratch.drop(db)


@pytest.fixture
def stub(served_model: str) -> Iterator[Stub]:
    backend = Stub(served_model)
    backend.control(zero_usage=True)
    yield backend
    backend.stop()


@pytest.fixture
def users(tokens: Tokens) -> dict[str, str]:
    return {name: tokens(name) for name in USERS}


def start_gateway(
    services: dict[str, Any], db: scratch.ScratchDb, stub: Stub, **limits: int
) -> WorkersGateway:
    env = {
        "APPLIANCE_SETTINGS_FILE": services["settings_file"],
        "APPLIANCE_DATABASE_URL": db.gateway_url,
        "APPLIANCE_KEYCLOAK__ISSUER": services["keycloak"]["issuer"],
        "APPLIANCE_BACKENDS": stub.url,
    }
    env |= {f"APPLIANCE_LIMITS__{key.upper()}": str(value) for key, value in limits.items()}
    return WorkersGateway(env)


def limits_in_force(**overrides: int) -> dict[str, Any]:
    """The limits a gateway of :func:`start_gateway` runs with (the defaults of this code
    and the test's overrides), recorded so the report describes the run, not today's code."""
    return LimitSettings(**overrides).model_dump(mode="json")


def slow_streams(stub: Stub, chunk_ms: int) -> float:
    """Space the stub's streamed chunks ``chunk_ms`` apart; returns how long one stream then
    holds its backend slot, in seconds."""
    stub.control(chunk_delay_ms=chunk_ms)
    return STREAM_CHUNKS * chunk_ms / 1000


def shed_in_audit(db: scratch.ScratchDb, since_seq: int) -> int:
    """Requests the gateway's shed summaries (``system`` events) account for."""
    with psycopg.connect(db.owner_libpq) as conn:
        row = conn.execute(
            "SELECT coalesce(sum((detail->>'shed')::int), 0) FROM audit_events"
            " WHERE seq > %s AND event_type = 'system' AND detail->>'reason' = 'load_shed'",
            (since_seq,),
        ).fetchone()
    return int(row[0]) if row else 0


def clear_slot_leases(db: scratch.ScratchDb) -> None:
    """Drop the per-user slot leases an earlier scenario's gateway left in the shared
    database: streams cut when it stopped keep their leases until they expire
    (``concurrency_lease_s``), and would count against this scenario's users."""
    with psycopg.connect(db.owner_libpq) as conn:
        conn.execute("DELETE FROM admission_slots")


def head_seq(db: scratch.ScratchDb) -> int:
    with psycopg.connect(db.owner_libpq) as conn:
        row = conn.execute("SELECT coalesce(max(seq), 0) FROM audit_events").fetchone()
    return int(row[0]) if row else 0


def sanity_checks(
    summary: dict[str, Any], accepted_target_ms: float, invalid: list[str]
) -> dict[str, bool]:
    """The latency bounds the suite asserts: at full scale the issue's figures, always; at
    short scale the sanity bounds, for a run the load generator kept on schedule only. A
    generator starved of CPU (``make test`` shares two cores with every other service) is
    as late reading answers as sending requests, so the latencies it measured are its own;
    the report then shows the run as invalid, with why, instead of its figures."""
    if invalid and not full_scale():
        return {}
    return timing_checks(summary, accepted_target_ms, SANITY)


def timing_checks(
    summary: dict[str, Any], accepted_target_ms: float, factor: float
) -> dict[str, bool]:
    """The latency bounds, scaled by ``factor`` (1: the issue's figures)."""
    refused, accepted = SHED_P99_MS * factor, accepted_target_ms * factor
    return {
        f"refusal p99 <= {refused:.0f} ms": (summary["refused"]["p99_ms"] or 0) <= refused,
        f"accepted p99 <= {accepted:.0f} ms": (summary["accepted"]["p99_ms"] or 0) <= accepted,
    }


def rss_growth(samples: list[tuple[float, float]]) -> float:
    return max(mib for _, mib in samples) - samples[0][1]


def test_ramp_to_saturation_then_three_times_capacity(
    services: dict[str, Any],
    served_model: str,
    load_db: scratch.ScratchDb,
    stub: Stub,
    users: dict[str, str],
) -> None:
    # Per-user and per-backend caps out of the way: the gateway itself is measured here.
    gateway = start_gateway(
        services, load_db, stub, per_user_concurrency=100_000, per_backend_inflight=100_000
    )
    seq_before = head_seq(load_db)
    rates = [50, 100, 200, 300, 400, 500, 600, 800, 1000] if full_scale() else [50, 100, 200, 400]
    step_s = scaled(2, 6)
    names = list(users)
    try:
        via_gateway = loadgen.chat_target(gateway.url, served_model, users)
        direct = loadgen.chat_target(stub.url, served_model, users)

        async def ramp() -> tuple[loadgen.Ramp, list[tuple[float, float]]]:
            result = loadgen.Ramp()
            async with loadgen.session() as client:
                warm_up, _ = await loadgen.open_loop(client, via_gateway, 50, 2, names)
                result.warm_up = loadgen.summarize(warm_up, 2)
                with loadgen.RssSampler(gateway.proc.pid) as rss:
                    failed = 0
                    for rate in rates:
                        samples, _ = await loadgen.open_loop(
                            client, via_gateway, rate, step_s, names
                        )
                        step = loadgen.summarize(samples, step_s)
                        baseline, _ = await loadgen.open_loop(
                            client, direct, rate, step_s / 2, names
                        )
                        step["offered_per_s"] = rate
                        step["direct"] = loadgen.latency_figures(baseline)
                        result.steps.append(step)
                        saturated = step["ok_per_s"] < 0.95 * rate

                        failed += saturated
                        if failed >= 2:
                            break
            return result, rss.samples

        ramp_result, ramp_rss = loadgen.run(ramp())
        # Capacity: the most the gateway answered per second at any step (saturation); the
        # rate served in full within the latency target is reported beside it.
        capacity = max(step["ok_per_s"] for step in ramp_result.steps)
        within_target = ramp_result.capacity(LATENCY_TARGET_MS)
        assert capacity > 0, f"nothing answered during the ramp: {ramp_result.steps[0]}"

        overload_rate = 3 * capacity
        overload_s = scaled(6, 30)

        async def overload() -> tuple[list[loadgen.Sample], float, list[tuple[float, float]]]:
            async with loadgen.session() as client:
                with loadgen.RssSampler(gateway.proc.pid, every_s=0.25) as rss:
                    samples, t0 = await loadgen.open_loop(
                        client, via_gateway, overload_rate, overload_s, names
                    )
            return samples, t0, rss.samples

        samples, t0, rss = loadgen.run(overload())
    finally:
        # Stopping flushes each worker's last shed summary into the audit log.
        gateway.stop()
    summary = loadgen.summarize(samples, overload_s)
    audited_shed = shed_in_audit(load_db, seq_before)
    # Every "overloaded" refusal the clients saw, ramp included, must be in a summary.
    steps = [ramp_result.warm_up, *ramp_result.steps, summary]
    overloaded = sum(step["by_code"].get("overloaded", 0) for step in steps)
    failed = sum(step["errors"] for step in steps)
    figures = {
        "machine": machine(),
        "limits": limits_in_force(per_user_concurrency=100_000, per_backend_inflight=100_000),
        "latency_target_ms": LATENCY_TARGET_MS,
        "shed_p99_target_ms": SHED_P99_MS,
        "ramp": ramp_result.steps,
        "ramp_rss": [[at - ramp_rss[0][0], mib] for at, mib in ramp_rss],
        "capacity_per_s": capacity,
        "capacity_within_target_per_s": within_target,
        "overload": {
            "offered_per_s": overload_rate,
            "duration_s": overload_s,
            **summary,
            "timeseries": loadgen.timeseries(samples, t0, rss),
            "rss_start_mib": rss[0][1],
            "rss_max_mib": max(mib for _, mib in rss),
            "rss_end_mib": rss[-1][1],
        },
        "audited_shed": audited_shed,
        "client_saw_overloaded": overloaded,
        "requests": sum(s["requests"] for s in ramp_result.steps) + summary["requests"],
        # Where the load generator fell behind, the report shows why instead of figures.
        "invalid": loadgen.invalid_reasons(*ramp_result.steps, summary),
    }
    behaviour = {
        "refused with 429/503 under 3x": summary["shed"] > 0,
        "no failed or hung request": summary["errors"] == 0,
        f"memory growth <= {RSS_GROWTH_MIB:.0f} MiB": rss_growth(rss) <= RSS_GROWTH_MIB,
        "shedding audited": overloaded <= audited_shed <= overloaded + failed,
    }
    checks = behaviour | sanity_checks(summary, LATENCY_TARGET_MS, figures["invalid"])
    figures["checks"] = checks
    figures["issue_checks"] = behaviour | timing_checks(summary, LATENCY_TARGET_MS, 1.0)
    figures["passed"] = all(figures["issue_checks"].values())
    record("load_gateway", figures)
    assert all(checks.values()), {"checks": checks, "overload": summary, "capacity": capacity}


def test_backend_bound_overload_is_refused_fast(
    services: dict[str, Any],
    served_model: str,
    load_db: scratch.ScratchDb,
    stub: Stub,
    users: dict[str, str],
) -> None:
    # Each stream holds its backend slot for 7 chunks x 20 ms; two workers x 8 slots.
    chunk_ms, slots, workers = 20, 8, 2
    hold_s = slow_streams(stub, chunk_ms)
    capacity = workers * slots / hold_s
    gateway = start_gateway(
        services, load_db, stub, per_user_concurrency=100_000, per_backend_inflight=slots
    )
    duration_s = scaled(5, 20)
    try:
        target = loadgen.chat_target(gateway.url, served_model, users, stream=True)

        async def overload() -> tuple[list[loadgen.Sample], float, list[tuple[float, float]]]:
            async with loadgen.session() as client:
                await loadgen.open_loop(client, target, 20, 1, list(users))  # warm-up
                with loadgen.RssSampler(gateway.proc.pid, every_s=0.25) as rss:
                    samples, t0 = await loadgen.open_loop(
                        client, target, 3 * capacity, duration_s, list(users)
                    )
            return samples, t0, rss.samples

        samples, t0, rss = loadgen.run(overload())
    finally:
        gateway.stop()
    summary = loadgen.summarize(samples, duration_s)
    busy = summary["by_code"].get("backends_busy", 0)
    behaviour = {
        "refused with 503 backends_busy": busy > 0,
        "accepted streams complete": summary["ok"] > 0 and summary["errors"] == 0,
        # The cap is the limit: no more answers than the slots allow (plus the last ones).
        "served within the backend cap": summary["ok"] <= capacity * (duration_s + 1),
        f"memory growth <= {RSS_GROWTH_MIB:.0f} MiB": rss_growth(rss) <= RSS_GROWTH_MIB,
    }
    # An accepted stream takes hold_s by itself; the target is on top of that.
    target_ms = hold_s * 1000 + LATENCY_TARGET_MS
    invalid = loadgen.invalid_reasons(summary)
    checks = behaviour | sanity_checks(summary, target_ms, invalid)
    issue_checks = behaviour | timing_checks(summary, target_ms, 1.0)
    record(
        "load_backend_bound",
        {
            "machine": machine(),
            "limits": limits_in_force(per_user_concurrency=100_000, per_backend_inflight=slots),
            "chunk_delay_ms": chunk_ms,
            "per_backend_inflight": slots,
            "workers": workers,
            "capacity_per_s": capacity,
            "offered_per_s": 3 * capacity,
            "duration_s": duration_s,
            **summary,
            "timeseries": loadgen.timeseries(samples, t0, rss),
            "checks": checks,
            "issue_checks": issue_checks,
            "passed": all(issue_checks.values()),
        },
    )
    assert all(checks.values()), {"checks": checks, "summary": summary}


def test_one_user_cannot_take_more_than_their_share(
    services: dict[str, Any],
    served_model: str,
    load_db: scratch.ScratchDb,
    stub: Stub,
    users: dict[str, str],
) -> None:
    chunk_ms, share, workers = 25, 4, 2
    hold_s = slow_streams(stub, chunk_ms)
    clear_slot_leases(load_db)
    gateway = start_gateway(services, load_db, stub, per_user_concurrency=share)
    greedy, *polite = list(users)
    duration_s = scaled(5, 20)
    # The greedy user offers about six times the concurrency their share allows (three
    # times what two workers counting it each on their own would allow); the
    # others stay well inside theirs even when answers slow down to a second or two.
    greedy_rate = 3 * workers * share / hold_s
    polite_rate = 2.0
    try:
        target = loadgen.chat_target(gateway.url, served_model, users, stream=True)

        async def traffic() -> dict[str, list[loadgen.Sample]]:
            async with loadgen.session() as client:
                runs = [
                    loadgen.open_loop(client, target, greedy_rate, duration_s, [greedy]),
                    *(
                        loadgen.open_loop(client, target, polite_rate, duration_s, [name])
                        for name in polite
                    ),
                ]
                results = await asyncio.gather(*runs)
            names = [greedy, *polite]
            return {name: samples for name, (samples, _) in zip(names, results, strict=True)}

        by_user = loadgen.run(traffic())
    finally:
        gateway.stop()
    shares = {name: loadgen.summarize(samples, duration_s) for name, samples in by_user.items()}
    served = sum(s["ok"] for s in shares.values())
    # A slot is held at least hold_s, so the share (one for both workers: the slots are
    # leased in PostgreSQL) bounds the greedy user's answers.
    greedy_bound = share * (duration_s / hold_s + 1)
    refused_greedy = shares[greedy]["by_code"].get("too_many_concurrent_requests", 0)
    behaviour = {
        "greedy user refused with 429": refused_greedy > 0,
        "greedy user held to their share": shares[greedy]["ok"] <= greedy_bound,
        # Nobody else is refused for the greedy user's share...
        "other users never get 429": all(
            shares[name]["by_status"].get("429", 0) == 0 for name in polite
        ),
    }

    def served_fraction(fraction: float) -> dict[str, bool]:
        # ...and they are served (at short scale, beside other suites, nearly all of them).
        return {
            f"other users served (>= {fraction:.0%})": all(
                shares[name]["ok"] >= fraction * shares[name]["requests"] for name in polite
            )
        }

    checks = behaviour | served_fraction(1.0 if full_scale() else 0.8)
    issue_checks = behaviour | served_fraction(1.0)
    record(
        "load_fairness",
        {
            "machine": machine(),
            "limits": limits_in_force(per_user_concurrency=share),
            "per_user_concurrency": share,
            "workers": workers,
            "hold_s": hold_s,
            "duration_s": duration_s,
            "greedy_user": greedy,
            "greedy_offered_per_s": greedy_rate,
            "polite_offered_per_s": polite_rate,
            "greedy_bound_ok": greedy_bound,
            "users": {
                name: {
                    **summary,
                    "share_of_served": summary["ok"] / served if served else 0.0,
                }
                for name, summary in shares.items()
            },
            "requests": sum(s["requests"] for s in shares.values()),
            "invalid": loadgen.invalid_reasons(*shares.values()),
            "checks": checks,
            "issue_checks": issue_checks,
            "passed": all(issue_checks.values()),
        },
    )
    assert all(checks.values()), {"checks": checks, "shares": shares}

"""Admission under load: the gateway's load shedding, the former rule beside the current one.

A gateway of two workers (as the runtime runs it) in front of the stub backend, which
answers at once, with real token verification (the local Keycloak) and real audit (a fresh
``appliance_bench_admission_<pid>`` database of the local PostgreSQL); per-user and
per-backend caps are lifted, so any refusal is the shedder's. For each rule, one gateway
after the other:

- capacity: a closed loop of 16 clients (the rate the gateway sustains on this machine);
- a burst of 256 requests sent at once;
- closed loops of 64 and of 256 clients (each sends its next request once answered);
- an open loop at three times the capacity the first gateway measured (same offer for both).

The former rule (a bound of 16 requests queued per worker) is the gateway's code as of
``OLD_REF``, exported with ``git archive`` and started from that tree; the current one is
the working tree's. A closed loop and a burst never offer more than the gateway can drain:
the targets are no refusal there, and under the open loop refusals within 200 ms at p99
while at least half the capacity is still served.

    .venv/bin/python -m bench.perf.admission [--seconds 8] [--old-ref REF] [--variant V]...
    .venv/bin/python -m bench.perf.admission --render [--json PATH]

Writes ``ops/benchmarks/admission.json`` (the raw figures) and renders
``ops/benchmarks/admission.md`` from it; ``--render`` re-renders the page from the JSON.
``--variant V`` (``V`` is ``TARGET/INTERVAL[/RATIO[/TURNS]]``) adds a gateway of the current
code with those settings (set through its environment), measured like the others in the
same run: what another setting would give, beside the defaults. ``500/1000`` sets
``shed_target_ms`` 500 and ``shed_interval_ms`` 1000; ``50/100/2/0`` also sets
``shed_demand_ratio`` 2 and ``stage_concurrency_per_worker`` 0 (no turns). Where the checkout has no
git history or no local services (the lent GPU machine), ``bench/gpu/admission_stack.py``
starts PostgreSQL and a token issuer of its own (a :class:`Stack`) and passes the former
code as an exported folder (``--old-tree``); ``bench/gpu/admission_run.sh`` is its recipe.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import resource
import subprocess
import sys
import tarfile
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg

from appliance.db.migrate import upgrade
from appliance.runtime.gateway_service import local_allowed_clients
from appliance.settings import Settings
from tests.support.load import loadgen
from tests.support.paths import REPO, SETTINGS_FILE, load_endpoints
from tests.support.postgres.databases import Cluster
from tests.support.process import free_port, kill_tree
from tests.support.stubs import Stub
from tests.support.tokens import Tokens

# The last commit whose gateway shed by a count of queued requests (max_queued_per_worker).
OLD_REF = "ce96c10"
WORKERS = 2
USERS = ("zhang.wei", "li.na", "wang.fang")
BURST = 256
CLOSED = (64, 256)
CAPACITY_CLIENTS = 16
OVERLOAD = 3.0
# The targets: refusals answered within this at p99 under overload, and at least this
# fraction of the capacity still served.
REFUSAL_P99_MS = 200.0
GOODPUT_FRACTION = 0.5
JSON_OUT = REPO / "ops" / "benchmarks" / "admission.json"
MD_OUT = REPO / "ops" / "benchmarks" / "admission.md"
# The same scenarios on the lent 16-core GPU machine (bench/gpu/admission_run.sh): two runs,
# each with two other shedding settings beside the defaults (long intervals, short ones).
JSON_H200 = (
    REPO / "ops" / "benchmarks" / "admission-h200.json",
    REPO / "ops" / "benchmarks" / "admission-h200-short-intervals.json",
)
WORK = REPO / "var" / "bench" / "admission"
# Audited into a database of its own: the bench's events neither lengthen the appliance's
# audit chain nor interleave with its writer; one per run, so two runs do not collide.
BENCH_DB = f"appliance_bench_admission_{os.getpid()}"


@dataclass(frozen=True)
class Stack:
    """What the gateways under test run against, and how the page describes it.

    ``env``: what the gateways need beyond their database and backend (settings file,
    token issuer, accepted clients); ``tokens``: a user's access token, by name;
    ``where``: the JSON's ``stack`` entry (none for the local services).
    """

    model: str
    cluster: Cluster
    tokens: Callable[[str], str]
    env: Mapping[str, str]
    where: Mapping[str, str] = field(default_factory=dict)


def local_stack() -> Stack:
    """The local services of ``appliance up``: Keycloak's tokens, its PostgreSQL."""
    endpoints = load_endpoints()
    return Stack(
        model=endpoints["model"],
        cluster=Cluster.from_endpoints(endpoints),
        tokens=Tokens(endpoints),
        env={
            "APPLIANCE_SETTINGS_FILE": str(SETTINGS_FILE),
            "APPLIANCE_KEYCLOAK__ALLOWED_CLIENTS": local_allowed_clients(),
        },
    )


# shed_target_ms, shed_interval_ms, then shed_demand_ratio and stage_concurrency_per_worker
# where the variant sets them.
Variant = tuple[float, float, float | None, int | None]
_VARIANT_EXTRAS = ("shed_demand_ratio", "stage_concurrency_per_worker")


def variant_name(variant: Variant) -> str:
    target_ms, interval_ms, *extras = variant
    given = [f"{value:g}" for value in extras if value is not None]
    return "/".join([f"new {target_ms:g}", f"{interval_ms:g}", *given])


def parse_variant(text: str) -> Variant:
    """``TARGET/INTERVAL`` in milliseconds, optionally ``/RATIO`` (``shed_demand_ratio``)
    and ``/TURNS`` (``stage_concurrency_per_worker``)."""
    parts = text.split("/")
    if len(parts) not in (2, 3, 4):
        raise argparse.ArgumentTypeError(f"{text!r}: expected TARGET/INTERVAL[/RATIO[/TURNS]]")
    ratio = float(parts[2]) if len(parts) >= 3 else None
    turns = int(parts[3]) if len(parts) == 4 else None
    return float(parts[0]), float(parts[1]), ratio, turns


def variant_limits(variant: Variant) -> dict[str, float]:
    """The gateway limits the variant sets, by setting name."""
    target_ms, interval_ms, *extras = variant
    limits: dict[str, float] = {"shed_target_ms": target_ms, "shed_interval_ms": interval_ms}
    named = zip(_VARIANT_EXTRAS, extras, strict=True)
    limits |= {name: value for name, value in named if value is not None}
    return limits


def variant_settings(variant: Variant) -> str:
    """The variant's settings as the page names them."""
    return ", ".join(f"{name} = {value:g}" for name, value in variant_limits(variant).items())


def export_tree(ref: str, into: Path) -> Path:
    """The ``appliance`` package as of ``ref``, unpacked under ``into`` (a fresh folder)."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", ref, "appliance"],
        cwd=REPO,
        check=True,
        stdout=subprocess.PIPE,
    ).stdout
    if into.exists():
        subprocess.run(["rm", "-rf", str(into)], check=True)
    into.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


class BenchGateway:
    """``WORKERS`` uvicorn workers of the gateway whose code is in ``tree``; ready once every
    worker serves."""

    def __init__(self, tree: Path, env: Mapping[str, str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        argv = [
            sys.executable, "-m", "uvicorn", "--factory", "appliance.gateway.app:create_app",
            "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(WORKERS),
            "--no-access-log", "--log-level", "warning",
        ]  # fmt: skip
        self._log = log.open("wb")
        # The tree is the working directory, so its ``appliance`` is the one imported.
        self.proc = subprocess.Popen(
            argv, cwd=tree, env={**os.environ, **env}, stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 120
        while not self._ready():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                sys.exit(f"gateway from {tree} did not start; see {log}")
            time.sleep(0.5)

    def _ready(self) -> bool:
        children = psutil.Process(self.proc.pid).children()
        if len(children) < WORKERS:
            return False
        try:
            return all(
                httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200
                for _ in range(2 * WORKERS)
            )
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        """Gracefully (each worker writes its last shed summary), killed after 30 s."""
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            kill_tree(psutil.Process(self.proc.pid))
            self.proc.wait()
        self._log.close()


def shed_by_reason(database_url: str) -> dict[str, int]:
    """What the gateways' audited shed summaries count, by reason, so far."""
    with psycopg.connect(database_url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        rows = conn.execute(
            "SELECT detail->'by_reason' FROM audit_events"
            " WHERE event_type = 'system' AND detail->>'reason' = 'load_shed'"
        ).fetchall()
    total: dict[str, int] = {}
    for (by_reason,) in rows:
        for reason, count in by_reason.items():
            total[reason] = total.get(reason, 0) + int(count)
    return total


def figures(samples: Sequence[loadgen.Sample], seconds: float, offered: str) -> dict[str, Any]:
    summary = loadgen.summarize(samples, seconds)
    return {
        "offered": offered,
        "requests": summary["requests"],
        "completed": summary["ok"],
        "refused": summary["by_code"].get("overloaded", 0),
        "other": summary["requests"] - summary["ok"] - summary["by_code"].get("overloaded", 0),
        # What the others were, by HTTP status (-1: no connection; 0: a 200 cut short).
        "other_by_status": {
            str(status): count
            for status, count in sorted(
                Counter(
                    s.status for s in samples if s.status != 200 and s.code != "overloaded"
                ).items()
            )
        },
        # The same by status and error code: a 503 that is not the shedder's (the audit
        # store not taking the begin row in time, ``audit_unavailable``) is still a 503 the
        # staff see, and the status alone does not tell it from the shedder's.
        "other_by_code": {
            code: count
            for code, count in sorted(
                Counter(
                    f"{s.status} {s.code}".rstrip()
                    for s in samples
                    if s.status != 200 and s.code != "overloaded"
                ).items()
            )
        },
        "seconds": seconds,
        "ok_per_s": summary["ok_per_s"],
        "accepted_p50_ms": summary["accepted"]["p50_ms"],
        "accepted_p99_ms": summary["accepted"]["p99_ms"],
        "refused_p50_ms": summary["refused"]["p50_ms"],
        "refused_p99_ms": summary["refused"]["p99_ms"],
        # Whether the generator kept up: a late send measures the client, not the gateway.
        "send_lag_p99_ms": summary["send_lag_p99_ms"],
        "generator_invalid": summary["invalid"],
    }


async def burst(target: loadgen.Target, count: int) -> tuple[list[loadgen.Sample], float]:
    names = list(target.headers)
    async with loadgen.session() as client:
        began = time.perf_counter()
        samples = await asyncio.gather(
            *(loadgen.request(client, target, names[i % len(names)]) for i in range(count))
        )
        return list(samples), time.perf_counter() - began


async def closed_loop(
    target: loadgen.Target, clients: int, seconds: float
) -> tuple[list[loadgen.Sample], float]:
    """``clients`` each sending one request after another for ``seconds``."""
    names = list(target.headers)
    out: list[loadgen.Sample] = []
    async with loadgen.session() as client:
        began = time.perf_counter()
        stop_at = began + seconds

        async def one(i: int) -> None:
            while time.perf_counter() < stop_at:
                out.append(await loadgen.request(client, target, names[i % len(names)]))

        await asyncio.gather(*(one(i) for i in range(clients)))
        return out, time.perf_counter() - began


async def open_loop(
    target: loadgen.Target, rate: float, seconds: float
) -> tuple[list[loadgen.Sample], float]:
    """``rate`` requests/s for ``seconds``; the time taken runs until the last answer: a
    rule that queues the overload answers long after the offer ends, and dividing by the
    offer's ``seconds`` would credit it with a rate it never served."""
    async with loadgen.session() as client:
        samples, began = await loadgen.open_loop(
            client, target, rate, seconds, list(target.headers)
        )
        return samples, max([seconds, *(s.done - began for s in samples)])


def run_rule(
    name: str,
    gateway: BenchGateway,
    model: str,
    tokens: Callable[[str], str],
    seconds: float,
    rate: float,
) -> dict[str, Any]:
    """Every scenario against one gateway; ``rate`` 0: measure the capacity first."""
    target = loadgen.chat_target(gateway.url, model, {user: tokens(user) for user in USERS})
    loadgen.run(closed_loop(target, 4, 2))  # warm-up: connections, token keys, commits
    result: dict[str, Any] = {}
    samples, took = loadgen.run(closed_loop(target, CAPACITY_CLIENTS, seconds))
    result["capacity"] = figures(samples, took, f"closed loop, {CAPACITY_CLIENTS} clients")
    print(f"{name}: capacity {result['capacity']['ok_per_s']:.0f}/s", flush=True)
    samples, took = loadgen.run(burst(target, BURST))
    result["burst"] = figures(samples, took, f"{BURST} at once")
    for clients in CLOSED:
        samples, took = loadgen.run(closed_loop(target, clients, seconds))
        result[f"closed_{clients}"] = figures(samples, took, f"closed loop, {clients} clients")
    offered = rate or OVERLOAD * result["capacity"]["ok_per_s"]
    samples, took = loadgen.run(open_loop(target, offered, seconds))
    result["open"] = figures(samples, took, f"open loop, {offered:.0f}/s")
    result["open"]["offered_per_s"] = offered
    for key, row in result.items():
        print(f"{name} {key}: {row}", flush=True)
    return result


def measure(
    seconds: float,
    old_ref: str,
    stack: Stack,
    *,
    old_tree: Path | None = None,
    variants: Sequence[Variant] = (),
) -> dict[str, Any]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # An open loop at three times capacity holds a connection per request in flight.
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    model = stack.model
    WORK.mkdir(parents=True, exist_ok=True)
    old = old_tree if old_tree is not None else export_tree(old_ref, WORK / "old")
    # Each rule: the tree its gateway runs from and what it adds to the environment.
    rule_runs: dict[str, tuple[Path, dict[str, str]]] = {"old": (old, {}), "new": (REPO, {})}
    for variant in variants:
        variant_env = {
            f"APPLIANCE_LIMITS__{name.upper()}": f"{value:g}"
            for name, value in variant_limits(variant).items()
        }
        rule_runs[variant_name(variant)] = (REPO, variant_env)
    stub = Stub(model)
    stub.control(zero_usage=True)
    cluster = stack.cluster
    cluster.drop(BENCH_DB)
    database = cluster.create(BENCH_DB)
    upgrade(database.owner_url)
    env = {
        **stack.env,
        "APPLIANCE_BACKENDS": stub.url,
        "APPLIANCE_DATABASE_URL": database.gateway_url,
        "APPLIANCE_AUDIT__CHECKPOINT_KEY_FILE": "",
        # One of three users drives up to 256 parallel requests: the per-user and
        # per-backend limits would (rightly) refuse, which is not what is measured here.
        "APPLIANCE_LIMITS__PER_USER_CONCURRENCY": "100000",
        "APPLIANCE_LIMITS__PER_BACKEND_INFLIGHT": "100000",
    }
    rules: dict[str, Any] = {}
    rate = 0.0
    try:
        for name, (tree, rule_env) in rule_runs.items():
            log = WORK / f"gateway-{name.replace(' ', '-').replace('/', '-')}.log"
            gateway = BenchGateway(tree, {**env, **rule_env}, log)
            before = shed_by_reason(database.owner_url)
            try:
                rules[name] = run_rule(name, gateway, model, stack.tokens, seconds, rate)
            finally:
                gateway.stop()
            # Each worker audits what it shed at the latest when it stops.
            after = shed_by_reason(database.owner_url)
            shed = {reason: count - before.get(reason, 0) for reason, count in after.items()}
            rules[name]["shed_by_reason"] = {k: v for k, v in shed.items() if v}
            rate = rules[name]["open"]["offered_per_s"]
    finally:
        stub.stop()
        cluster.drop(BENCH_DB)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    # The current rule's settings as the gateway reads them (defaults, or APPLIANCE_LIMITS__*).
    limits = Settings().limits
    results: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_1m": round(os.getloadavg()[0], 2),
            "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        },
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "workers": WORKERS,
        "seconds": seconds,
        "old_ref": old_ref,
        "old_rule": "max_queued_per_worker = 16",
        "new_rule": variant_settings(
            (
                limits.shed_target_ms,
                limits.shed_interval_ms,
                limits.shed_demand_ratio,
                limits.stage_concurrency_per_worker,
            )
        ),
        "new_limits": limits.model_dump(mode="json"),
        "rules": rules,
    }
    if stack.where:
        results["stack"] = dict(stack.where)
    return results


SCENARIOS = ("capacity", "burst", "closed_64", "closed_256", "open")


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f}"


def checks(results: Mapping[str, Any], rule: str = "new") -> dict[str, bool]:
    """The targets, judged on ``rule``'s figures (the current rule, or a variant of it)."""
    new = results["rules"][rule]
    capacity = results["rules"]["old"]["capacity"]["ok_per_s"]
    return {
        f"burst of {BURST}: 0 refused": new["burst"]["refused"] == 0,
        f"closed loop of {CLOSED[0]}: 0 refused": new[f"closed_{CLOSED[0]}"]["refused"] == 0,
        f"closed loop of {CLOSED[1]}: 0 refused": new[f"closed_{CLOSED[1]}"]["refused"] == 0,
        f"open loop: refusals p99 <= {REFUSAL_P99_MS:.0f} ms": (
            (new["open"]["refused_p99_ms"] or 0) <= REFUSAL_P99_MS
        ),
        f"open loop: goodput >= {GOODPUT_FRACTION:.0%} of capacity": (
            new["open"]["ok_per_s"] >= GOODPUT_FRACTION * capacity
        ),
    }


def variants(results: Mapping[str, Any]) -> list[str]:
    """The rules measured beyond the former and the current default one, in run order."""
    return [name for name in results["rules"] if name not in ("old", "new")]


def compared(rules: Mapping[str, Any], key: str) -> str:
    """``key`` of each closed loop, old rule / new rule."""
    pairs = (
        (n, rules["old"][f"closed_{n}"][key], rules["new"][f"closed_{n}"][key]) for n in CLOSED
    )
    return ", ".join(f"{n} clients {old:.0f} / {new:.0f}" for n, old, new in pairs)


def variant_reading(results: Mapping[str, Any], name: str) -> str:
    """What a variant's figures say against the targets, every number from them."""
    rules = results["rules"]
    row = rules[name]
    capacity = rules["old"]["capacity"]["ok_per_s"]
    settings = variant_settings(parse_variant(name.removeprefix("new ")))
    refused = ", ".join(
        f"{key.replace('_', ' ')} {row[key]['refused']}"
        for key in ("burst", *(f"closed_{n}" for n in CLOSED))
    )
    missed = [check for check, ok in checks(results, name).items() if not ok]
    verdict = "meets every target" if not missed else f"misses: {'; '.join(missed)}"
    return (
        f"With `{settings}`"
        f" (`{name}`): refused {refused}; under the open loop"
        f" {row['open']['ok_per_s']:.0f} served per second"
        f" ({row['open']['ok_per_s'] / capacity:.0%} of the capacity), refusals answered in"
        f" {_ms(row['open']['refused_p50_ms'])} / {_ms(row['open']['refused_p99_ms'])} ms"
        f" (p50 / p99), accepted requests in {_ms(row['open']['accepted_p50_ms'])} /"
        f" {_ms(row['open']['accepted_p99_ms'])} ms. It {verdict}."
    )


def settings_summary(results: Mapping[str, Any]) -> str:
    """Which settings of the current rule met every target, and what those that kept the
    burst and closed loops free of refusals cost under the open loop."""
    rules = results["rules"]
    settings = ("new", *variants(results))
    passing = [name for name in settings if all(checks(results, name).values())]
    head = f"Of the {len(settings)} settings of the current rule measured in this run, "
    if passing:
        return f"{head}{', '.join(passing)} met every target."
    clean = [
        name
        for name in settings
        if all(rules[name][key]["refused"] == 0 for key in ("burst", "closed_64", "closed_256"))
    ]
    if not clean:
        return (
            f"{head}none met every target, and none kept the burst and both closed loops free"
            " of refusals."
        )
    costs = ", ".join(f"{name} {_ms(rules[name]['open']['refused_p99_ms'])} ms" for name in clean)
    return (
        f"{head}none met every target. Those that kept the burst and both closed loops free"
        f" of refusals answered the open loop's refusals at p99 in: {costs}."
    )


def closed_loop_reading(results: Mapping[str, Any]) -> str:
    """Why the current rule refused a closed loop or did not (the clients retry at once,
    rather than after ``Retry-After``, so every refusal is counted again)."""
    limits = results["new_limits"]
    target = limits["shed_target_ms"]
    ratio = limits.get("shed_demand_ratio", 0)
    if not ratio:
        return (
            f"Where that exceeds the target ({target:g} ms), the queue stands and the new rule"
            " refuses, as CoDel must; the clients here retry at once rather than after"
            " `Retry-After`, so every refusal is counted again. Zero refusals for a closed loop"
            " needs a target above that delay, which an open overload would then also be let"
            " to reach before it is refused."
        )
    text = (
        f"Where that exceeds the target ({target:g} ms), the queue stands; the new rule refuses"
        " only a queue that also grew in each of the last two intervals (more than"
        f" {ratio:g} times as many admitted as leaving), which a closed loop's does not: each"
        " client asks again only once answered."
    )
    refused = [
        f"the closed loop of {n} {row['refused']} times"
        for n in CLOSED
        if (row := results["rules"]["new"][f"closed_{n}"])["refused"]
    ]
    if refused:
        text += (
            f" Here it refused anyway: {', '.join(refused)}, the clients retrying at once"
            " rather than after `Retry-After`, so every refusal is counted again."
        )
    return text


def reading(results: Mapping[str, Any]) -> list[str]:
    """What the figures say, with every number taken from them."""
    rules = results["rules"]
    capacity = rules["old"]["capacity"]["ok_per_s"]
    delays = (
        ", ".join(f"{n} clients {n / capacity * 1000:.0f} ms" for n in CLOSED) if capacity else ""
    )
    burst_new, burst_old = rules["new"]["burst"], rules["old"]["burst"]
    if burst_new["refused"] == 0:
        burst = (
            "A burst is admitted whole: every request arrives before any sojourn has stayed"
            " above the target for an interval, and the rule has no count to exceed."
        )
    else:
        burst = (
            f"The burst was refused {burst_new['refused']} times: its answers took"
            f" {burst_new['seconds']:.1f} s on this machine, so requests of it still arriving"
            " after the sojourns had stayed above the target for an interval met a standing"
            " queue, as under any overload."
        )
    stack = results.get("stack")
    shared = (
        "the load generator, the stub, PostgreSQL, Keycloak and the other services share its"
        " cores, and the figures are only comparable within one run."
        if stack is None
        else f"{stack['shared']}; the figures are only comparable within one run."
    )
    lines = [
        "## Reading",
        "",
        f"{burst} The old bound refused {burst_old['refused']} of the {BURST}.",
        "",
        "A closed loop is a queue of its own making: by Little's law its requests wait about"
        f" clients / capacity, here {delays} (capacity {capacity:.0f} requests/s measured in"
        f" this run). {closed_loop_reading(results)} Refused by the old rule / the new one:"
        f" {compared(rules, 'refused')}; served per second: {compared(rules, 'ok_per_s')}.",
        "",
    ]
    busiest = max(rules[rule][f"closed_{n}"]["ok_per_s"] for rule in rules for n in CLOSED)
    offered = rules["old"]["open"]["offered_per_s"]
    if capacity and busiest > 1.1 * capacity:
        lines += [
            f"Sixteen clients do not saturate the gateway here: a closed loop served up to"
            f" {busiest:.0f} requests/s, {busiest / capacity:.1f} times the capacity measured"
            f" with 16, so the open loop offers {offered / busiest:.1f} times the most served.",
            "",
        ]
    for name in variants(results):
        lines += [variant_reading(results, name), ""]
    if variants(results):
        lines += [settings_summary(results), ""]
    return [*lines, f"The capacity of this machine is measured in the same run: {shared}"]


def other_answers(rules: Mapping[str, Any]) -> list[str]:
    """The answers neither served nor shed, by status and error code where the run recorded
    codes (``other_by_code``), else by status alone (runs from before it did)."""
    by_code = all(
        "other_by_code" in rules[rule][scenario] for scenario in SCENARIOS for rule in rules
    )
    key = "other_by_code" if by_code else "other_by_status"
    others = [
        f"{scenario} under {rule} "
        + ", ".join(f"{n} × {answer}" for answer, n in rules[rule][scenario][key].items())
        for scenario in SCENARIOS
        for rule in rules
        if rules[rule][scenario].get(key)
    ]
    if not others:
        return []
    what = "by status and error code" if by_code else "by status"
    return [
        "",
        f"Other answers, {what} (-1: the connection failed; 0: a 200 cut short): "
        + "; ".join(others)
        + ".",
    ]


def render(results: Mapping[str, Any], json_name: str = "") -> str:
    """The page; ``json_name``: the raw results' file, which the page links to."""
    rules = results["rules"]
    machine = results["machine"]
    stack = results.get("stack")
    if stack is None:
        generated = [
            "Generated by `.venv/bin/python -m bench.perf.admission` (figures in",
            "[admission.json](admission.json); `--render` rewrites this page from it).",
            f"{results['date']}, {machine['cpus']} cores shared by the load generator, the stub,",
        ]
    else:
        name = json_name or stack["json"]
        arguments = " ".join(
            [f"{results['seconds']:g}", *(v.removeprefix("new ") for v in variants(results))]
        )
        generated = [
            f"Generated by `{stack['command']} {arguments}` {stack['where']}; figures in",
            f"[{name}]({name}), from which `.venv/bin/python -m bench.perf.admission --render"
            f" --json ops/benchmarks/{name}` rewrites this page.",
            f"{results['date']}, {machine['cpus']} cores shared by the load generator, the stub,",
        ]
    lines = [
        "# Admission under load: load shedding by queueing delay",
        "",
        *generated,
        f"PostgreSQL and the gateway ({results['workers']} workers; load average"
        f" {machine['load_average_1m']} at the end). The stub answers at once and the",
        "per-user and per-backend caps are lifted, so every refusal is the shedder's.",
        "",
        f"- old: `{results['old_rule']}` (the gateway as of `{results['old_ref']}`)",
        f"- new: `{results['new_rule']}` (CoDel on the time requests spend in the gateway's",
        "  own stages; `appliance/gateway/edge/shedding.py`)",
    ]
    for name in variants(results):
        variant = parse_variant(name.removeprefix("new "))
        lines.append(
            f"- {name}: `{variant_settings(variant)}` (the code measured as new, these set"
            " through its environment)"
        )
    lines += [
        "",
        "Closed loops and the open loop run"
        f" {results['seconds']:g} s each; the open loop offers {OVERLOAD:g} times the capacity"
        f" the old gateway measured, to {'each rule' if variants(results) else 'both'}."
        " Latencies in ms; refused = 503 `overloaded`.",
        "",
        "| scenario | rule | offered | completed | refused | other | req/s |"
        " accepted p50 / p99 | refused p50 / p99 |",
        "|---|---|---|--:|--:|--:|--:|--:|--:|",
    ]
    for scenario in SCENARIOS:
        for rule in rules:
            row = rules[rule][scenario]
            lines.append(
                f"| {scenario} | {rule} | {row['offered']} | {row['completed']} |"
                f" {row['refused']} | {row['other']} | {row['ok_per_s']:.0f} |"
                f" {_ms(row['accepted_p50_ms'])} / {_ms(row['accepted_p99_ms'])} |"
                f" {_ms(row['refused_p50_ms'])} / {_ms(row['refused_p99_ms'])} |"
            )
    lagging = [
        f"{scenario} under {rule} ({'; '.join(rules[rule][scenario]['generator_invalid'])})"
        for scenario in SCENARIOS
        for rule in rules
        if rules[rule][scenario].get("generator_invalid")
    ]
    if any(
        "generator_invalid" in rules[rule][scenario] for scenario in SCENARIOS for rule in rules
    ):
        lines += [
            "",
            "Load generator: "
            + (
                f"fell behind its schedule in {', '.join(lagging)}."
                if lagging
                else "kept its schedule in every scenario."
            ),
        ]
    lines += other_answers(rules)
    lines += ["", "Refusals by reason, all scenarios (the gateways' audited shed summaries):", ""]
    for rule in rules:
        reasons = rules[rule].get("shed_by_reason") or {}
        listed = ", ".join(f"{reason} {count}" for reason, count in sorted(reasons.items()))
        lines.append(f"- {rule}: {listed or 'none'}")
    for rule in ("new", *variants(results)):
        lines += ["", "Targets (new rule):" if rule == "new" else f"Targets ({rule}):", ""]
        lines += [
            f"- {'met' if ok else 'NOT met'}: {name}" for name, ok in checks(results, rule).items()
        ]
    lines += ["", *reading(results)]
    return "\n".join(lines) + "\n"


def render_raw(json_path: Path = JSON_OUT) -> str:
    """The page, from the committed raw results alone (``bench.docs`` checks it)."""
    return render(json.loads(json_path.read_text()), json_path.name)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--old-ref", default=OLD_REF)
    parser.add_argument(
        "--old-tree", type=Path, help="a folder holding the former code's exported appliance"
    )
    parser.add_argument(
        "--variant",
        action="append",
        type=parse_variant,
        default=[],
        help="TARGET/INTERVAL (ms): also measure the current code with these shedding values",
    )
    parser.add_argument("--json", type=Path, default=JSON_OUT, help="the raw results' file")
    parser.add_argument("--render", action="store_true", help="only re-render the page")
    args = parser.parse_args()
    if not args.render:
        results = measure(
            args.seconds, args.old_ref, local_stack(), old_tree=args.old_tree, variants=args.variant
        )
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    page = render_raw(args.json)
    args.json.with_suffix(".md").write_text(page)
    print(page)


if __name__ == "__main__":
    main()

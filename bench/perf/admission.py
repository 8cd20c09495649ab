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

    .venv/bin/python -m bench.perf.admission [--seconds 8] [--old-ref REF]
    .venv/bin/python -m bench.perf.admission --render

Writes ``ops/benchmarks/admission.json`` (the raw figures) and renders
``ops/benchmarks/admission.md`` from it; ``--render`` re-renders the page from the JSON.
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
from collections.abc import Mapping, Sequence
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
WORK = REPO / "var" / "bench" / "admission"
# Audited into a database of its own: the bench's events neither lengthen the appliance's
# audit chain nor interleave with its writer; one per run, so two runs do not collide.
BENCH_DB = f"appliance_bench_admission_{os.getpid()}"


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
        "seconds": seconds,
        "ok_per_s": summary["ok_per_s"],
        "accepted_p50_ms": summary["accepted"]["p50_ms"],
        "accepted_p99_ms": summary["accepted"]["p99_ms"],
        "refused_p50_ms": summary["refused"]["p50_ms"],
        "refused_p99_ms": summary["refused"]["p99_ms"],
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
    async with loadgen.session() as client:
        samples, _ = await loadgen.open_loop(client, target, rate, seconds, list(target.headers))
        return samples, seconds


def run_rule(
    name: str, gateway: BenchGateway, model: str, tokens: Tokens, seconds: float, rate: float
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


def measure(seconds: float, old_ref: str) -> dict[str, Any]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # An open loop at three times capacity holds a connection per request in flight.
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    endpoints = load_endpoints()
    model = endpoints["model"]
    WORK.mkdir(parents=True, exist_ok=True)
    trees = {"old": export_tree(old_ref, WORK / "old"), "new": REPO}
    stub = Stub(model)
    stub.control(zero_usage=True)
    cluster = Cluster.from_endpoints(endpoints)
    cluster.drop(BENCH_DB)
    database = cluster.create(BENCH_DB)
    upgrade(database.owner_url)
    env = {
        "APPLIANCE_SETTINGS_FILE": str(SETTINGS_FILE),
        "APPLIANCE_BACKENDS": stub.url,
        "APPLIANCE_DATABASE_URL": database.gateway_url,
        "APPLIANCE_KEYCLOAK__ALLOWED_CLIENTS": local_allowed_clients(),
        "APPLIANCE_AUDIT__CHECKPOINT_KEY_FILE": "",
        # One of three users drives up to 256 parallel requests: the per-user and
        # per-backend limits would (rightly) refuse, which is not what is measured here.
        "APPLIANCE_LIMITS__PER_USER_CONCURRENCY": "100000",
        "APPLIANCE_LIMITS__PER_BACKEND_INFLIGHT": "100000",
    }
    tokens = Tokens(endpoints)
    rules: dict[str, Any] = {}
    rate = 0.0
    try:
        for name, tree in trees.items():
            gateway = BenchGateway(tree, env, WORK / f"gateway-{name}.log")
            before = shed_by_reason(database.owner_url)
            try:
                rules[name] = run_rule(name, gateway, model, tokens, seconds, rate)
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
    return {
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
        "new_rule": (
            f"shed_target_ms = {limits.shed_target_ms:g}, "
            f"shed_interval_ms = {limits.shed_interval_ms:g}"
        ),
        "new_limits": limits.model_dump(mode="json"),
        "rules": rules,
    }


SCENARIOS = ("capacity", "burst", "closed_64", "closed_256", "open")


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f}"


def checks(results: Mapping[str, Any]) -> dict[str, bool]:
    """The targets, judged on the current rule's figures."""
    new = results["rules"]["new"]
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


def compared(rules: Mapping[str, Any], key: str) -> str:
    """``key`` of each closed loop, old rule / new rule."""
    pairs = (
        (n, rules["old"][f"closed_{n}"][key], rules["new"][f"closed_{n}"][key]) for n in CLOSED
    )
    return ", ".join(f"{n} clients {old:.0f} / {new:.0f}" for n, old, new in pairs)


def reading(results: Mapping[str, Any]) -> list[str]:
    """What the figures say, with every number taken from them."""
    rules = results["rules"]
    capacity = rules["old"]["capacity"]["ok_per_s"]
    delays = (
        ", ".join(f"{n} clients {n / capacity * 1000:.0f} ms" for n in CLOSED) if capacity else ""
    )
    target = results["new_limits"]["shed_target_ms"]
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
    return [
        "## Reading",
        "",
        f"{burst} The old bound refused {burst_old['refused']} of the {BURST}.",
        "",
        "A closed loop is a queue of its own making: by Little's law its requests wait about"
        f" clients / capacity, here {delays} (capacity {capacity:.0f} requests/s measured in"
        f" this run). Where that exceeds the target ({target:g} ms), the queue stands and the"
        " new rule refuses, as CoDel must; the clients here retry at once rather than after"
        " `Retry-After`, so every refusal is counted again. Refused by the old rule / the"
        f" new one: {compared(rules, 'refused')}; served per second: {compared(rules, 'ok_per_s')}."
        " Zero refusals for a closed loop needs a target above that delay, which an open"
        " overload would then also be let to reach before it is refused.",
        "",
        "The capacity of this machine is measured in the same run: the load generator, the"
        " stub, PostgreSQL, Keycloak and the other services share its cores, and the figures"
        " are only comparable within one run.",
    ]


def render(results: Mapping[str, Any]) -> str:
    rules = results["rules"]
    machine = results["machine"]
    lines = [
        "# Admission under load: load shedding by queueing delay",
        "",
        "Generated by `.venv/bin/python -m bench.perf.admission` (figures in",
        "[admission.json](admission.json); `--render` rewrites this page from it).",
        f"{results['date']}, {machine['cpus']} cores shared by the load generator, the stub,",
        f"PostgreSQL and the gateway ({results['workers']} workers; load average"
        f" {machine['load_average_1m']} at the end). The stub answers at once and the",
        "per-user and per-backend caps are lifted, so every refusal is the shedder's.",
        "",
        f"- old: `{results['old_rule']}` (the gateway as of `{results['old_ref']}`)",
        f"- new: `{results['new_rule']}` (CoDel on the time requests spend in the gateway's",
        "  own stages; `appliance/gateway/edge/shedding.py`)",
        "",
        "Closed loops and the open loop run"
        f" {results['seconds']:g} s each; the open loop offers {OVERLOAD:g} times the capacity"
        " the old gateway measured, to both. Latencies in ms; refused = 503 `overloaded`.",
        "",
        "| scenario | rule | offered | completed | refused | other | req/s |"
        " accepted p50 / p99 | refused p50 / p99 |",
        "|---|---|---|--:|--:|--:|--:|--:|--:|",
    ]
    for scenario in SCENARIOS:
        for rule in ("old", "new"):
            row = rules[rule][scenario]
            lines.append(
                f"| {scenario} | {rule} | {row['offered']} | {row['completed']} |"
                f" {row['refused']} | {row['other']} | {row['ok_per_s']:.0f} |"
                f" {_ms(row['accepted_p50_ms'])} / {_ms(row['accepted_p99_ms'])} |"
                f" {_ms(row['refused_p50_ms'])} / {_ms(row['refused_p99_ms'])} |"
            )
    lines += ["", "Refusals by reason, all scenarios (the gateways' audited shed summaries):", ""]
    for rule in ("old", "new"):
        reasons = rules[rule].get("shed_by_reason") or {}
        listed = ", ".join(f"{reason} {count}" for reason, count in sorted(reasons.items()))
        lines.append(f"- {rule}: {listed or 'none'}")
    lines += ["", "Targets (new rule):", ""]
    lines += [f"- {'met' if ok else 'NOT met'}: {name}" for name, ok in checks(results).items()]
    lines += ["", *reading(results)]
    return "\n".join(lines) + "\n"


def render_raw() -> str:
    """The page, from the committed raw results alone (``bench.docs`` checks it)."""
    return render(json.loads(JSON_OUT.read_text()))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--old-ref", default=OLD_REF)
    parser.add_argument("--render", action="store_true", help="only re-render the page")
    args = parser.parse_args()
    if not args.render:
        results = measure(args.seconds, args.old_ref)
        JSON_OUT.write_text(json.dumps(results, indent=1) + "\n")
    page = render_raw()
    MD_OUT.write_text(page)
    print(page)


if __name__ == "__main__":
    main()

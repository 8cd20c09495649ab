"""What the gateway adds to a request: direct-to-backend vs through the gateway, one run.

Starts the stub backend (``stub_openai.py``, answers at once) and a one-worker gateway
pointed at it, with real token verification (a token of the local Keycloak) and real audit
(the local PostgreSQL), then measures both paths in interleaved rounds so that drift of
the machine hits both alike. Each gateway request carries its own ``X-Request-ID``; after
each run the audit log must hold a ``chat.begin`` and a ``chat.end`` row for every one.

    .venv/bin/python tests/perf/gateway_overhead.py [--rounds 3] [--profile]

Reads ``var/endpoints.json`` and ``var/appliance.env`` (the local runtime must be up),
audits into a fresh ``appliance_bench_<pid>`` database of the local PostgreSQL (see
``prepare_database``) and writes ``ops/benchmarks/gateway-overhead.md``. With
``--profile`` the gateway runs under cProfile and the hottest functions are printed and
saved to ``var/bench/gateway.prof``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import pstats
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import httpx
import psycopg
from psycopg import sql

from appliance.db.migrate import upgrade

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A port nobody listens on now (other test suites start their own gateways too)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


STUB_PORT, GATEWAY_PORT = free_port(), free_port()
STUB_URL, GATEWAY_URL = f"http://127.0.0.1:{STUB_PORT}", f"http://127.0.0.1:{GATEWAY_PORT}"
BENCH_USER = "wang.fang"
# Requests per run, per concurrency: enough for a stable p99, bounded in time.
REQUESTS = {1: 300, 16: 800, 64: 1600}
REPORT = ROOT / "ops" / "benchmarks" / "gateway-overhead.md"
WORK = ROOT / "var" / "bench"
ANALYSIS = "## Analysis"
# One database per run: two runs at once must not drop each other's database.
BENCH_DB = f"appliance_bench_{os.getpid()}"
# uvicorn re-raises SIGTERM after its graceful shutdown; a Python handler turns that into
# SystemExit so the profile is written (``python -m cProfile`` would die without writing).
PROFILED = """
import cProfile, signal, sys
from uvicorn.main import main
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
sys.argv = ["uvicorn", *sys.argv[1:]]
profile = cProfile.Profile()
profile.enable()
try:
    main()
finally:
    profile.disable()
    profile.dump_stats("{out}")
"""


@dataclass
class Run:
    latencies_ms: list[float] = field(default_factory=list)
    wall_s: float = 0.0
    failures: Counter[int] = field(default_factory=Counter)
    # Ids of gateway requests answered 200: each must have a begin and an end audit row.
    request_ids: list[str] = field(default_factory=list)

    def extend(self, other: Run) -> None:
        self.latencies_ms += other.latencies_ms
        self.wall_s += other.wall_s
        self.failures += other.failures
        self.request_ids += other.request_ids

    def __add__(self, other: Run) -> Run:
        total = Run()
        total.extend(self)
        total.extend(other)
        return total

    def pct(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]

    @property
    def rps(self) -> float:
        return len(self.latencies_ms) / self.wall_s


def start(cmd: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    handle = log.open("wb")
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT)


def wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"{url} exited with {proc.returncode}; see {log}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    sys.exit(f"{url} did not become ready; see {log}")


def fetch_token(endpoints: dict[str, Any]) -> str:
    keycloak = endpoints["keycloak"]
    user = next(u for u in endpoints["users"] if u["username"] == BENCH_USER)
    response = httpx.post(
        f"{keycloak['issuer']}/protocol/openid-connect/token",
        data={
            "grant_type": "password",
            "client_id": keycloak["dev_client_id"],
            "username": user["username"],
            "password": user["password"],
        },
        timeout=10,
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


async def one_request(
    client: aiohttp.ClientSession, url: str, headers: dict[str, str], payload: bytes, stream: bool
) -> int:
    """The HTTP status, or 0 for a 200 whose answer is incomplete."""
    async with client.post(url, data=payload, headers=headers) as response:
        if not stream:
            complete = b'"choices"' in await response.read()
        else:
            tail = b""
            async for chunk in response.content.iter_any():
                tail = (tail + chunk)[-64:]
            complete = b"[DONE]" in tail
        return response.status if complete or response.status != 200 else 0


async def drive(
    base: str, token: str | None, model: str, stream: bool, concurrency: int, total: int
) -> Run:
    """``total`` requests from ``concurrency`` workers over kept-alive connections.

    The load generator uses aiohttp: on two shared cores a slower client would measure
    itself rather than the gateway.
    """
    run = Run()
    body: dict[str, Any] = {
        "model": model,
        "messages": [{"role": "user", "content": "What is the capital of France?"}],
        "max_tokens": 16,
        "stream": stream,
    }
    if stream:
        body["stream_options"] = {"include_usage": True}
    payload = json.dumps(body).encode()
    url = f"{base}/v1/chat/completions"
    remaining = total
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as client:

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                headers = {"Content-Type": "application/json"}
                request_id = f"bench-{uuid.uuid4().hex}"
                if token is not None:
                    headers |= {"Authorization": f"Bearer {token}", "X-Request-ID": request_id}
                began = time.perf_counter()
                try:
                    status = await one_request(client, url, headers, payload, stream)
                except aiohttp.ClientError:
                    status = -1  # connection reset or closed mid-answer
                run.latencies_ms.append((time.perf_counter() - began) * 1000)
                if status != 200:
                    run.failures[status] += 1
                elif token is not None:
                    run.request_ids.append(request_id)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        run.wall_s = time.perf_counter() - began
    return run


def audit_gaps(database_url: str, request_ids: list[str], wait_s: float = 10) -> int:
    """Requests lacking a begin or an end row (end rows may land just after the answer)."""
    deadline = time.monotonic() + wait_s
    with psycopg.connect(database_url) as conn:
        while True:
            rows = conn.execute(
                "SELECT request_id, array_agg(DISTINCT event_type) FROM audit_events"
                " WHERE request_id = ANY(%s) AND event_type IN ('chat.begin', 'chat.end')"
                " GROUP BY request_id",
                (request_ids,),
            ).fetchall()
            complete = sum(1 for _, kinds in rows if len(kinds) == 2)
            if complete == len(request_ids) or time.monotonic() > deadline:
                return len(request_ids) - complete
            conn.rollback()
            time.sleep(0.2)


def prepare_database(endpoints: dict[str, Any]) -> str:
    """A fresh bench database on the local server, migrated to head (dropped after the run).

    Same server, roles, grants and schema as the appliance's own database, but the bench's
    tens of thousands of events neither lengthen the real audit chain nor interleave with
    the running gateway's writer. Returns the gateway role's URL for it.
    """
    gateway_url = urlsplit(endpoints["database_url"])
    owner_url = urlsplit(endpoints["owner_database_url"])
    owner, gateway = (
        sql.Identifier(owner_url.username or ""),
        sql.Identifier(gateway_url.username or ""),
    )
    db = sql.Identifier(BENCH_DB)
    socket = {
        "host": endpoints["superuser_socket_dir"],
        "port": gateway_url.port,
        "user": "postgres",
    }
    with psycopg.connect(**socket, dbname="postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(db))
        conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(db, owner))
    with psycopg.connect(**socket, dbname=BENCH_DB, autocommit=True) as conn:
        for statement in (
            sql.SQL("CREATE EXTENSION IF NOT EXISTS vector"),
            sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(db),
            sql.SQL("REVOKE CREATE ON SCHEMA public FROM PUBLIC"),
            sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(db, gateway),
            sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(gateway),
        ):
            conn.execute(statement)
    upgrade(urlunsplit(owner_url._replace(path=f"/{BENCH_DB}")))
    return urlunsplit(gateway_url._replace(path=f"/{BENCH_DB}"))


def drop_database(endpoints: dict[str, Any]) -> None:
    socket = {
        "host": endpoints["superuser_socket_dir"],
        "port": urlsplit(endpoints["database_url"]).port,
        "user": "postgres",
    }
    with psycopg.connect(**socket, dbname="postgres", autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(BENCH_DB))
        )


def count_audit_rows(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        return int(conn.execute("SELECT count(*) FROM audit_events").fetchone()[0])  # type: ignore[index]


def _failures(run: Run) -> str:
    """``0``, or the non-200 answers by status (0: a 200 with an incomplete body, -1: the
    connection failed)."""
    return ", ".join(f"{n}x{s}" for s, n in sorted(run.failures.items())) or "0"


def render(
    results: dict[tuple[str, int], tuple[Run, Run]], gaps: dict[tuple[str, int], int]
) -> str:
    lines = [
        "| mode | conc | n | p50 direct | p50 gw | added p50 | p99 direct | p99 gw | added p99"
        " | req/s direct | req/s gw | audit ev/s | failures | audit gaps |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (mode, conc), (direct, gw) in results.items():
        lines.append(
            f"| {mode} | {conc} | {len(gw.latencies_ms)} | {direct.pct(50):.2f} | {gw.pct(50):.2f}"
            f" | **{gw.pct(50) - direct.pct(50):.2f}** | {direct.pct(99):.2f} | {gw.pct(99):.2f}"
            f" | **{gw.pct(99) - direct.pct(99):.2f}** | {direct.rps:.0f} | {gw.rps:.0f}"
            f" | {2 * gw.rps:.0f} | {_failures(direct + gw)} | {gaps[mode, conc]} |"
        )
    return "\n".join(lines)


def verdicts(results: dict[tuple[str, int], tuple[Run, Run]]) -> list[str]:
    """The targets, each marked met or missed by this run's numbers."""
    out = []
    for mode in ("plain", "stream"):
        direct, gw = results[mode, 1]
        p50, p99 = gw.pct(50) - direct.pct(50), gw.pct(99) - direct.pct(99)
        out.append(
            f"- {mode}, concurrency 1: added p50 {p50:.2f} ms (target <= 2):"
            f" {'met' if p50 <= 2 else 'MISSED'}; added p99 {p99:.2f} ms (target <= 10):"
            f" {'met' if p99 <= 10 else 'MISSED'}"
        )
    best = max(gw.rps for (_, conc), (_, gw) in results.items() if conc > 1)
    out.append(
        f"- best audited requests/s: {best:.0f} (target >= 500):"
        f" {'met' if best >= 500 else 'MISSED'}"
    )
    return out


def profile_summary(path: Path, limit: int = 30) -> str:
    stats = pstats.Stats(str(path))
    total = stats.total_tt  # type: ignore[attr-defined]
    rows = sorted(stats.stats.items(), key=lambda item: item[1][2], reverse=True)  # type: ignore[attr-defined]
    out = [f"total {total:.1f} s of gateway CPU; by own time (tottime):"]
    for (file, line, func), (_, calls, tottime, cumtime, _) in rows[:limit]:
        where = file.replace(str(ROOT) + "/", "").split("site-packages/")[-1]
        out.append(
            f"{100 * tottime / total:5.1f}%  cum {100 * cumtime / total:5.1f}%  {calls:>8}"
            f"  {where}:{line}:{func}"
        )
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--workers", type=int, default=1, help="gateway worker processes")
    args = parser.parse_args()
    endpoints = json.loads((ROOT / "var" / "endpoints.json").read_text())
    model = endpoints["model"]
    WORK.mkdir(parents=True, exist_ok=True)
    bench_url = prepare_database(endpoints)
    database_url = bench_url.replace("postgresql+psycopg://", "postgresql://")
    env = {
        **os.environ,
        "APPLIANCE_SETTINGS_FILE": str(ROOT / "var" / "appliance.env"),
        "APPLIANCE_BACKENDS": STUB_URL,
        "APPLIANCE_DATABASE_URL": bench_url,
        # One bench user drives up to 64 parallel requests; the per-user limits would
        # (rightly) answer 429, which is not what is measured here.
        "APPLIANCE_LIMITS__PER_USER_CONCURRENCY": "1000",
        "APPLIANCE_LIMITS__PER_BACKEND_INFLIGHT": "1000",
    }
    gateway_cmd = [
        "-m", "uvicorn", "--factory", "appliance.gateway.app:create_app",
        "--host", "127.0.0.1", "--port", str(GATEWAY_PORT), "--workers", str(args.workers),
        "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    if args.profile:
        gateway_cmd = ["-c", PROFILED.format(out=WORK / "gateway.prof"), *gateway_cmd[2:]]
    gateway_cmd.insert(0, sys.executable)
    stub_cmd = [
        sys.executable, str(ROOT / "tests" / "perf" / "stub_openai.py"), str(STUB_PORT),
        "--model", model, "--zero-usage",
    ]  # fmt: skip
    stub = start(stub_cmd, WORK / "stub.log")
    gateway = start(gateway_cmd, WORK / "gateway.log", env)
    results: dict[tuple[str, int], tuple[Run, Run]] = {}
    gaps: dict[tuple[str, int], int] = {}
    try:
        wait_http(f"{STUB_URL}/health", stub, WORK / "stub.log")
        wait_http(f"{GATEWAY_URL}/readyz", gateway, WORK / "gateway.log")
        rows_before = count_audit_rows(database_url)
        token = fetch_token(endpoints)
        # Warm-up: connection pools, JWKS, first audit commits; not measured.
        asyncio.run(drive(GATEWAY_URL, token, model, False, 4, 100))
        asyncio.run(drive(STUB_URL, None, model, False, 4, 100))
        for round_no in range(args.rounds):
            token = fetch_token(endpoints)  # a fresh one per round: tokens live minutes
            for mode in ("plain", "stream"):
                for conc, count in REQUESTS.items():
                    direct, gw = results.setdefault((mode, conc), (Run(), Run()))
                    order = [(STUB_URL, None, direct), (GATEWAY_URL, token, gw)]
                    for base, auth, acc in order if round_no % 2 == 0 else order[::-1]:
                        acc.extend(
                            asyncio.run(drive(base, auth, model, mode == "stream", conc, count))
                        )
                    print(
                        f"round {round_no + 1} {mode} c={conc}: gw p50 {gw.pct(50):.2f} ms",
                        flush=True,
                    )
        for key, (_, gw) in results.items():
            gaps[key] = audit_gaps(database_url, gw.request_ids)
        rows_after = count_audit_rows(database_url)
    finally:
        for proc in (gateway, stub):
            proc.terminate()
            proc.wait(timeout=30)
        drop_database(endpoints)
    gateway_requests = sum(len(gw.request_ids) for _, gw in results.values()) + 100
    table = render(results, gaps)
    print(table)
    summary = (
        f"Audit rows before {rows_before}, after {rows_after}: {rows_after - rows_before} new"
        f" for {gateway_requests} gateway chat requests (warm-up included); requests missing"
        f" a begin or end row: {sum(gaps.values())}."
    )
    print(summary)
    profile = profile_summary(WORK / "gateway.prof") if args.profile else ""
    if profile:
        print(profile)
    lines = verdicts(results)
    print("\n".join(lines))
    write_report(table, summary + "\n\n" + "\n".join(lines), profile, args)


def write_report(table: str, summary: str, profile: str, args: argparse.Namespace) -> None:
    command = ".venv/bin/python tests/perf/gateway_overhead.py --rounds " + str(args.rounds)
    command += " --profile" if args.profile else ""
    command += f" --workers {args.workers}" if args.workers != 1 else ""
    text = [
        "# Gateway overhead (stub backend)",
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M %Z')} on {platform.node()}:"
        f" {os.cpu_count()} CPUs, Python {platform.python_version()}; client, stub, gateway"
        f" ({args.workers} uvicorn worker(s)), PostgreSQL and Keycloak all share the machine.",
        "",
        "```",
        command,
        "```",
        "",
        "Latencies in ms, full response (for streams: until `[DONE]`). `added` = gateway minus"
        " direct. `audit ev/s` = 2 rows (begin + end) per gateway request per second.",
        "",
        table,
        "",
        summary,
    ]
    if profile:
        text += ["", "## Gateway profile (cProfile, whole run)", "", "```", profile, "```"]
    # A hand-written analysis at the end of the report survives re-runs.
    previous = REPORT.read_text() if REPORT.exists() else ""
    analysis = previous[previous.find(ANALYSIS) :] if ANALYSIS in previous else ""
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text("\n".join(text) + "\n" + ("\n" + analysis if analysis else ""))


if __name__ == "__main__":
    main()

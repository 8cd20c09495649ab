"""What the gateway adds to a request: direct-to-backend vs through the gateway, one run.

Starts the stub backend (``tests/support/stub_openai.py``, answers at once) and a one-worker
gateway pointed at it, with real token verification (a token of the local Keycloak) and real audit
(the local PostgreSQL), then measures both paths in interleaved rounds so that drift of
the machine hits both alike. Each gateway request carries its own ``X-Request-ID``; after
each run the audit log must hold a ``chat.begin`` and a ``chat.end`` row for every one.

    .venv/bin/python -m bench.perf.gateway_overhead [--rounds 3] [--profile]

Reads ``var/endpoints.json`` and ``var/appliance.env`` (the local runtime must be up),
audits into a fresh ``appliance_bench_<pid>`` database of the local PostgreSQL (see
``prepare_database``) and writes the run's raw results, ``ops/benchmarks/gateway-overhead.json``,
and the page drawn from them, ``ops/benchmarks/gateway-overhead.md`` (``bench.perf.
overhead_report``). The gateway runs with the local runtime's worker count and default
limits, except the per-user and per-backend caps one bench user would hit. With
``--profile`` the gateway runs under cProfile and the hottest functions are printed and
saved to ``var/bench/gateway.prof``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from appliance.db.migrate import upgrade
from appliance.runtime.gateway_service import WORKERS, local_allowed_clients
from appliance.settings import LimitSettings
from bench.perf.overhead_load import Run, audit_gaps, count_audit_rows, drive
from bench.perf.overhead_report import RAW, load, profile_summary, raw_rows, render, write
from tests.support.paths import REPO, SETTINGS_FILE, load_endpoints
from tests.support.postgres.databases import Cluster
from tests.support.process import free_port
from tests.support.stubs import STUB
from tests.support.tokens import Tokens

STUB_PORT, GATEWAY_PORT = free_port(), free_port()
STUB_URL, GATEWAY_URL = f"http://127.0.0.1:{STUB_PORT}", f"http://127.0.0.1:{GATEWAY_PORT}"
BENCH_USER = "wang.fang"
# Requests per run, per concurrency: enough for a stable p99, bounded in time.
REQUESTS = {1: 300, 16: 800, 64: 1600}
WARM_UP = 100
# One bench user drives up to 64 parallel requests; the per-user limits would (rightly)
# answer 429, which is not what is measured here.
LIMIT_OVERRIDES = {"per_user_concurrency": 1000, "per_backend_inflight": 1000}
WORK = REPO / "var" / "bench"
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


def start(cmd: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    handle = log.open("wb")
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=handle, stderr=subprocess.STDOUT)


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


def prepare_database(endpoints: dict[str, Any]) -> str:
    """A fresh bench database on the local server, migrated to head (dropped after the run).

    Same server, roles, grants and schema as the appliance's own database, but the bench's
    tens of thousands of events neither lengthen the real audit chain nor interleave with
    the running gateway's writer. Returns the gateway role's URL for it.
    """
    cluster = Cluster.from_endpoints(endpoints)
    cluster.drop(BENCH_DB)
    db = cluster.create(BENCH_DB)
    upgrade(db.owner_url)
    return db.gateway_url


def drop_database(endpoints: dict[str, Any]) -> None:
    Cluster.from_endpoints(endpoints).drop(BENCH_DB)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument(
        "--workers", type=int, default=WORKERS, help="gateway worker processes (the runtime's)"
    )
    args = parser.parse_args()
    endpoints = load_endpoints()
    model = endpoints["model"]
    WORK.mkdir(parents=True, exist_ok=True)
    bench_url = prepare_database(endpoints)
    database_url = bench_url.replace("postgresql+psycopg://", "postgresql://")
    env = {
        **os.environ,
        "APPLIANCE_SETTINGS_FILE": str(SETTINGS_FILE),
        "APPLIANCE_BACKENDS": STUB_URL,
        "APPLIANCE_DATABASE_URL": bench_url,
        # The bench user's token is the runtime's password-grant client's.
        "APPLIANCE_KEYCLOAK__ALLOWED_CLIENTS": local_allowed_clients(),
    } | {f"APPLIANCE_LIMITS__{key.upper()}": str(value) for key, value in LIMIT_OVERRIDES.items()}
    gateway_cmd = [
        "-m", "uvicorn", "--factory", "appliance.gateway.app:create_app",
        "--host", "127.0.0.1", "--port", str(GATEWAY_PORT), "--workers", str(args.workers),
        "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    if args.profile:
        gateway_cmd = ["-c", PROFILED.format(out=WORK / "gateway.prof"), *gateway_cmd[2:]]
    gateway_cmd.insert(0, sys.executable)
    stub_cmd = [
        sys.executable, str(STUB), str(STUB_PORT),
        "--model", model, "--zero-usage",
    ]  # fmt: skip
    stub = start(stub_cmd, WORK / "stub.log")
    gateway = start(gateway_cmd, WORK / "gateway.log", env)
    results: dict[tuple[str, int], tuple[Run, Run]] = {}
    gaps: dict[tuple[str, int], int] = {}
    load_before = os.getloadavg()[0]
    measured_at = time.strftime("%Y-%m-%d %H:%M %Z")
    try:
        wait_http(f"{STUB_URL}/health", stub, WORK / "stub.log")
        wait_http(f"{GATEWAY_URL}/readyz", gateway, WORK / "gateway.log")
        rows_before = count_audit_rows(database_url)
        tokens = Tokens(endpoints)
        token = tokens(BENCH_USER)
        # Warm-up: connection pools, JWKS, first audit commits; not measured.
        asyncio.run(drive(GATEWAY_URL, token, model, False, 4, WARM_UP))
        asyncio.run(drive(STUB_URL, None, model, False, 4, WARM_UP))
        for round_no in range(args.rounds):
            token = tokens(BENCH_USER)  # renewed when near expiry: tokens live minutes
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
    command = f".venv/bin/python -m bench.perf.gateway_overhead --rounds {args.rounds}"
    command += " --profile" if args.profile else ""
    command += f" --workers {args.workers}" if args.workers != WORKERS else ""
    write({
        "measured_at": measured_at,
        "command": command,
        "machine": {
            "host": platform.node(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_1m_before": round(load_before, 2),
            "load_average_1m_after": round(os.getloadavg()[0], 2),
        },
        "workers": args.workers,
        "rounds": args.rounds,
        "requests_per_concurrency": {str(c): n for c, n in REQUESTS.items()},
        "warm_up_requests": WARM_UP,
        "limits": LimitSettings().model_dump(mode="json"),
        "limit_overrides": LIMIT_OVERRIDES,
        "rows": raw_rows(results, gaps),
        "audit_rows_before": rows_before,
        "audit_rows_after": rows_after,
        "gateway_requests": sum(len(gw.request_ids) for _, gw in results.values()) + WARM_UP,
        "profile": profile_summary(WORK / "gateway.prof") if args.profile else "",
    })  # fmt: skip
    print(render(load()))
    print(f"wrote {RAW.relative_to(REPO)} and its page")


if __name__ == "__main__":
    main()

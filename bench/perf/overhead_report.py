"""The gateway overhead benchmark's report: the table of direct vs gateway latencies, the
targets met or missed, the gateway's profile, and ``ops/benchmarks/gateway-overhead.md``
(whose hand-written analysis at the end survives re-runs)."""

from __future__ import annotations

import argparse
import os
import platform
import pstats
import time
from pathlib import Path

from bench.perf.overhead_load import Run
from tests.support.paths import REPO

REPORT = REPO / "ops" / "benchmarks" / "gateway-overhead.md"
ANALYSIS = "## Analysis"


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
        where = file.replace(str(REPO) + "/", "").split("site-packages/")[-1]
        out.append(
            f"{100 * tottime / total:5.1f}%  cum {100 * cumtime / total:5.1f}%  {calls:>8}"
            f"  {where}:{line}:{func}"
        )
    return "\n".join(out)


def write_report(table: str, summary: str, profile: str, args: argparse.Namespace) -> None:
    command = ".venv/bin/python -m bench.perf.gateway_overhead --rounds " + str(args.rounds)
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

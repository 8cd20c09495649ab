"""Write ``ops/reliability/REPORT.md`` and its plots from the chaos suite's recorded figures.

    .venv/bin/python -m tests.chaos.report

Reads every ``var/chaos/results/*.json`` (one per scenario, written by
:func:`tests.chaos.record.record`) and, when present, the pytest outcomes in
``var/chaos/junit.xml`` (``make chaos`` writes it). Scenarios this module knows (the load
scenarios and the backup drill) get their own section and plots; any other scenario gets a
table of the figures it recorded, so a new scenario shows up without touching this file.
The summary table reads the conventional keys (``requests``, ``faults_injected``,
``events_lost``, ``leaks_found``, ``time_to_recover_s``, ``passed``/``checks``) and a few
common synonyms; what a scenario did not record shows as "-".
"""

from __future__ import annotations

import json
import os
import platform
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import psutil

from appliance.settings import LimitSettings
from tests.chaos.record import REPO, RESULTS

OUT = REPO / "ops" / "reliability"
REPORT = OUT / "REPORT.md"
JUNIT = REPO / "var" / "chaos" / "junit.xml"
COMMAND = "make chaos  # or, from recorded results only: .venv/bin/python -m tests.chaos.report"

# Summary columns: the conventional key first, then synonyms other scenarios use.
COLUMNS: dict[str, tuple[str, ...]] = {
    "requests": ("requests", "cases", "queries", "tamperings", "uploads", "requests_during_outage"),
    "faults injected": ("faults_injected", "kills", "tamperings", "tokens", "outages"),
    "events lost": ("events_lost", "lost_events"),
    "leaks found": ("leaks_found", "leaked_chunks", "leaks", "accepted_forged"),
    "time to recover (s)": ("time_to_recover_s", "recovery_s", "resume_s", "restore_s"),
}


def fmt(value: Any) -> str:
    """A figure as the report prints it: 3 significant digits for floats."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value != value:  # NaN
            return "-"
        return f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"
    if isinstance(value, list):
        if len(value) <= 6 and all(not isinstance(v, dict | list) for v in value):
            return ", ".join(fmt(v) for v in value) or "(none)"
        return f"{len(value)} items"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {fmt(v)}" for k, v in value.items()) or "(none)"
    return str(value).replace("|", "\\|").replace("\n", " ")


def _scalar(key: str, value: Any) -> Any:
    if isinstance(value, dict) and key.endswith("_s"):
        # A time recorded as percentiles: quote the worst.
        numbers = [v for v in value.values() if isinstance(v, int | float)]
        return max(numbers) if numbers else None
    if isinstance(value, list):
        return len(value)
    return None if isinstance(value, dict) else value


def first(figures: Mapping[str, Any], keys: Iterable[str]) -> Any:
    """The first of ``keys`` the scenario recorded; failing that, the same key inside its
    sub-scenarios (one level down), summed for counts and the worst for times."""
    for key in keys:
        value = _scalar(key, figures.get(key))
        if value is not None and not isinstance(value, bool):
            return value
    for key in keys:
        nested = [
            _scalar(key, sub[key])
            for sub in figures.values()
            if isinstance(sub, dict) and key in sub
        ]
        numbers = [v for v in nested if isinstance(v, int | float) and not isinstance(v, bool)]
        if numbers:
            return max(numbers) if key.endswith("_s") else sum(numbers)
    return None


def _tests_of(figures: Mapping[str, Any], cases: list[tuple[str, str, float]]) -> list[str]:
    """Outcomes of the test(s) that recorded ``figures``: the test named in them, else the
    tests of the module named after the scenario (``fault_backend`` ←
    ``test_faults_backend.py``, ``hostile_audit_tamper`` ← ``test_hostile_audit.py``)."""
    test = str(figures.get("test") or "")
    if test:
        return [o for n, o, _ in cases if n.endswith(test.split("::", 1)[-1])]
    scenario = str(figures.get("scenario", ""))
    outcomes = []
    for name, outcome, _ in cases:
        module = name.split("::", 1)[0].rsplit(".", 1)[-1].removeprefix("test_")
        stem = module.replace("faults_", "fault_", 1)
        if stem and scenario.startswith(stem):
            outcomes.append(outcome)
    return outcomes


def verdict(figures: Mapping[str, Any], cases: Sequence[tuple[str, str, float]] = ()) -> str:
    """The issue's figures where the scenario records them as checks, else whether the
    tests that assert them passed in the last run."""
    passed = figures.get("passed")
    checks = figures.get("issue_checks") or figures.get("checks")
    if passed is None and isinstance(checks, dict) and checks:
        passed = all(bool(v) for v in checks.values())
    if passed is None:
        outcomes = _tests_of(figures, list(cases))
        if not outcomes:
            return "see test run"
        passed = all(o == "passed" for o in outcomes)
    return "PASS" if passed else "**FAIL**"


def load_results() -> list[dict[str, Any]]:
    results = []
    for path in sorted(RESULTS.glob("*.json")):
        try:
            body = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(body, dict):
            body.setdefault("scenario", path.stem)
            results.append(body)
    return results


def junit_outcomes() -> list[tuple[str, str, float]]:
    """(test, outcome, seconds) of the last ``make chaos`` run, from its junit file."""
    if not JUNIT.exists():
        return []
    cases: list[tuple[str, str, float]] = []
    for case in ET.parse(JUNIT).getroot().iter("testcase"):
        outcome = "passed"
        for child in case:
            if child.tag in ("failure", "error"):
                outcome = "failed"
            elif child.tag == "skipped":
                outcome = "skipped"
        name = f"{case.get('classname', '')}::{case.get('name', '')}"
        cases.append((name, outcome, float(case.get("time", 0) or 0)))
    return cases


def machine() -> str:
    memory = psutil.virtual_memory().total / 2**30
    return (
        f"{os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), "
        f"{memory:.1f} GiB memory, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


# --- plots -----------------------------------------------------------------------------


def _save(fig: Any, name: str) -> str:
    OUT.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(OUT / name, dpi=110)
    plt.close(fig)
    return name


def plot_ramp(figures: Mapping[str, Any]) -> str | None:
    steps = figures.get("ramp") or []
    if not steps:
        return None
    offered = [s["offered_per_s"] for s in steps]
    fig, (rate_ax, lat_ax, rss_ax) = plt.subplots(1, 3, figsize=(15, 4))
    rate_ax.plot(offered, offered, ":", color="grey", label="offered")
    rate_ax.plot(offered, [s["sent_per_s"] for s in steps], "o-", label="sent by the client")
    rate_ax.plot(offered, [s["ok_per_s"] for s in steps], "s-", label="answered 200")
    rate_ax.plot(
        offered,
        [s["shed"] / (s["requests"] / s["sent_per_s"]) for s in steps],
        "^-",
        label="refused 429/503",
    )
    capacity = figures.get("capacity_per_s")
    if capacity:
        rate_ax.axhline(capacity, color="red", lw=0.8, label=f"capacity {capacity:.0f}/s")
    rate_ax.set(xlabel="offered requests/s", ylabel="requests/s", title="Ramp: offered vs achieved")
    rate_ax.legend(fontsize=8)
    for key, style in (("p50_ms", "o-"), ("p99_ms", "s-")):
        lat_ax.plot(offered, [s["accepted"][key] for s in steps], style, label=f"gateway {key[:3]}")
        lat_ax.plot(
            offered,
            [s["direct"][key] for s in steps],
            style,
            alpha=0.5,
            label=f"stub direct {key[:3]}",
        )
    lat_ax.set(
        xlabel="offered requests/s",
        ylabel="ms (log)",
        yscale="log",
        title="Latency of answered requests",
    )
    lat_ax.legend(fontsize=8)
    rss = figures.get("ramp_rss") or []
    rss_ax.plot([at for at, _ in rss], [mib for _, mib in rss], color="purple")
    rss_ax.set(xlabel="seconds into the ramp", ylabel="MiB", title="Gateway workers' RSS")
    return _save(fig, "load_ramp.png")


def plot_timeseries(series: Mapping[str, list[Any]], title: str, name: str) -> str | None:
    t = series.get("t_s") or []
    if not t:
        return None
    fig, (rate_ax, lat_ax, rss_ax) = plt.subplots(3, 1, figsize=(10, 8), sharex=True)
    rate_ax.plot(t, series["sent_per_s"], label="sent")
    rate_ax.plot(t, series["ok_per_s"], label="answered 200")
    rate_ax.plot(t, series["shed_per_s"], label="refused 429/503")
    rate_ax.set(ylabel="requests/s", title=title)
    rate_ax.legend(fontsize=8)
    for key in ("p50_ms", "p99_ms"):
        lat_ax.plot(t, [v if v is not None else float("nan") for v in series[key]], label=key[:3])
    lat_ax.set(ylabel="accepted latency, ms")
    lat_ax.legend(fontsize=8)
    rss = [v if v is not None else float("nan") for v in series.get("rss_mib", [])]
    rss_ax.plot(t[: len(rss)], rss, color="purple")
    known = [v for v in rss if v == v]
    if known:  # at least a 100 MiB window, so noise does not look like growth
        middle = (max(known) + min(known)) / 2
        half = max(50.0, (max(known) - min(known)) / 2 + 10)
        rss_ax.set_ylim(middle - half, middle + half)
    rss_ax.set(ylabel="gateway RSS, MiB", xlabel="seconds")
    return _save(fig, name)


# --- sections --------------------------------------------------------------------------


def table(rows: Iterable[Iterable[Any]], header: Iterable[str]) -> list[str]:
    head = list(header)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(fmt(c) for c in row) + " |" for row in rows]
    return lines


def checks_lines(figures: Mapping[str, Any]) -> list[str]:
    """What the test asserted at this scale, and (where they differ) the issue's figures."""
    lines: list[str] = []
    checks = figures.get("checks")
    issue = figures.get("issue_checks")
    if isinstance(checks, dict) and checks:
        title = "Asserted at this scale:" if isinstance(issue, dict) and issue != checks else ""
        lines += ["", *([title, ""] if title else [])]
        lines += [f"- {'met' if ok else '**MISSED**'}: {name}" for name, ok in checks.items()]
    if isinstance(issue, dict) and issue and issue != checks:
        lines += ["", "Against the issue's figures:", ""]
        lines += [f"- {'met' if ok else '**MISSED**'}: {name}" for name, ok in issue.items()]
    return lines


def section_load_gateway(f: Mapping[str, Any]) -> list[str]:
    o = f.get("overload", {})
    lines = [
        f"Open-loop ramp against a gateway of two workers (as the runtime runs it) in front "
        f"of a stub that answers at once, so the gateway, its audit commits and the shared "
        f"cores are the limit. Capacity (the most answers per second at any step): "
        f"**{fmt(f.get('capacity_per_s'))} requests/s**; the highest rate answered in full "
        f"with accepted p99 within {fmt(f.get('latency_target_ms'))} ms: "
        f"{fmt(f.get('capacity_within_target_per_s'))} requests/s (load generator, stub, "
        f"PostgreSQL and gateway on the same {fmt(f.get('machine', {}).get('cpus'))} cores). "
        f"Added latency = gateway minus the stub called directly at the same rate in the "
        f"same run. {busy(f)}",
        "",
        *table(
            (
                [
                    s["offered_per_s"],
                    s["sent_per_s"],
                    s["ok_per_s"],
                    s["shed"],
                    s["errors"],
                    s["accepted"]["p50_ms"],
                    s["accepted"]["p99_ms"],
                    _minus(s["accepted"]["p50_ms"], s["direct"]["p50_ms"]),
                    _minus(s["accepted"]["p99_ms"], s["direct"]["p99_ms"]),
                    s["send_lag_p99_ms"],
                ]
                for s in f.get("ramp", [])
            ),
            [
                "offered/s",
                "sent/s",
                "200/s",
                "refused",
                "failed",
                "p50 ms",
                "p99 ms",
                "added p50",
                "added p99",
                "client lag p99",
            ],
        ),
        "",
        f"3x capacity ({fmt(o.get('offered_per_s'))} requests/s offered for "
        f"{fmt(o.get('duration_s'))} s; the client sent {fmt(o.get('sent_per_s'))}/s, firing "
        f"p99 {fmt(o.get('send_lag_p99_ms'))} ms late{client_limited(o)}): "
        f"{fmt(o.get('requests'))} requests, "
        f"{fmt(o.get('ok'))} answered, {fmt(o.get('shed'))} refused "
        f"({fmt(o.get('by_code'))}), {fmt(o.get('errors'))} failed. Refusals p50/p99 "
        f"{fmt(o.get('refused', {}).get('p50_ms'))}/{fmt(o.get('refused', {}).get('p99_ms'))} "
        f"ms (target p99 {fmt(f.get('shed_p99_target_ms'))} ms); accepted p50/p99 "
        f"{fmt(o.get('accepted', {}).get('p50_ms'))}/{fmt(o.get('accepted', {}).get('p99_ms'))}"
        f" ms. Workers' RSS {fmt(o.get('rss_start_mib'))} MiB at the start, "
        f"{fmt(o.get('rss_max_mib'))} at most, {fmt(o.get('rss_end_mib'))} at the end. Shed "
        f"requests seen by clients: {fmt(f.get('client_saw_overloaded'))}; accounted for by "
        f"the gateway's audited shed summaries: {fmt(f.get('audited_shed'))}.",
    ]
    lines += checks_lines(f)
    lines += ["", *SHEDDING]
    overload = plot_timeseries(
        o.get("timeseries", {}),
        "3x capacity: per-second throughput, latency, memory",
        "load_overload.png",
    )
    for image in (plot_ramp(f), overload):
        if image:
            lines += ["", f"![{image}]({image})"]
    return lines


_LIMITS = LimitSettings()
SHEDDING = [
    "How the gateway sheds (`appliance/gateway/shedding.py`, settings under `limits`): each "
    "worker refuses a new request with 503 `overloaded` and `Retry-After: 1`, before "
    "authentication or parsing, while more than `max_queued_per_worker` "
    f"({_LIMITS.max_queued_per_worker}) requests wait "
    "in the gateway itself (not yet handed to a backend: the audit commit included), more "
    f"than `max_inflight_per_worker` ({_LIMITS.max_inflight_per_worker}) are open, or its "
    f"event loop has run more than `max_loop_lag_ms` ({_LIMITS.max_loop_lag_ms:g} ms) late "
    "twice in a row. Per-user (429) and per-backend (503 "
    "`backends_busy`) limits apply after it. Shed requests have no authenticated user and "
    "never reach a backend, so they get no audit row each (that write is what an overloaded "
    "worker cannot afford, and an anonymous flood must not grow the log): each worker "
    "audits one `system` event per 10 s with the count shed by reason, and the metric "
    "`appliance_load_shed` counts them; this scenario checks that the audited counts add up "
    "to the refusals the clients saw.",
]


def client_limited(run: Mapping[str, Any]) -> str:
    """Whether the load generator itself fell behind (it shares the cores it loads)."""
    behind = (run.get("send_lag_p99_ms") or 0) > 50 or (run.get("sent_per_s") or 0) < 0.95 * (
        run.get("offered_per_s") or 0
    )
    return ", so the client's own share of the cores limited what it offered" if behind else ""


def busy(figures: Mapping[str, Any]) -> str:
    """The machine's load when the scenario began: above its core count, other work was
    competing for the cores and the timings say more about that than about the gateway."""
    load = figures.get("machine", {}).get("load_average_1m")
    cpus = figures.get("machine", {}).get("cpus") or 1
    if load is None:
        return ""
    verdict = "a busy machine: timings are pessimistic" if load > cpus else "a quiet machine"
    nice = figures.get("machine", {}).get("load_generator_nice")
    priority = f" The load generator ran at niceness {nice}." if nice else ""
    return f"1-minute load average when it began: {load:.1f} on {cpus} cores ({verdict}).{priority}"


def _minus(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def section_backend_bound(f: Mapping[str, Any]) -> list[str]:
    lines = [
        f"The stub streams slowly ({fmt(f.get('chunk_delay_ms'))} ms per chunk) and each of "
        f"{fmt(f.get('workers'))} workers may keep {fmt(f.get('per_backend_inflight'))} "
        f"requests on it: capacity {fmt(f.get('capacity_per_s'))} streams/s, the backend "
        f"(as a GPU in production) is the limit. Offered {fmt(f.get('offered_per_s'))}/s for "
        f"{fmt(f.get('duration_s'))} s: {fmt(f.get('requests'))} requests, {fmt(f.get('ok'))} "
        f"streamed in full, {fmt(f.get('shed'))} refused ({fmt(f.get('by_code'))}), "
        f"{fmt(f.get('errors'))} failed. Refusals p50/p99 "
        f"{fmt(f['refused']['p50_ms'])}/{fmt(f['refused']['p99_ms'])} ms; accepted streams "
        f"p50/p99 {fmt(f['accepted']['p50_ms'])}/{fmt(f['accepted']['p99_ms'])} ms. "
        f"{busy(f)}",
    ]
    lines += checks_lines(f)
    image = plot_timeseries(
        f.get("timeseries", {}), "Backend-bound, 3x capacity", "load_backend_bound.png"
    )
    return [*lines, "", f"![{image}]({image})"] if image else lines


def section_fairness(f: Mapping[str, Any]) -> list[str]:
    users = f.get("users", {})
    lines = [
        f"`per_user_concurrency` {fmt(f.get('per_user_concurrency'))} per worker, "
        f"{fmt(f.get('workers'))} workers; each stream holds its slot {fmt(f.get('hold_s'))} s. "
        f"{f.get('greedy_user')} offers {fmt(f.get('greedy_offered_per_s'))} requests/s "
        f"(about three times their share), the others "
        f"{fmt(f.get('polite_offered_per_s'))}/s each, for {fmt(f.get('duration_s'))} s. "
        f"The share allows the greedy user at most {fmt(f.get('greedy_bound_ok'))} answers.",
        "",
        *table(
            (
                [
                    name,
                    u["requests"],
                    u["ok"],
                    u["by_status"].get("429", 0),
                    u["by_status"].get("503", 0),
                    u["share_of_served"],
                    u["accepted"]["p99_ms"],
                ]
                for name, u in users.items()
            ),
            ["user", "requests", "answered", "429", "503", "share of answers", "p99 ms"],
        ),
    ]
    return lines + checks_lines(f)


def section_e2e(f: Mapping[str, Any]) -> list[str]:
    a = f.get("accepted", {})
    lines = [
        f"{fmt(f.get('users'))} users chatting one request at a time each through the "
        f"running appliance ({f.get('gateway')}) to the real CPU vLLM ({f.get('model')}), "
        f"`max_tokens` {fmt(f.get('max_tokens'))}: {fmt(f.get('requests'))} requests in "
        f"{fmt(f.get('wall_s'))} s ({fmt(f.get('ok_per_s'))} answered/s), statuses "
        f"{fmt(f.get('by_status'))}; latency p50/p90/p99 {fmt(a.get('p50_ms'))}/"
        f"{fmt(a.get('p90_ms'))}/{fmt(a.get('p99_ms'))} ms.",
    ]
    return lines + checks_lines(f)


def section_backup(f: Mapping[str, Any]) -> list[str]:
    lines = [
        f"A gateway audited {fmt(f.get('load_per_s'))} requests/s for {fmt(f.get('load_s'))} s "
        f"into a scratch database; mid-load it was dumped with the nightly backup's command "
        f"(`pg_dump -Fc`, {fmt(f.get('dump_bytes'))} bytes, {fmt(f.get('backup_s'))} s) and "
        f"restored with `pg_restore --exit-on-error` into a new database in "
        f"**{fmt(f.get('restore_s'))} s**.",
        "",
        f"- audit events in the source at the end: {fmt(f.get('events_in_source'))}; committed "
        f"before the backup started: {fmt(f.get('events_before_backup'))}; in the restore: "
        f"{fmt(f.get('events_restored'))}; pre-backup events missing: "
        f"**{fmt(f.get('events_lost'))}**; restored rows differing from the source: "
        f"{fmt(f.get('differing_rows'))}",
        f"- restored chain: {fmt(f.get('restored_checkpoints'))} checkpoints, "
        f"{fmt(f.get('restored_signatures_verified'))} signatures verified",
        f"- data-loss window of this backup: {fmt(f.get('loss_window_events'))} events "
        f"committed after its snapshot, spanning **{fmt(f.get('loss_window_s'))} s** up to "
        f"the end of the load (a restore from it loses what happened after the snapshot; "
        f"the nightly timer bounds that to a day unless dumps are taken more often)",
    ]
    return lines + checks_lines(f)


def section_generic(f: Mapping[str, Any]) -> list[str]:
    rows = []
    for key, value in f.items():
        if key in ("scenario", "scale", "recorded_at", "checks", "issue_checks"):
            continue
        if isinstance(value, dict):
            # One level of nesting as dotted names; deeper values print compactly.
            rows += [[f"{key}.{k}", v] for k, v in value.items()]
        else:
            rows.append([key, value])
    return [*table(rows, ["figure", "value"]), *checks_lines(f)]


SECTIONS: dict[str, tuple[str, Callable[[Mapping[str, Any]], list[str]]]] = {
    "load_gateway": ("Load: ramp to saturation, then 3x capacity", section_load_gateway),
    "load_backend_bound": ("Load: backend-bound overload", section_backend_bound),
    "load_fairness": ("Load: one greedy user against their share", section_fairness),
    "load_e2e_vllm": ("Load: end to end through the real model", section_e2e),
    "backup_drill": ("Backup and restore drill under load", section_backup),
}


def _after_run(figures: Mapping[str, Any]) -> str:
    """Flags figures recorded after the test run listed at the end (a scenario rerun on its
    own), whose outcome in that list is then not the one these figures show."""
    try:
        recorded = datetime.strptime(str(figures.get("recorded_at")), "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        return ""
    if not JUNIT.exists() or recorded.timestamp() <= JUNIT.stat().st_mtime:
        return ""
    return (
        ", after the test run listed at the end (rerun on its own; these figures are the rerun's)"
    )


def render(results: list[dict[str, Any]]) -> str:
    cases = junit_outcomes()
    scales = sorted({str(r.get("scale")) for r in results})
    lines = [
        "# Reliability and security report",
        "",
        f"Generated {time.strftime('%Y-%m-%d %H:%M %Z')} on {platform.node()}: {machine()}.",
        f"Scale of the recorded runs: {', '.join(scales) or 'none'} (`full` is `make chaos`; "
        "`short` is the reduced set in `make test`, whose figures are indicative only).",
        "Everything runs on this one machine on loopback: the load generator shares the "
        "cores with the gateway, PostgreSQL, Keycloak and the backends, so rates and "
        "latencies are this machine's, not the gateway's alone.",
        "",
        "Regenerate:",
        "",
        "```",
        COMMAND,
        "```",
        "",
        "## Summary",
        "",
        *table(
            (
                [
                    r["scenario"],
                    r.get("scale"),
                    *(first(r, keys) for keys in COLUMNS.values()),
                    verdict(r, cases),
                ]
                for r in results
            ),
            ["scenario", "scale", *COLUMNS, "result"],
        ),
    ]
    for r in results:
        title, section = SECTIONS.get(r["scenario"], (r["scenario"], section_generic))
        lines += [
            "",
            f"## {title}",
            "",
            f"`{r['scenario']}`, {r.get('scale')} scale, recorded {r.get('recorded_at')}"
            f"{_after_run(r)}.",
            "",
            *section(r),
        ]
    if cases:
        failed = [c for c in cases if c[1] != "passed"]
        lines += ["", "## Test run", "", f"{len(cases)} tests, {len(failed)} not passed."]
        lines += ["", *table(([n, o, t] for n, o, t in cases), ["test", "outcome", "seconds"])]
    return "\n".join(lines) + "\n"


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(render(load_results()))
    print(f"wrote {REPORT.relative_to(REPO)}")


if __name__ == "__main__":
    main()

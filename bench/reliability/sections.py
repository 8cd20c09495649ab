"""One section of the report per scenario it knows (the load scenarios, the backup drill
and the audit tampering); any other scenario gets a table of the figures it recorded
(``section_generic``), so a new scenario shows up without a change here. A new dedicated
section goes in ``SECTIONS``.

Every sentence is drawn from the scenario's recorded figures alone (never from the code's
current settings), so the page regenerates identically from the committed raw results. A
load run whose generator could not keep its schedule (``invalid``, see
:func:`tests.support.load.loadgen.validity`) shows why instead of the gateway's figures.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from bench.reliability.figures import checks_lines, fmt, table
from bench.reliability.plots import images


def invalid(figures: Mapping[str, Any]) -> str:
    """``invalid: <why>`` where the load generator judged its own run invalid, "" where it
    kept its schedule; runs recorded before it judged itself say so."""
    if "invalid" not in figures and "valid" not in figures:
        return "not checked"
    reasons = figures.get("invalid") or []
    return f"invalid: {'; '.join(reasons)}" if reasons else ""


def validity_line(figures: Mapping[str, Any]) -> list[str]:
    """The load generator's verdict on its own run, as the section's first words."""
    verdict = invalid(figures)
    if verdict == "not checked":
        return [
            "The load generator's own check (send lag against its schedule, open-file limit)"
            " was not recorded with this run.",
            "",
        ]
    if verdict:
        return [
            f"**{verdict}.** The gateway figures of the invalid parts are not presented;"
            " they stay in the raw results.",
            "",
        ]
    return []


def _step_row(s: Mapping[str, Any]) -> list[Any]:
    if s.get("invalid"):
        return [s["offered_per_s"], s["sent_per_s"], *["-"] * 7, s["send_lag_p99_ms"]]
    return [
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


def _overload(f: Mapping[str, Any]) -> str:
    o = f.get("overload", {})
    sending = (
        f"3x capacity ({fmt(o.get('offered_per_s'))} requests/s offered for "
        f"{fmt(o.get('duration_s'))} s; the client sent {fmt(o.get('sent_per_s'))}/s, firing "
        f"p99 {fmt(o.get('send_lag_p99_ms'))} ms late{client_limited(o)})"
    )
    if o.get("invalid"):
        return f"{sending}: **{invalid(o)}**; the gateway's figures are not presented."
    return (
        f"{sending}: {fmt(o.get('requests'))} requests, "
        f"{fmt(o.get('ok'))} answered, {fmt(o.get('shed'))} refused "
        f"({fmt(o.get('by_code'))}), {fmt(o.get('errors'))} failed. Refusals p50/p99 "
        f"{fmt(o.get('refused', {}).get('p50_ms'))}/{fmt(o.get('refused', {}).get('p99_ms'))} "
        f"ms (target p99 {fmt(f.get('shed_p99_target_ms'))} ms); accepted p50/p99 "
        f"{fmt(o.get('accepted', {}).get('p50_ms'))}/{fmt(o.get('accepted', {}).get('p99_ms'))}"
        f" ms. Workers' RSS {fmt(o.get('rss_start_mib'))} MiB at the start, "
        f"{fmt(o.get('rss_max_mib'))} at most, {fmt(o.get('rss_end_mib'))} at the end. Shed "
        f"requests seen by clients: {fmt(f.get('client_saw_overloaded'))}; accounted for by "
        f"the gateway's audited shed summaries: {fmt(f.get('audited_shed'))}."
    )


def section_load_gateway(f: Mapping[str, Any]) -> list[str]:
    lines = [
        *validity_line(f),
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
            (_step_row(s) for s in f.get("ramp", [])),
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
        _overload(f),
    ]
    lines += checks_lines(f)
    lines += ["", shedding(f)]
    return lines + image_lines(f)


def image_lines(f: Mapping[str, Any]) -> list[str]:
    return [line for image in images(f) for line in ("", f"![{image}]({image})")]


def shedding(f: Mapping[str, Any]) -> str:
    """How the gateway shed in this run, with the limits recorded with it."""
    limits = f.get("limits")
    recorded = (
        "the limits in force: " + ", ".join(f"`{k}` {fmt(v)}" for k, v in limits.items())
        if isinstance(limits, dict)
        else "the limits in force were not recorded with this run"
    )
    return (
        "How the gateway sheds (`appliance/gateway/edge/shedding.py`, settings under "
        "`limits`): each worker refuses a new request with 503 `overloaded` and `Retry-After`, "
        "before authentication or parsing, while it is saturated; per-user (429) and "
        "per-backend (503 `backends_busy`) limits apply after it. Shed requests have no "
        "authenticated user and never reach a backend, so they get no audit row each (that "
        "write is what an overloaded worker cannot afford, and an anonymous flood must not "
        "grow the log): each worker audits one `system` event per 10 s with the count shed "
        "by reason, and the metric `appliance_load_shed` counts them; this scenario checks "
        f"that the audited counts add up to the refusals the clients saw. In this run, {recorded}."
    )


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
    setup = (
        f"The stub streams slowly ({fmt(f.get('chunk_delay_ms'))} ms per chunk) and each of "
        f"{fmt(f.get('workers'))} workers may keep {fmt(f.get('per_backend_inflight'))} "
        f"requests on it: capacity {fmt(f.get('capacity_per_s'))} streams/s, the backend "
        f"(as a GPU in production) is the limit. Offered {fmt(f.get('offered_per_s'))}/s for "
        f"{fmt(f.get('duration_s'))} s"
    )
    if f.get("invalid"):
        outcome = "; the gateway's figures are not presented."
    else:
        outcome = (
            f": {fmt(f.get('requests'))} requests, {fmt(f.get('ok'))} "
            f"streamed in full, {fmt(f.get('shed'))} refused ({fmt(f.get('by_code'))}), "
            f"{fmt(f.get('errors'))} failed. Refusals p50/p99 "
            f"{fmt(f['refused']['p50_ms'])}/{fmt(f['refused']['p99_ms'])} ms; accepted streams "
            f"p50/p99 {fmt(f['accepted']['p50_ms'])}/{fmt(f['accepted']['p99_ms'])} ms."
        )
    lines = [*validity_line(f), f"{setup}{outcome} {busy(f)}"]
    return lines + checks_lines(f) + image_lines(f)


def section_fairness(f: Mapping[str, Any]) -> list[str]:
    users = f.get("users", {})
    lines = [
        *validity_line(f),
        f"`per_user_concurrency` {fmt(f.get('per_user_concurrency'))} across all "
        f"{fmt(f.get('workers'))} workers (slots leased in PostgreSQL); each stream holds its "
        f"slot {fmt(f.get('hold_s'))} s. "
        f"{f.get('greedy_user')} offers {fmt(f.get('greedy_offered_per_s'))} requests/s "
        f"(about six times their share), the others "
        f"{fmt(f.get('polite_offered_per_s'))}/s each, for {fmt(f.get('duration_s'))} s. "
        f"The share allows the greedy user at most {fmt(f.get('greedy_bound_ok'))} answers.",
        "",
        *table(
            (
                [name, u["requests"], *["-"] * 5]
                if u.get("invalid")
                else [
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
    setup = (
        f"{fmt(f.get('users'))} users chatting one request at a time each through the "
        f"running appliance ({f.get('gateway')}) to the real CPU vLLM ({f.get('model')}), "
        f"`max_tokens` {fmt(f.get('max_tokens'))}"
    )
    if f.get("invalid"):
        return [*validity_line(f), f"{setup}."]
    lines = [
        *validity_line(f),
        f"{setup}: {fmt(f.get('requests'))} requests in "
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


def section_hostile_audit(f: Mapping[str, Any]) -> list[str]:
    tried = f.get("tried_per_kind", {})
    detected = f.get("detected_per_kind", {})
    undetected = f.get("undetected_per_kind", {})
    inherent = f.get("undetectable_by_design_per_kind", {})
    rows = [
        [kind, n, detected.get(kind, 0), undetected.get(kind, 0), inherent.get(kind, 0)]
        for kind, n in sorted(tried.items())
    ]
    return [
        f"{fmt(f.get('tamperings'))} tamperings of a copy of the live audit log "
        f"({fmt(f.get('copy_rows'))} rows, {fmt(f.get('copy_signed_checkpoints'))} signed "
        f"checkpoints), as a database superuser without the signing key would make them: "
        f"in memory, and {fmt(f.get('superuser_tamperings'))} in SQL on a scratch database "
        f"with the append-only triggers disabled (`db_*`). Every kind the verifier can "
        f"detect (deleted or unsigned checkpoints included, since signed checkpoints are "
        f"required) must be detected: {fmt(sum(undetected.values()))} were not. Cutting rows "
        f"after the last checkpoint and re-hashing rows after it stay undetectable without "
        f"an external anchor of the head (a later piece of work); they are counted apart, "
        f"bounded by the rows after the last checkpoint (here "
        f"{fmt(f.get('rows_after_last_checkpoint'))}, always fewer than checkpoint_every = "
        f"{fmt(f.get('checkpoint_every'))}). Found at the right row: "
        f"{fmt(f.get('located_at_the_right_row'))}; edited `pg_dump` lines detected: "
        f"{fmt(f.get('dump_detected'))} of {fmt(f.get('dump_tamperings'))}.",
        "",
        *table(rows, ["kind", "tried", "detected", "undetected", "undetectable by design"]),
        *checks_lines(f),
    ]


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
    "hostile_audit_tamper": ("Hostile: tampering with the audit log", section_hostile_audit),
}

"""Reading the chaos suite's recorded figures and formatting them for the report.

Every scenario writes ``var/chaos/results/<scenario>.json`` (:func:`tests.support.record.record`);
``make chaos`` also leaves the pytest outcomes in ``var/chaos/junit.xml``. The summary table
reads the conventional keys (``requests``, ``faults_injected``, ``events_lost``,
``leaks_found``, ``time_to_recover_s``, ``passed``/``checks``) and a few common synonyms;
what a scenario did not record shows as "-".
"""

from __future__ import annotations

import json
import os
import platform
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import psutil

from tests.support.record import REPO, RESULTS

JUNIT = REPO / "var" / "chaos" / "junit.xml"

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
    tests that assert them passed in the last run; "invalid" where the load generator
    could not keep its schedule, since the figures then measure the client."""
    if figures.get("invalid"):
        return "invalid (load generator)"
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


def load_results(directory: Path = RESULTS) -> list[dict[str, Any]]:
    """Every scenario's figures in ``directory`` (one JSON file each), by name."""
    results = []
    for path in sorted(directory.glob("*.json")):
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

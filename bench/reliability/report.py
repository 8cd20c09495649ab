"""Write ``ops/reliability/REPORT.md`` and its plots from the chaos suite's raw results.

    .venv/bin/python -m bench.reliability.report --collect   # after a chaos run
    .venv/bin/python -m bench.reliability.report             # from the committed raw results

``--collect`` copies every ``var/chaos/results/*.json`` (one per scenario, written by
:func:`tests.support.record.record`) into ``ops/reliability/raw/scenarios/``, replacing
what was there, and records the machine and, when present, the pytest outcomes of
``var/chaos/junit.xml`` (``make chaos`` writes it) in ``ops/reliability/raw/run.json``.
The page is then rendered from those raw files alone, so a fresh clone regenerates it
exactly (``python -m bench.docs`` does, for every page of ``ops/``). Scenarios this module
knows (the load scenarios and the backup drill) get their own section and plots; any
other scenario gets a table of the figures it recorded, so a new scenario shows up without
touching this file. The summary table reads the conventional keys (``requests``,
``faults_injected``, ``events_lost``, ``leaks_found``, ``time_to_recover_s``,
``passed``/``checks``) and a few common synonyms; what a scenario did not record shows as
"-".
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bench.reliability.figures import (
    COLUMNS,
    JUNIT,
    first,
    junit_outcomes,
    load_results,
    machine,
    table,
    verdict,
)
from bench.reliability.plots import OUT, draw
from bench.reliability.sections import SECTIONS, section_generic
from tests.support.record import REPO, RESULTS

REPORT = OUT / "REPORT.md"
RAW = OUT / "raw"
SCENARIOS = RAW / "scenarios"
RUN = RAW / "run.json"
COMMAND = "make chaos  # or, from the committed raw results only: .venv/bin/python -m bench.docs"
STAMP = "%Y-%m-%dT%H:%M:%S%z"


def collect() -> None:
    """Replace the committed raw results with the last chaos run's."""
    shutil.rmtree(SCENARIOS, ignore_errors=True)
    SCENARIOS.mkdir(parents=True)
    for path in sorted(RESULTS.glob("*.json")):
        shutil.copyfile(path, SCENARIOS / path.name)
    junit_at = (
        time.strftime(STAMP, time.localtime(JUNIT.stat().st_mtime)) if JUNIT.exists() else None
    )
    run = {
        "collected_at": time.strftime(STAMP),
        "host": platform.node(),
        "machine": machine(),
        "junit_at": junit_at,
        "tests": [list(case) for case in junit_outcomes()],
    }
    RUN.write_text(json.dumps(run, ensure_ascii=False, indent=2) + "\n")


def load_run() -> dict[str, Any]:
    body: dict[str, Any] = json.loads(RUN.read_text())
    return body


def _after_run(figures: Mapping[str, Any], run: Mapping[str, Any]) -> str:
    """Flags figures recorded after the test run listed at the end (a scenario rerun on its
    own), whose outcome in that list is then not the one these figures show."""
    try:
        recorded = datetime.strptime(str(figures.get("recorded_at")), STAMP)
        tests_at = datetime.strptime(str(run.get("junit_at")), STAMP)
    except ValueError:
        return ""
    if recorded <= tests_at:
        return ""
    return (
        ", after the test run listed at the end (rerun on its own; these figures are the rerun's)"
    )


def render(results: list[dict[str, Any]], run: Mapping[str, Any]) -> str:
    """The page, from the raw results alone."""
    cases = [(str(n), str(o), float(t)) for n, o, t in run.get("tests", [])]
    scales = sorted({str(r.get("scale")) for r in results})
    lines = [
        "# Reliability and security report",
        "",
        f"Raw results collected {run.get('collected_at')} on {run.get('host')}: "
        f"{run.get('machine')}; they are committed in `{RAW.relative_to(REPO)}/`.",
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
            f"{_after_run(r, run)}.",
            "",
            *section(r),
        ]
    if cases:
        failed = [c for c in cases if c[1] != "passed"]
        lines += ["", "## Test run", "", f"{len(cases)} tests, {len(failed)} not passed."]
        lines += ["", *table(([n, o, t] for n, o, t in cases), ["test", "outcome", "seconds"])]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--collect", action="store_true", help="take the last chaos run's results as raw first"
    )
    if parser.parse_args().collect:
        collect()
    results = load_results(SCENARIOS)
    REPORT.write_text(render(results, load_run()))
    for figures in results:
        draw(figures)
    print(f"wrote {REPORT.relative_to(REPO)} and its plots")


if __name__ == "__main__":
    main()

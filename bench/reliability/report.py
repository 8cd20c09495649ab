"""Write ``ops/reliability/REPORT.md`` and its plots from the chaos suite's recorded figures.

    .venv/bin/python -m bench.reliability.report

Reads every ``var/chaos/results/*.json`` (one per scenario, written by
:func:`tests.support.record.record`) and, when present, the pytest outcomes in
``var/chaos/junit.xml`` (``make chaos`` writes it). Scenarios this module knows (the load
scenarios and the backup drill) get their own section and plots; any other scenario gets a
table of the figures it recorded, so a new scenario shows up without touching this file.
The summary table reads the conventional keys (``requests``, ``faults_injected``,
``events_lost``, ``leaks_found``, ``time_to_recover_s``, ``passed``/``checks``) and a few
common synonyms; what a scenario did not record shows as "-".
"""

from __future__ import annotations

import platform
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
from bench.reliability.plots import OUT
from bench.reliability.sections import SECTIONS, section_generic
from tests.support.record import REPO

REPORT = OUT / "REPORT.md"
COMMAND = (
    "make chaos  # or, from recorded results only: .venv/bin/python -m bench.reliability.report"
)


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

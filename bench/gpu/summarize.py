"""Gather ``vllm bench serve`` result files into one Markdown table (stdout) and a JSONL.

Usage: python3 summarize.py RESULT_DIR OUT_JSONL
"""

import json
import sys
from pathlib import Path

KEYS = (
    "max_concurrency", "num_prompts", "completed", "failed", "duration", "output_throughput",
    "mean_ttft_ms", "median_ttft_ms", "p99_ttft_ms", "mean_tpot_ms", "median_tpot_ms",
    "p99_tpot_ms", "median_itl_ms",
)  # fmt: skip


def main(result_dir: Path, out: Path) -> None:
    rows = []
    for path in sorted(result_dir.glob("*.json")):
        data = json.loads(path.read_text())
        rows.append({"run": path.stem, **{k: data.get(k) for k in KEYS}})
    with out.open("a") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")
    print("| run | done | output tok/s | TTFT p50 / p99 ms | TPOT p50 / p99 ms |")
    print("|---|---|---|---|---|")
    for r in rows:
        ttft = f"{r['median_ttft_ms'] or 0:.1f} / {r['p99_ttft_ms'] or 0:.1f}"
        tpot = f"{r['median_tpot_ms'] or 0:.2f} / {r['p99_tpot_ms'] or 0:.2f}"
        tps = f"{r['output_throughput'] or 0:,.1f}"
        print(f"| {r['run']} | {r['completed']} | {tps} | {ttft} | {tpot} |")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))

"""Draw ``ops/benchmarks/gpu-h200.md`` from the raw results of one FP8 measuring run on the
lent GPU machine, committed beside it in ``ops/benchmarks/gpu-h200/``: one folder per side
(``planner/``, ``default/``), each what ``bench/gpu/h200_run.sh fp8 SIDE`` left in ``$OUT``
(``results.jsonl`` from ``summarize.py``, ``run.json`` from ``run_facts.py``, ``bench.log``,
``summary_fp8.md`` and ``results.tar.gz`` with vLLM's result files and the servers' logs).
The two sides run in two calls back to back on the same machine, so each folder's
``run.json`` names the card it ran on, and the page says so when they differ.

Runs here (no GPU needed): ``python -m bench.gpu.report`` rewrites the page, and
``render_raw`` gives it from the committed raw results alone, the form ``bench.docs``
checks its pages in. May import ``tests.support`` (the repository's paths) only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tests.support.paths import REPO

REPORT = REPO / "ops" / "benchmarks" / "gpu-h200.md"
RAW = REPORT.with_suffix("")
SIDES = ("planner", "default")
RUN = "SERVE_WAIT=200 BUDGET_S=520 BENCH_TIMEOUT=90 bash bench/gpu/h200_run.sh"
MODE = "fp8"
# What the old hand-written page also quoted and no committed run measured, with the
# script that measures it.
NOT_MEASURED = (
    ("BF16", ("bash bench/gpu/h200_run.sh bf16 planner", "... bf16 default")),
    ("the gateway in front of vLLM and its audit count", ("bash bench/gpu/gateway_run.sh",)),
    ("the DeepSeek-V3/R1-shape slices (MLA + MoE)", ("bash bench/gpu/moe_run.sh",)),
)

Row = Mapping[str, Any]


def load(raw: Path = RAW) -> dict[str, dict[str, Any]]:
    """Each side's ``run.json`` and result rows (``results.jsonl``), keyed by side."""
    sides: dict[str, dict[str, Any]] = {}
    for side in SIDES:
        folder = raw / side
        rows = [json.loads(line) for line in (folder / "results.jsonl").read_text().splitlines()]
        sides[side] = {"facts": json.loads((folder / "run.json").read_text()), "rows": rows}
    return sides


def _ms(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def _row(label: str, row: Row | None) -> str:
    if row is None:
        return f"| {label} | not run (the run's deadline) | | | |"
    done = f"{row['completed']}/{row['num_prompts']}"
    return (
        f"| {label} | {done} | {row['output_throughput']:,.1f} "
        f"| {_ms(row['mean_ttft_ms'])} / {_ms(row['p99_ttft_ms'])} "
        f"| {_ms(row['mean_tpot_ms'])} / {_ms(row['p99_tpot_ms'])} |"
    )


def _by_run(rows: Sequence[Row]) -> dict[str, Row]:
    return {row["run"]: row for row in rows}


def _levels(sides: Mapping[str, Mapping[str, Any]]) -> list[int]:
    levels = {
        int(row["max_concurrency"])
        for side in sides.values()
        for row in side["rows"]
        if not row["run"].endswith("_greedy") and row["max_concurrency"] is not None
    }
    return sorted(levels)


def _machine(sides: Mapping[str, Mapping[str, Any]]) -> list[str]:
    lines = []
    for side in SIDES:
        facts = sides[side]["facts"]
        gpu, software = facts["gpu"], facts["software"]
        lines.append(
            f"- **{side}** side, {facts['date']}: {gpu['name']} ({gpu['memory.total']},"
            f" driver {gpu['driver_version']}), {facts['cpus']} CPU cores, Python"
            f" {software['python']}, torch {software['torch']}, vLLM {software['vllm']}."
        )
    cards = {sides[side]["facts"]["gpu"]["name"] for side in SIDES}
    if len(cards) > 1:
        lines.append("- **The two sides ran on different cards: their figures do not compare.**")
    return lines


def _server_lines(sides: Mapping[str, Mapping[str, Any]]) -> list[str]:
    lines = [
        "| server | ready after | weights | KV cache | KV cache tokens |",
        "|---|---|---|---|---|",
    ]
    plan = sides["planner"]["facts"]["plan"]
    lines.append(
        f"| planner's plan (expected) | | {plan['weights_gib']:.2f} GiB"
        f" | {plan['kv_cache_gib']:.2f} GiB | {plan['kv_cache_tokens']:,} |"
    )
    for side in SIDES:
        label = f"{MODE}_{side}"
        server = sides[side]["facts"]["servers"].get(label)
        if server is None:
            continue

        def gib(key: str, server: Mapping[str, Any] = server) -> str:
            return "–" if server[key] is None else f"{server[key]:.2f} GiB"

        tokens = "–" if server["kv_cache_tokens"] is None else f"{server['kv_cache_tokens']:,}"
        ready = f"{server['ready_after_s']} s" if server["ready"] else "not ready"
        lines.append(
            f"| {side} (vLLM's log) | {ready} | {gib('weights_gib')}"
            f" | {gib('kv_cache_gib')} | {tokens} |"
        )
    return lines


def _ratios(sides: Mapping[str, Mapping[str, Any]], levels: Sequence[int]) -> list[str]:
    planner, default = _by_run(sides["planner"]["rows"]), _by_run(sides["default"]["rows"])
    parts = []
    for level in levels:
        ours, theirs = (
            planner.get(f"{MODE}_planner_c{level}"),
            default.get(f"{MODE}_default_c{level}"),
        )
        if ours is None or theirs is None or not theirs["output_throughput"]:
            parts.append(f"c={level}: not both measured")
            continue
        ratio = ours["output_throughput"] / theirs["output_throughput"]
        parts.append(f"c={level}: ×{ratio:.3f} ({ratio - 1:+.1%})")
    return parts


def render(sides: Mapping[str, Mapping[str, Any]]) -> str:
    """The page, from both sides' run facts and result rows."""
    planner_facts = sides["planner"]["facts"]
    load_facts = planner_facts["load"]
    levels = _levels(sides)
    planner, default = _by_run(sides["planner"]["rows"]), _by_run(sides["default"]["rows"])
    plan = planner_facts["plan"]
    command = planner_facts["servers"][f"{MODE}_planner"]["command"]
    default_command = sides["default"]["facts"]["servers"][f"{MODE}_default"]["command"]
    table = ["| run | done | output tok/s | TTFT mean / p99 ms | TPOT mean / p99 ms |"]
    table.append("|---|---|---|---|---|")
    for level in levels:
        for side, rows in (("planner", planner), ("default", default)):
            table.append(_row(f"{side} c={level}", rows.get(f"{MODE}_{side}_c{level}")))
    greedy = planner.get(f"{MODE}_planner_c1_greedy")
    if greedy is not None:
        table.append(_row("planner c=1 greedy", greedy))
    lines = [
        "# Planner profile vs vLLM defaults on one GPU (R1-Distill-Qwen-7B shape, FP8)",
        "",
        "Generated by `python -m bench.gpu.report` from the raw results in"
        " [gpu-h200/](gpu-h200/): one folder per side, each what `bench/gpu/h200_run.sh"
        f" {MODE} SIDE` wrote on the lent GPU machine (`results.jsonl`, `run.json`, `bench.log`,"
        " `summary_fp8.md`, and `results.tar.gz` with vLLM's result files and server logs).",
        "",
        "## Machine",
        "",
        *_machine(sides),
        "",
        "The weights are dummy (random values in the real R1-Distill-Qwen-7B shape,"
        " `bench/gpu/make_dummy_model.py`): speed and memory are those of the real model, the"
        " text is not.",
        "",
        "## What was compared",
        "",
        f"- **planner**: the command the appliance renders from its plan for {plan['gpu']}"
        f" at a {plan['context']:,}-token context and 20 tok/s per user"
        " (`bench/gpu/render_profile.py`, through `appliance.sizing.launch_profile`, the code"
        " path the runtime and the Ansible role use):",
        "",
        "  ```",
        f"  {command}",
        "  ```",
        "- **default**: vLLM's defaults, only model, tokenizer, dummy weights, quantization,"
        " name, host and port given:",
        "",
        "  ```",
        f"  {default_command}",
        "  ```",
        "",
        "Load: `vllm bench serve --backend openai-chat`, random dataset,"
        f" {load_facts['input_len']:,} tokens in, {load_facts['output_len']:,} out,"
        " `--ignore-eos`, 4 × concurrency prompts up to 16 and 2 × beyond, up to 8 warm-up"
        " requests; sampling follows the model's generation_config (T 0.6, top-p 0.95) except"
        " the *greedy* run (`--temperature 0`). Each side's levels run in this order on one"
        " server started fresh for them. Each figure is one short run.",
        "",
        "## Results",
        "",
        *table,
        "",
        "Planner against defaults, output tok/s: " + "; ".join(_ratios(sides, levels)) + ".",
        "",
        "## The planner's memory model against vLLM",
        "",
        *_server_lines(sides),
        "",
        f"The plan expects {plan['expected_tps']:,.1f} tok/s for one stream (batch-1 ceiling"
        f" {plan['decode_ceiling_tps']:,.1f} tok/s from memory bandwidth).",
        "",
        "## Not re-measured",
        "",
        "Not measured by these results, so not quoted here: "
        + "; ".join(
            f"{what} ({', then '.join(f'`{command}`' for command in commands)})"
            for what, commands in NOT_MEASURED
        )
        + ".",
        "",
        "## How to rerun",
        "",
        "`bash bench/gpu/pack_site.sh .gpu/site` packs vLLM 0.26.0's packages the GPU machine"
        " lacks (`bench/gpu/wheels_included.txt`) into parts of at most 50 MiB. Then calls back"
        " to back on the GPU machine, each carrying one part in its own ignored folder:",
        "",
        "```",
        "# 1: mkdir -p /tmp/wheels && cp .gpu/stage1/site.tar.xz.part-* /tmp/wheels/",
        "# 2: cp .gpu/stage2/site.tar.xz.part-* /tmp/wheels/ && bash bench/gpu/install.sh \\",
        f"#      && {RUN} {MODE} planner",
        f"# 3: {RUN} {MODE} default",
        "```",
        "",
        "Copy each call's `$OUT` into `ops/benchmarks/gpu-h200/SIDE/` and run"
        " `python -m bench.gpu.report` (or `python -m bench.docs`).",
    ]
    return "\n".join(lines) + "\n"


def render_raw(raw: Path = RAW) -> str:
    """The page, from the committed raw results alone (``bench.docs`` checks it)."""
    return render(load(raw))


def main() -> None:
    REPORT.write_text(render_raw())
    print(f"wrote {REPORT.relative_to(REPO)} from {RAW.relative_to(REPO)}")


if __name__ == "__main__":
    main()

"""``appliance bench``: a bounded concurrency sweep through the gateway, with goodput."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from appliance.sizing.bench import BenchConfig, BenchReport, run_bench
from appliance.sizing.bench_report import write_json, write_plot


def _fmt(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _table(report: BenchReport) -> Table:
    table = Table(title=f"{report.model} via {report.target}")
    for column in (
        "concurrency",
        "requests",
        "failed",
        "output tok/s",
        "TTFT p50 ms",
        "TTFT p99 ms",
        "TPOT p50 ms",
        "TPOT p99 ms",
        "per-user tok/s",
        "meets",
    ):
        table.add_column(column, justify="right")
    for level in report.levels:
        table.add_row(
            str(level.concurrency), str(level.requests), str(level.failed),
            _fmt(level.output_tps, 1), _fmt(level.ttft_p50_ms), _fmt(level.ttft_p99_ms),
            _fmt(level.tpot_p50_ms, 1), _fmt(level.tpot_p99_ms, 1),
            _fmt(level.per_user_tps, 1), "yes" if level.meets_target else "no",
        )  # fmt: skip
    return table


def _levels(text: str) -> tuple[int, ...]:
    try:
        levels = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError as exc:
        raise typer.BadParameter("concurrency levels look like 1,4,16") from exc
    if not levels or min(levels) < 1:
        raise typer.BadParameter("concurrency levels must be positive integers")
    return levels


def bench(
    *,
    target: Annotated[str, typer.Option(help="Gateway URL, e.g. https://llm.example.cn.")],
    token_env: Annotated[
        str, typer.Option(help="Environment variable holding a bearer token.")
    ] = "APPLIANCE_TOKEN",  # noqa: S107 - the name of a variable, not a secret
    concurrency: Annotated[str, typer.Option(help="Levels to sweep, e.g. 1,4,16.")] = "1,4,16",
    requests: Annotated[int, typer.Option(min=1, help="Requests per level.")] = 16,
    max_tokens: Annotated[int, typer.Option(min=1, help="max_tokens per request.")] = 256,
    min_tps: Annotated[float, typer.Option(help="Per-user speed target, tok/s.")] = 10.0,
    model: Annotated[str | None, typer.Option(help="Model (default: the first listed).")] = None,
    ignore_eos: Annotated[
        bool, typer.Option(help="Ask vLLM for exactly max_tokens (fixed-length load).")
    ] = False,
    output: Annotated[
        Path | None, typer.Option(help="Path prefix for the .json and .png (default var/bench/).")
    ] = None,
) -> None:
    """Measure TTFT, TPOT and throughput per concurrency level, and the goodput."""
    token = os.environ.get(token_env)
    if not token:
        typer.secho(f"error: set {token_env} to an access token", fg=typer.colors.RED, err=True)
        raise typer.Exit(1)
    levels = _levels(concurrency)
    config = BenchConfig(target, token, levels, requests, max_tokens, min_tps, model,
                         ignore_eos=ignore_eos)  # fmt: skip
    prefix = output or Path("var/bench") / time.strftime("bench-%Y%m%d-%H%M%S")
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, transient=True) as progress:
        task = progress.add_task("requests", total=requests * len(levels))

        def advance(level: int) -> None:
            progress.update(task, advance=1, description=f"concurrency {level}")

        report = asyncio.run(run_bench(config, advance))
    console = Console()
    console.print(_table(report))
    json_path, png_path = prefix.with_suffix(".json"), prefix.with_suffix(".png")
    write_json(report, json_path)
    write_plot(report, png_path)
    good = report.goodput_concurrency
    verdict = (
        f"goodput: {good} concurrent users at ≥ {min_tps:g} tok/s each"
        if good
        else (f"no level met {min_tps:g} tok/s per user")
    )
    console.print(verdict)
    console.print(f"saved {json_path} and {png_path}")
    if any(level.failed == level.requests for level in report.levels):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Attach this area's commands to the main app."""
    app.command()(bench)

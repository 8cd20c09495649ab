"""The report's plots (matplotlib, no display): the load ramp and per-second time series,
saved as PNG files next to ``ops/reliability/REPORT.md``. ``images`` names the plots a
scenario's figures allow without drawing them (the page's text depends on the raw results
only); ``draw`` draws them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from tests.support.record import REPO

OUT = REPO / "ops" / "reliability"
OVERLOAD_TITLE = "3x capacity: per-second throughput, latency, memory"
BACKEND_BOUND_TITLE = "Backend-bound, 3x capacity"


def _save(fig: Any, name: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(OUT / name, dpi=110)
    plt.close(fig)


def plot_ramp(figures: Mapping[str, Any]) -> Any:
    steps = figures["ramp"]
    offered = [s["offered_per_s"] for s in steps]
    fig, (rate_ax, lat_ax, rss_ax) = plt.subplots(1, 3, figsize=(15, 4))
    rate_ax.plot(offered, offered, ":", color="grey", label="offered")
    rate_ax.plot(offered, [s["sent_per_s"] for s in steps], "o-", label="sent by the client")
    rate_ax.plot(offered, [s["ok_per_s"] for s in steps], "s-", label="answered 200")
    rate_ax.plot(
        offered,
        [s["shed"] / (s["requests"] / s["sent_per_s"]) for s in steps],
        "^-",
        label="refused 429/503",
    )
    capacity = figures.get("capacity_per_s")
    if capacity:
        rate_ax.axhline(capacity, color="red", lw=0.8, label=f"capacity {capacity:.0f}/s")
    rate_ax.set(xlabel="offered requests/s", ylabel="requests/s", title="Ramp: offered vs achieved")
    rate_ax.legend(fontsize=8)
    for key, style in (("p50_ms", "o-"), ("p99_ms", "s-")):
        lat_ax.plot(offered, [s["accepted"][key] for s in steps], style, label=f"gateway {key[:3]}")
        lat_ax.plot(
            offered,
            [s["direct"][key] for s in steps],
            style,
            alpha=0.5,
            label=f"stub direct {key[:3]}",
        )
    lat_ax.set(
        xlabel="offered requests/s",
        ylabel="ms (log)",
        yscale="log",
        title="Latency of answered requests",
    )
    lat_ax.legend(fontsize=8)
    rss = figures.get("ramp_rss") or []
    rss_ax.plot([at for at, _ in rss], [mib for _, mib in rss], color="purple")
    rss_ax.set(xlabel="seconds into the ramp", ylabel="MiB", title="Gateway workers' RSS")
    return fig


def plot_timeseries(series: Mapping[str, list[Any]], title: str) -> Any:
    t = series["t_s"]
    fig, (rate_ax, lat_ax, rss_ax) = plt.subplots(3, 1, figsize=(10, 8), sharex=True)
    rate_ax.plot(t, series["sent_per_s"], label="sent")
    rate_ax.plot(t, series["ok_per_s"], label="answered 200")
    rate_ax.plot(t, series["shed_per_s"], label="refused 429/503")
    rate_ax.set(ylabel="requests/s", title=title)
    rate_ax.legend(fontsize=8)
    for key in ("p50_ms", "p99_ms"):
        lat_ax.plot(t, [v if v is not None else float("nan") for v in series[key]], label=key[:3])
    lat_ax.set(ylabel="accepted latency, ms")
    lat_ax.legend(fontsize=8)
    rss = [v if v is not None else float("nan") for v in series.get("rss_mib", [])]
    rss_ax.plot(t[: len(rss)], rss, color="purple")
    known = [v for v in rss if v == v]
    if known:  # at least a 100 MiB window, so noise does not look like growth
        middle = (max(known) + min(known)) / 2
        half = max(50.0, (max(known) - min(known)) / 2 + 10)
        rss_ax.set_ylim(middle - half, middle + half)
    rss_ax.set(ylabel="gateway RSS, MiB", xlabel="seconds")
    return fig


def _plots(figures: Mapping[str, Any]) -> list[tuple[str, Callable[[], Any]]]:
    """(file name, drawing) of each plot the scenario's figures allow."""
    scenario = figures.get("scenario")
    plots: list[tuple[str, Callable[[], Any]]] = []
    if scenario == "load_gateway":
        if figures.get("ramp"):
            plots.append(("load_ramp.png", lambda: plot_ramp(figures)))
        overload = figures.get("overload", {}).get("timeseries", {})
        if overload.get("t_s"):
            plots.append(("load_overload.png", lambda: plot_timeseries(overload, OVERLOAD_TITLE)))
    elif scenario == "load_backend_bound":
        series = figures.get("timeseries", {})
        if series.get("t_s"):
            plots.append(
                ("load_backend_bound.png", lambda: plot_timeseries(series, BACKEND_BOUND_TITLE))
            )
    return plots


def images(figures: Mapping[str, Any]) -> list[str]:
    """The plots of a scenario, as Markdown image lines' file names."""
    return [name for name, _ in _plots(figures)]


def draw(figures: Mapping[str, Any]) -> None:
    for name, plot in _plots(figures):
        _save(plot(), name)

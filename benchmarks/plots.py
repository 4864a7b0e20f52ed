"""PNG plots of the results (matplotlib, headless)."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.axes import Axes

from benchmarks.report import MIB, label, ours_keys, queries

FAMILIES = {"pure": "tab:green", "bare": "tab:gray"}
OURS = ("tab:blue", "tab:purple", "tab:cyan", "tab:orange", "tab:brown", "tab:olive")
Results = dict[str, Any]


def _colour(results: Results, key: str) -> str:
    """Baselines by family; each configuration of ours its own stable colour."""
    family = str(results["targets"].get(key, {}).get("family", "ours"))
    if family != "ours":
        return FAMILIES.get(family, "black")
    ours = ours_keys(results)
    return OURS[ours.index(key) % len(OURS)] if key in ours else "tab:blue"


def _bars(
    ax: Axes, names: list[str], values: list[float], colours: Any, size: int = 7, **style: Any
) -> None:
    """Horizontal bars, the first at the top."""
    ax.barh(range(len(values)), values, color=colours, **style)
    ax.set_yticks(range(len(values)), names, fontsize=size)
    if not ax.yaxis_inverted():
        ax.invert_yaxis()


def _log_x(ax: Axes, xlabel: str = "ms (log)", **labels: str) -> None:
    ax.set(xscale="log", xlabel=xlabel, **labels)
    ax.grid(axis="x", alpha=0.3)


def b1_latency(results: Results) -> Any:
    sizes = results["meta"]["sizes"]["b1_listeners"]
    fig, axes = plt.subplots(1, len(sizes), figsize=(5.5 * len(sizes), 6), squeeze=False)
    for ax, n in zip(axes[0], sizes, strict=True):
        rows = [r for r in results["b1"] if r["listeners"] == n]
        names = [f"{label(results, r['target'])}\n{r['transport']}" for r in rows]
        colours = [_colour(results, r["target"]) for r in rows]
        p50 = [r["p50_ms"] or 0 for r in rows]
        _bars(ax, names, [r["p99_ms"] or 0 for r in rows], colours, alpha=0.35, label="p99")
        _bars(ax, names, p50, colours, label="p50")
        for i, r in enumerate(rows):
            if r["missing"]:
                ax.text(p50[i] or 1, i, f" p99: lost {r['missing']}", va="center", fontsize=7)
        _log_x(ax, title=f"B1 latency, {n} listener{'s' if n > 1 else ''}")
    axes[0][0].legend(loc="lower right", fontsize=8)
    return fig


def b1_cdf(results: Results) -> Any:
    """The distribution at the most listeners, unloaded and loaded (the loaded ones dotted)."""
    largest = max(results["meta"]["sizes"]["b1_listeners"])
    fig, ax = plt.subplots(figsize=(9, 6))
    styles = {"websocket": "-", "sse": "--", "longpoll": "-."}
    for r in [r for r in results["b1"] if r["listeners"] == largest] + results["b1_loaded"]:
        loaded = "offered_rate" in r
        points = [(v, q) for q, v in enumerate(r["quantiles_ms"]) if v is not None]
        name = f"{label(results, r['target'])} {r['transport']} x {r['listeners']}"
        style, colour = ":" if loaded else styles[r["transport"]], _colour(results, r["target"])
        if points:
            ax.plot(*zip(*points, strict=True), style, color=colour, lw=1.4,
                    label=name + (" loaded" if loaded else ""))  # fmt: skip
    _log_x(ax, ylabel="percentile", title=f"B1 latency CDF, {largest} listeners and loaded")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return fig


def b2_throughput(results: Results) -> Any:
    fig, ax = plt.subplots(figsize=(8, 6))
    top, low = 1.0, float("inf")
    for r in results["b2"]:
        colour = _colour(results, r["target"])
        steps = sorted(r["steps"], key=lambda s: s["offered_events_per_s"])
        xs = [s["offered_events_per_s"] for s in steps]
        ys = [s["delivered_events_per_s"] for s in steps]
        top = max([top, *xs, *ys])
        low = min([low, *xs, *(y for y in ys if y > 0)])
        ax.plot(xs, ys, "-", color=colour, alpha=0.6, label=label(results, r["target"]))
        for x, y, s in zip(xs, ys, steps, strict=True):
            ax.plot(x, y, "o" if s["passed"] else "x", color=colour, markersize=7)
    low = low / 2 if low != float("inf") else 1.0
    ax.plot([low, top], [low, top], color="grey", lw=0.8, ls="--", label="delivered = offered")
    title = f"B2 throughput, {results['meta']['sizes']['b2_listeners']} WebSocket listeners"
    ax.set(xscale="log", yscale="log", xlabel="offered events/s (posts/s x listeners)",
           ylabel="delivered events/s", title=title + " (o keeps up, x falls behind)")  # fmt: skip
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return fig


def b3_rss(results: Results) -> Any:
    fig, ax = plt.subplots(figsize=(8, 6))
    markers = {"websocket": "o", "sse": "s", "longpoll": "^"}
    for r in results["b3"]:
        xs = [p["connections"] for p in r["points"]]
        ys = [p["rss_bytes"] / MIB for p in r["points"]]
        name = f"{label(results, r['target'])} {r['transport']}"
        ax.plot(xs, ys, "-" + markers[r["transport"]], color=_colour(results, r["target"]),
                label=name)  # fmt: skip
    ax.axhline(1024, color="grey", linewidth=0.8, linestyle="--", label="1 GiB")
    ax.set(xlabel="idle connections held", ylabel="server RSS (MiB)",
           title="B3 capacity: one worker process")  # fmt: skip
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return fig


def b4_rest(results: Results) -> Any:
    rows = results["b4"]
    fig, ax = plt.subplots(figsize=(9, 0.5 * len(rows) + 1.5))
    names = [f"{label(results, r['target'])}  {r['url']}  ({r['tickets']:,})" for r in rows]
    colours = [_colour(results, r["target"]) for r in rows]
    _bars(ax, names, [r["median_ms"] for r in rows], colours, size=8)
    for i, r in enumerate(rows):
        ax.text(r["median_ms"], i, f" {queries(r['queries'])} queries", va="center", fontsize=8)
    _log_x(ax, "median ms (log)", title="B4 GET tickets/ (tickets in the database)")
    return fig


def b5_post(results: Results) -> Any:
    """Per target and phase: worker CPU per post, p50 and throughput, ours next to bare."""
    rows = sorted(
        results["b5"], key=lambda r: (r["phase"], r["target"].split("-", 1)[1], r["target"])
    )
    fig, axes = plt.subplots(1, 3, figsize=(16, 0.55 * len(rows) + 2), sharey=True)
    names = [f"{label(results, r['target'])}\n{r['phase']}" for r in rows]
    colours = [_colour(results, r["target"]) for r in rows]
    for ax, (field, title) in zip(axes, (
        ("server_cpu_ms_per_post", "worker CPU per post (ms)"),
        ("p50_ms", "p50 round trip (ms)"),
        ("posts_per_s", "throughput (posts/s)"),
    ), strict=True):  # fmt: skip
        _bars(ax, names, [r[field] or 0 for r in rows], colours)
        ax.set_title(title, fontsize=9)
        ax.grid(axis="x", alpha=0.3)
    fig.suptitle("B5: a bot's REST post vs the bare Django view (no listeners)")
    return fig


#: Each plot, and the rows it needs.
PLOTS: dict[str, tuple[Callable[[Results], Any], str]] = {
    "b1_latency.png": (b1_latency, "b1"), "b1_cdf.png": (b1_cdf, "b1"),
    "b2_throughput.png": (b2_throughput, "b2"), "b3_rss.png": (b3_rss, "b3"),
    "b4_rest.png": (b4_rest, "b4"), "b5_post.png": (b5_post, "b5"),
}  # fmt: skip


def draw(results: Results, out: Path) -> list[str]:
    """Draw every plot the results have rows for; return the file names."""
    drawn = []
    for name, (plot, rows) in PLOTS.items():
        if results[rows]:
            fig = plot(results)
            fig.tight_layout()
            fig.savefig(out / name, dpi=110)
            plt.close(fig)
            drawn.append(name)
    return drawn

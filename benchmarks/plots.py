"""PNG plots of ``results.json`` (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.axes import Axes

from benchmarks.report import QUERY_LOG_LIMIT, label, ours_keys

COLOURS = {"ours": "tab:blue", "pure": "tab:green", "original": "tab:red", "bare": "tab:gray"}
MARKERS = {"websocket": "o", "sse": "s", "longpoll": "^"}


OURS_PALETTE = ("tab:blue", "tab:purple", "tab:cyan", "tab:orange", "tab:brown", "tab:olive")


def _colour(results: dict[str, Any], key: str) -> str:
    """Baselines by family; each configuration of ours its own stable colour."""
    family = str(results["targets"].get(key, {}).get("family", "ours"))
    if family != "ours":
        return COLOURS.get(family, "black")
    ours = ours_keys(results)
    return OURS_PALETTE[ours.index(key) % len(OURS_PALETTE)] if key in ours else "tab:blue"


def _save(fig: Any, out: Path, name: str) -> str:
    fig.tight_layout()
    fig.savefig(out / name, dpi=110)
    plt.close(fig)
    return name


def b1_bars(results: dict[str, Any], out: Path) -> str | None:
    sizes = results["meta"]["sizes"]["b1_listeners"]
    if not results["b1"]:
        return None
    fig, axes = plt.subplots(1, len(sizes), figsize=(5.5 * len(sizes), 6), squeeze=False)
    for ax, n in zip(axes[0], sizes, strict=True):
        rows = [r for r in results["b1"] if r["listeners"] == n]
        names = [f"{label(results, r['target'])}\n{r['transport']}" for r in rows]
        y = range(len(rows))
        p99 = [r["p99_ms"] or 0 for r in rows]
        p50 = [r["p50_ms"] or 0 for r in rows]
        colours = [_colour(results, r["target"]) for r in rows]
        ax.barh(y, p99, color=colours, alpha=0.35, label="p99")
        ax.barh(y, p50, color=colours, label="p50")
        for i, r in enumerate(rows):
            if r["missing"]:
                ax.text(p50[i] or 1, i, f" p99: lost {r['missing']}", va="center", fontsize=7)
        ax.set_yticks(list(y), names, fontsize=7)
        ax.invert_yaxis()
        ax.set_xscale("log")
        ax.set_xlabel("ms (log)")
        ax.set_title(f"B1 latency, {n} listener{'s' if n > 1 else ''}")
        ax.grid(axis="x", alpha=0.3)
    axes[0][0].legend(loc="lower right", fontsize=8)
    return _save(fig, out, "b1_latency.png")


def _cdf(ax: Axes, quantiles: list[float | None], label: str, colour: str, style: str) -> None:
    points = [(v, q) for q, v in enumerate(quantiles) if v is not None]
    if points:
        xs, ys = zip(*points, strict=True)
        ax.plot(xs, ys, style, color=colour, label=label, linewidth=1.4)


def b1_cdf(results: dict[str, Any], out: Path) -> str | None:
    sizes = results["meta"]["sizes"]["b1_listeners"]
    largest = max(sizes)
    rows = [r for r in results["b1"] if r["listeners"] == largest]
    if not rows and not results["b1_loaded"]:
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
    styles = {"websocket": "-", "sse": "--", "longpoll": ":"}
    for r in rows:
        _cdf(
            left,
            r["quantiles_ms"],
            f"{label(results, r['target'])} {r['transport']}",
            _colour(results, r["target"]),
            styles[r["transport"]],
        )
    left.set_title(f"B1 unloaded, {largest} listeners: CDF")
    for r in results["b1_loaded"]:
        _cdf(
            right,
            r["quantiles_ms"],
            label(results, r["target"]),
            _colour(results, r["target"]),
            "-",
        )
    if results["b1_loaded"]:
        r0 = results["b1_loaded"][0]
        right.set_title(
            f"B1 loaded: {r0['offered_rate']:.0f} msg/s to {r0['listeners']} WebSocket listeners"
        )
        right.axvline(50, color="grey", linewidth=0.8, linestyle="--")
    for ax in (left, right):
        ax.set_xscale("log")
        ax.set_xlabel("ms (log)")
        ax.set_ylabel("percentile")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return _save(fig, out, "b1_cdf.png")


def b2_throughput(results: dict[str, Any], out: Path) -> str | None:
    if not results["b2"]:
        return None
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
        for s in steps:
            ax.plot(
                s["offered_events_per_s"], s["delivered_events_per_s"],
                "o" if s["passed"] else "x", color=colour, markersize=7,
            )  # fmt: skip
    low = low / 2 if low != float("inf") else 1.0
    ax.plot(
        [low, top],
        [low, top],
        color="grey",
        linewidth=0.8,
        linestyle="--",
        label="delivered = offered",
    )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("offered events/s (posts/s x listeners)")
    ax.set_ylabel("delivered events/s")
    ax.set_title("B2 throughput, 100 WebSocket listeners (o keeps up, x falls behind)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return _save(fig, out, "b2_throughput.png")


def b3_rss(results: dict[str, Any], out: Path) -> str | None:
    if not results["b3"]:
        return None
    fig, ax = plt.subplots(figsize=(8, 6))
    for r in results["b3"]:
        colour = _colour(results, r["target"])
        xs = [p["connections"] for p in r["points"]]
        ys = [p["rss_bytes"] / 2**20 for p in r["points"]]
        ax.plot(xs, ys, "-" + MARKERS[r["transport"]], color=colour,
                label=f"{label(results, r['target'])} {r['transport']}")  # fmt: skip
    ax.axhline(1024, color="grey", linewidth=0.8, linestyle="--", label="1 GiB")
    ax.set_xlabel("idle connections held")
    ax.set_ylabel("server RSS (MiB)")
    ax.set_title("B3 capacity: one worker process")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return _save(fig, out, "b3_rss.png")


def b4_rest(results: dict[str, Any], out: Path) -> str | None:
    if not results["b4"]:
        return None
    fig, ax = plt.subplots(figsize=(9, 0.5 * len(results["b4"]) + 1.5))
    names = [f"{label(results, r['target'])}  {r['url']}" for r in results["b4"]]
    values = [r["median_ms"] for r in results["b4"]]
    colours = [_colour(results, r["target"]) for r in results["b4"]]
    ax.barh(range(len(values)), values, color=colours)
    for i, r in enumerate(results["b4"]):
        count = f"≥ {r['queries']:,}" if r["queries"] >= QUERY_LOG_LIMIT else f"{r['queries']:,}"
        ax.text(r["median_ms"], i, f" {count} queries", va="center", fontsize=8)
    ax.set_yticks(range(len(values)), names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("median ms (log)")
    ax.set_title(f"B4 GET tickets/ with {results['b4'][0]['tickets']:,} tickets")
    return _save(fig, out, "b4_rest.png")


def b5_post(results: dict[str, Any], out: Path) -> str | None:
    """Per target and phase: worker CPU per post and p50, side by side, ours next to bare."""
    rows = sorted(
        results.get("b5", []),
        key=lambda r: (r["phase"], r["target"].split("-", 1)[1], r["target"]),
    )
    if not rows:
        return None
    fig, axes = plt.subplots(1, 3, figsize=(16, 0.55 * len(rows) + 2), sharey=True)
    names = [f"{label(results, r['target'])}\n{r['phase']}" for r in rows]
    colours = [_colour(results, r["target"]) for r in rows]
    y = range(len(rows))
    panels = (
        ("server_cpu_ms_per_post", "worker CPU per post (ms)"),
        ("p50_ms", "p50 round trip (ms)"),
        ("posts_per_s", "throughput (posts/s)"),
    )
    for ax, (field, title) in zip(axes, panels, strict=True):
        ax.barh(y, [r[field] or 0 for r in rows], color=colours)
        ax.set_title(title, fontsize=9)
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(list(y), names, fontsize=7)
    axes[0].invert_yaxis()
    fig.suptitle("B5: a bot's REST post vs the bare Django view (no listeners)")
    return _save(fig, out, "b5_post.png")


def profile_layers(results: dict[str, Any], out: Path) -> str | None:
    profiles = [p for p in results["profiles"] if p.get("samples")]
    if not profiles:
        return None
    fig, axes = plt.subplots(1, len(profiles), figsize=(7 * len(profiles), 5), squeeze=False)
    for ax, p in zip(axes[0], profiles, strict=True):
        layers = [x for x in p["layers"] if x["share"] >= 0.005]
        ax.barh(range(len(layers)), [x["share"] * 100 for x in layers], color="tab:blue")
        ax.set_yticks(range(len(layers)), [x["name"] for x in layers], fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel("% of samples (innermost frame)")
        ax.set_title(p["scenario"], fontsize=9)
    return _save(fig, out, "profile_layers.png")


def draw(results: dict[str, Any], out: Path) -> list[str]:
    """Draw every plot the results have data for; return the file names."""
    drawn = []
    for plot in (b1_bars, b1_cdf, b2_throughput, b3_rss, b4_rest, b5_post, profile_layers):
        name = plot(results, out)
        if name is not None:
            drawn.append(name)
    return drawn

"""``results.md``: the tables, the ratios against the baselines, the targets, the machine.

Ratios lead, because they are what survives a noisy shared machine: each
one divides two numbers measured minutes apart in the same run. A delivery
that never arrived makes a percentile infinite (shown as "lost"), so a
server that drops events cannot look fast.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

GIB = 1 << 30


def _ms(value: float | None, missing: int = 0) -> str:
    if value is None:
        return f"lost ({missing})" if missing else "—"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.1f}"


def _num(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}"


def _ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return "—"
    return f"{a / b:.2f}x"


def _table(header: list[str], rows: Iterable[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def label(results: dict[str, Any], key: str) -> str:
    """A target's label in tables and plots."""
    return str(results["targets"].get(key, {}).get("label", key))


def ours_keys(results: dict[str, Any]) -> list[str]:
    """Our configurations' keys, in the order they were measured."""
    return [k for k, t in results["targets"].items() if t["family"] == "ours"]


def _b2(results: dict[str, Any], key: str) -> dict[str, Any] | None:
    return next((r for r in results["b2"] if r["target"] == key), None)


def _b1(results: dict[str, Any], key: str, transport: str, n: int) -> dict[str, Any] | None:
    return next(
        (
            r
            for r in results["b1"]
            if r["target"] == key and r["transport"] == transport and r["listeners"] == n
        ),
        None,
    )


def ratios(results: dict[str, Any]) -> dict[str, Any]:
    """The headline ratios, also stored in ``results.json``."""
    out: dict[str, Any] = {"b2_events_vs_pure": {}, "b2_events_vs_original": {}, "b1": {}}
    pure, original = _b2(results, "pure"), _b2(results, "original")
    for key in ours_keys(results):
        ours = _b2(results, key)
        if ours is None:
            continue
        if pure and pure["sustained_events_per_s"]:
            out["b2_events_vs_pure"][key] = (
                ours["sustained_events_per_s"] / pure["sustained_events_per_s"]
            )
        if original and original["sustained_events_per_s"]:
            out["b2_events_vs_original"][key] = (
                ours["sustained_events_per_s"] / original["sustained_events_per_s"]
            )
    out["b3_websocket"] = {}
    b3 = {(r["target"], r["transport"]): r for r in results["b3"]}
    for key in ours_keys(results):
        ours = b3.get((key, "websocket"))
        if ours is None:
            continue
        memory: dict[str, float] = {}
        for name in ("pure", "original"):
            base = b3.get((name, "websocket"))
            if base and base["rss_per_connection_bytes"]:
                memory[f"rss_per_connection_vs_{name}"] = (
                    ours["rss_per_connection_bytes"] / base["rss_per_connection_bytes"]
                )
        out["b3_websocket"][key] = memory
    for n in results["meta"]["sizes"]["b1_listeners"]:
        base_pure = _b1(results, "pure", "websocket", n)
        base_orig = _b1(results, "original", "websocket", n)
        for key in ours_keys(results):
            row = _b1(results, key, "websocket", n)
            if row is None:
                continue
            entry: dict[str, Any] = {}
            for name, base in (("pure", base_pure), ("original", base_orig)):
                if base is None:
                    continue
                for q in ("p50_ms", "p99_ms"):
                    if row[q] is not None and base[q]:
                        entry[f"{q}_vs_{name}"] = row[q] / base[q]
            out["b1"][f"{key}/{n}"] = entry
    return out


def targets_check(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's three targets, per configuration of ours: measured, and met or not."""
    checks: list[dict[str, Any]] = []
    pure = _b2(results, "pure")
    for key in ours_keys(results):
        ours = _b2(results, key)
        if ours and pure and pure["sustained_events_per_s"]:
            share = ours["sustained_events_per_s"] / pure["sustained_events_per_s"]
            checks.append(
                {
                    "target": "fan-out throughput ≥ 0.5 x pure websockets",
                    "config": key,
                    "measured": f"{share:.2f}x ({ours['sustained_events_per_s']:,.0f} vs "
                    f"{pure['sustained_events_per_s']:,.0f} events/s)",
                    "met": share >= 0.5,
                }
            )
        loaded = next((r for r in results["b1_loaded"] if r["target"] == key), None)
        if loaded:
            p99 = loaded["p99_ms"]
            checks.append(
                {
                    "target": f"p99 < 50 ms at {loaded['offered_rate']:.0f} msg/s, "
                    f"{loaded['listeners']} listeners",
                    "config": key,
                    "measured": f"p99 {_ms(p99, loaded['missing'])} ms, achieved "
                    f"{loaded['achieved_rate']:.0f} msg/s, delivered "
                    f"{loaded['delivered_fraction']:.1%}",
                    "met": p99 is not None and p99 < 50,
                }
            )
        b3 = next(
            (r for r in results["b3"] if r["target"] == key and r["transport"] == "websocket"),
            None,
        )
        if b3:
            attempted = b3["attempted"]
            checks.append(
                {
                    "target": f"≥ {attempted:,} idle WebSockets per worker under 1 GiB RSS",
                    "config": key,
                    "measured": f"{b3['reached']:,} held, RSS {b3['rss_top_bytes'] / 2**20:,.0f} "
                    f"MiB ({b3['rss_per_connection_bytes'] / 1024:.1f} KiB each)",
                    "met": b3["reached"] >= attempted and b3["rss_top_bytes"] < GIB,
                }
            )
    return checks


def _machine(results: dict[str, Any]) -> str:
    meta = results["meta"]
    m = meta["machine"]
    packages = ", ".join(f"{k} {v}" for k, v in m["packages"].items() if v)
    original = results["targets"].get("original", {}).get("versions", {})
    orig = ", ".join(
        f"{k} {original[k]}"
        for k in ("chatlabs-django-support", "Django", "channels", "daphne",
                  "djangorestframework", "django-filter", "Twisted")
        if k in original
    )  # fmt: skip
    rows = [
        ["commit measured", f"`{m['commit'][:10]}`" if m.get("commit") else "—"],
        ["CPU", f"{m['cpu']}, {m['cores']} cores ({m['cores_usable']} usable)"],
        ["memory", f"{m['memory_bytes'] / GIB:.1f} GiB"],
        ["kernel", m["kernel"]],
        ["load average (1/5/15 min) at start", " / ".join(f"{x:.1f}" for x in m["loadavg_start"])],
        [
            "load average at end",
            " / ".join(f"{x:.1f}" for x in m.get("loadavg_end") or []) or "—",
        ],
        ["Python", m["python"]],
        ["packages (ours)", packages],
        ["original's venv", orig or "—"],
        ["PostgreSQL", m.get("postgresql") or "—"],
        ["Redis", m.get("redis") or "—"],
        [
            "client",
            f"one process, {meta['client']['loop']} loop, nofile {meta['client']['nofile']}",
        ],
        ["SQLite files on tmpfs", "yes" if meta.get("workdir_on_tmpfs") else "no"],
    ]
    return _table(["", ""], rows)


def _b1_tables(results: dict[str, Any]) -> str:
    sizes = results["meta"]["sizes"]["b1_listeners"]
    header = ["target", "transport"] + [f"{n} listeners: p50 / p95 / p99 ms" for n in sizes]
    series: list[tuple[str, str]] = []
    for row in results["b1"]:
        if (row["target"], row["transport"]) not in series:
            series.append((row["target"], row["transport"]))
    rows = []
    for key, transport in series:
        cells = [label(results, key), transport]
        for n in sizes:
            row = _b1(results, key, transport, n)
            if row is None:
                cells.append("—")
            else:
                cell = " / ".join(
                    _ms(row[q], row["missing"]) for q in ("p50_ms", "p95_ms", "p99_ms")
                )
                if row["connected"] < row["listeners"]:
                    cell += f" ({row['connected']} connected)"
                cells.append(cell)
        rows.append(cells)
    return _table(header, rows)


def _b1_loaded(results: dict[str, Any]) -> str:
    rows = []
    for r in results["b1_loaded"]:
        rows.append(
            [
                label(results, r["target"]),
                f"{r['offered_rate']:.0f} / {r['achieved_rate']:.0f}",
                f"{r['connected']}",
                f"{r['delivered_fraction']:.1%}",
                _ms(r["p50_ms"], r["missing"]),
                _ms(r["p95_ms"], r["missing"]),
                _ms(r["p99_ms"], r["missing"]),
                f"{r['server_cpu_share']:.0%}",
                f"{r['client_cpu_share']:.0%}",
            ]
        )
    return _table(
        ["target", "msg/s offered / achieved", "listeners", "delivered", "p50 ms", "p95 ms",
         "p99 ms", "server CPU", "client CPU"],
        rows,
    )  # fmt: skip


def _b2_table(results: dict[str, Any]) -> str:
    pure, original = _b2(results, "pure"), _b2(results, "original")
    pure_rate = pure["sustained_events_per_s"] if pure else None
    original_rate = original["sustained_events_per_s"] if original else None
    rows = []
    for r in results["b2"]:
        rows.append(
            [
                label(results, r["target"]),
                _num(r["sustained_posts_per_s"]),
                _num(r["sustained_events_per_s"]),
                _ratio(r["sustained_events_per_s"], pure_rate),
                _ratio(r["sustained_events_per_s"], original_rate),
                _num(r["peak_delivered_events_per_s"]),
                _num(r["first_failing_rate"]),
            ]
        )
    return _table(
        ["target", "sustained posts/s", "sustained events/s", "vs pure", "vs original",
         "peak delivered events/s", "first failing posts/s"],
        rows,
    )  # fmt: skip


def _b2_steps(results: dict[str, Any]) -> str:
    rows = []
    for r in results["b2"]:
        for s in r["steps"]:
            rows.append(
                [
                    label(results, r["target"]),
                    f"{s['offered_rate']:.0f}",
                    f"{s['achieved_rate']:.0f}",
                    "pass" if s["passed"] else "**fail**",
                    _num(s["delivered_events_per_s"]),
                    _ms(s["p50_ms"], s["missing"]),
                    _ms(s["p99_ms"], s["missing"]),
                    f"{s['server_cpu_share']:.0%}",
                    f"{s['client_cpu_share']:.0%}",
                ]
            )
    return _table(
        ["target", "offered posts/s", "achieved", "keeps up", "delivered events/s", "p50 ms",
         "p99 ms", "server CPU", "client CPU"],
        rows,
    )  # fmt: skip


def _b3_table(results: dict[str, Any]) -> str:
    rows = []
    for r in results["b3"]:
        b = r["broadcast"]
        rows.append(
            [
                label(results, r["target"]),
                r["transport"],
                f"{r['reached']:,} / {r['attempted']:,}",
                f"{r['rss_idle_bytes'] / 2**20:,.0f}",
                f"{r['rss_top_bytes'] / 2**20:,.0f}",
                f"{r['rss_per_connection_bytes'] / 1024:,.1f}",
                f"{_ms(b['p50_ms'], b['missing'])} / {_ms(b['max_ms'], b['missing'])}",
                r["stopped"],
            ]
        )
    return _table(
        ["target", "transport", "held / tried", "RSS idle MiB", "RSS top MiB",
         "KiB per connection", "one event to all: p50 / last ms", "stopped because"],
        rows,
    )  # fmt: skip


#: Django's query log (``CaptureQueriesContext``) keeps at most this many queries.
QUERY_LOG_LIMIT = 9000


def _queries(count: int) -> str:
    return f"≥ {count:,} (log full)" if count >= QUERY_LOG_LIMIT else f"{count:,}"


def _b4_table(results: dict[str, Any]) -> str:
    rows = [
        [
            label(results, r["target"]),
            f"`{r['url']}`",
            f"{r['tickets']:,}",
            _ms(r["median_ms"]),
            _ms(r["p95_ms"]),
            _queries(r["queries"]),
            f"{r['bytes'] / 1024:,.0f}",
            str(r["status"]),
        ]
        for r in results["b4"]
    ]
    return _table(
        ["target", "request", "tickets", "median ms", "p95 ms", "queries", "KiB", "status"],
        rows,
    )


def _profiles(results: dict[str, Any]) -> str:
    parts = []
    for p in results["profiles"]:
        if not p.get("samples"):
            continue
        parts.append(f"### {p['scenario']}\n\n{p['samples']:,} samples.\n")
        parts.append(
            _table(
                ["layer (innermost frame)", "share"],
                ([x["name"], f"{x['share']:.0%}"] for x in p["layers"] if x["share"] >= 0.005),
            )
        )
        own = ([f"`{x['name']}`", f"{x['share']:.1%}"] for x in p["self"][:10])
        parts.append("\nTop functions by own time:\n\n" + _table(["function", "share"], own))
        parts.append(
            "\nOur code, inclusive time:\n\n"
            + _table(
                ["function", "share"],
                ([f"`{x['name']}`", f"{x['share']:.1%}"] for x in p["support_inclusive"][:10]),
            )
        )
    return "\n".join(parts) or "No profile in this run.\n"


def markdown(results: dict[str, Any]) -> str:
    meta = results["meta"]
    results.setdefault("ratios", ratios(results))
    checks = targets_check(results)
    results["targets_check"] = checks
    out = [
        "# Benchmark results\n",
        f"Mode **{meta['mode']}**, started {meta['started']}, took "
        f"{meta.get('duration_s', 0) / 60:.1f} min: `{meta['command']}`. "
        "Raw numbers: `results.json`; method: `docs/benchmarks.md`.\n",
        "All servers run on loopback, one worker process each, access logs off; one client "
        "process drives them all. Percentiles count every (message, listener) pair; a delivery "
        'that never arrived is infinitely late ("lost"). Ratios compare numbers measured in '
        "this run, minutes apart.\n",
        "## Targets\n",
        _table(
            ["target", "configuration", "measured", "met"],
            (
                [
                    c["target"],
                    label(results, c["config"]),
                    c["measured"],
                    "yes" if c["met"] else "**no**",
                ]
                for c in checks
            ),
        ),
        "## Machine\n",
        _machine(results),
        "## B1: latency, bot post → every listener\n",
        "Closed loop: one message at a time, the next after every listener has it. "
        "Targets: ours (REST post with an `Api-Key`, listeners with a manager token), the "
        "original (anonymous REST post, listeners with a session cookie), the pure-websockets "
        "baseline (post as a WebSocket frame; no database).\n",
        _b1_tables(results),
        "\n### Under load: open loop, WebSocket\n",
        "Each message is stamped with the time it was due, so a poster held back by the "
        "server counts against the server.\n",
        _b1_loaded(results),
        "## B2: throughput, 100 WebSocket listeners\n",
        "The highest posting rate at which every listener gets every message and p99 stays "
        f"under {meta['sizes']['b2_p99_limit_ms']:.0f} ms; events/s = posts/s x listeners.\n",
        _b2_table(results),
        "\n<details><summary>Every step</summary>\n\n" + _b2_steps(results) + "\n</details>\n",
        "## B3: idle connections per worker process\n",
        _b3_table(results),
        "## B4: REST `tickets/`\n",
        _b4_table(results),
        "## Profiles (py-spy)\n",
        _profiles(results),
    ]
    if meta.get("original_workarounds"):
        out.append("## What the original 1.2.0 needed to be measured\n")
        out.append("".join(f"- {w}\n" for w in meta["original_workarounds"]))
    if meta.get("plots"):
        out.append("\n## Plots\n\n" + "".join(f"![{p}]({p})\n" for p in meta["plots"]))
    if results["errors"]:
        out.append(
            "\n## Errors\n\n"
            + "".join(f"- {e['what']}: `{e['error']}`\n" for e in results["errors"])
        )
    return "\n".join(out)

"""``results.md``: the tables, the ratios against the baselines, the targets, the machine.

Ratios lead, because they are what survives a noisy shared machine: each
one divides two numbers measured minutes apart in the same run. A delivery
that never arrived makes a percentile infinite (shown as "lost"), so a
server that drops events cannot look fast.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from benchmarks import goals

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
    out: dict[str, Any] = {
        "b2_events_vs_pure": {},
        "b2_events_vs_original": {},
        "b2_events_vs_bare": {},
        "b5_vs_bare": {},
        "b1": {},
    }
    pure, original = _b2(results, "pure"), _b2(results, "original")
    for key in ours_keys(results):
        out["b5_vs_bare"][key] = _b5_ratios(results, key)
        ours = _b2(results, key)
        if ours is None:
            continue
        bare = _b2(results, goals.bare_of(key, "sqlite"))
        if bare and bare["sustained_events_per_s"]:
            out["b2_events_vs_bare"][key] = (
                ours["sustained_events_per_s"] / bare["sustained_events_per_s"]
            )
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
        for name in ("pure", "original", goals.bare_of(key)):
            base = b3.get((name, "websocket"))
            if base and base["rss_per_connection_bytes"]:
                memory[f"rss_per_connection_vs_{name.split('-')[0]}"] = (
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


def _b5_ratios(results: dict[str, Any], key: str) -> dict[str, dict[str, float]]:
    """Ours over the bare view on the same configuration, per phase: CPU, p50, throughput."""
    out: dict[str, dict[str, float]] = {}
    for phase in ("sequential", "concurrent"):
        ours, bare = _b5(results, key, phase), _b5(results, goals.bare_of(key), phase)
        if ours is None or bare is None:
            continue
        entry = {}
        for field in ("server_cpu_ms_per_post", "p50_ms", "p99_ms", "posts_per_s"):
            if ours[field] is not None and bare[field]:
                entry[field] = ours[field] / bare[field]
        out[phase] = entry
    return out


def _b5(results: dict[str, Any], key: str, phase: str) -> dict[str, Any] | None:
    return next(
        (r for r in results.get("b5", []) if r["target"] == key and r["phase"] == phase), None
    )


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
        bare = None
        if results["targets"].get(r["target"], {}).get("family") == "ours":
            bare = _b2(results, goals.bare_of(r["target"], "sqlite"))
        rows.append(
            [
                label(results, r["target"]),
                _num(r["sustained_posts_per_s"]),
                _num(r["sustained_events_per_s"]),
                _ratio(r["sustained_events_per_s"], pure_rate),
                _ratio(
                    r["sustained_events_per_s"], bare["sustained_events_per_s"] if bare else None
                ),
                _ratio(r["sustained_events_per_s"], original_rate),
                _num(r["peak_delivered_events_per_s"]),
                _num(r["first_failing_rate"]),
            ]
        )
    return _table(
        ["target", "sustained posts/s", "sustained events/s", "vs pure",
         "vs bare Channels (same server)", "vs original", "peak delivered events/s",
         "first failing posts/s"],
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
                f"{r['points'][0]['server_threads']:.0f} → {r['points'][-1]['server_threads']:.0f}",
                f"{_ms(b['p50_ms'], b['missing'])} / {_ms(b['max_ms'], b['missing'])}",
                r["stopped"],
            ]
        )
    return _table(
        ["target", "transport", "held / tried", "RSS idle MiB", "RSS top MiB",
         "KiB per connection", "server threads", "one event to all: p50 / last ms",
         "stopped because"],
        rows,
    )  # fmt: skip


def _reconnect_table(results: dict[str, Any]) -> str:
    rows = [
        [
            label(results, r["target"]),
            f"{r['back']:,} / {r['clients']:,}",
            _num(r["all_back_s"], 1) if r["all_back_s"] is not None else "not all",
            f"{r['deadline_s']:.0f}",
            f"{r['failed_attempts']:,}",
            ", ".join(f"{n} x {e}" for e, n in r["attempt_errors"].items()) or "—",
        ]
        for r in results.get("b3_reconnect", [])
    ]
    return _table(
        ["target", "back / clients", "all back after s", "deadline s", "failed attempts",
         "errors"],
        rows,
    )  # fmt: skip


def _b5_table(results: dict[str, Any]) -> str:
    rows = []
    for r in results.get("b5", []):
        rows.append(
            [
                label(results, r["target"]),
                r["phase"],
                f"{r['posters']}",
                f"{r['posts']}",
                _ms(r["p50_ms"]),
                _ms(r["p99_ms"]),
                _num(r["posts_per_s"]),
                _num(r["server_cpu_ms_per_post"], 1),
                f"{r['non_2xx']}"
                + (f" ({', '.join(f'{n} x {s}' for s, n in r['statuses'].items())})"
                   if r["non_2xx"] else ""),
            ]
        )  # fmt: skip
    return _table(
        ["target", "phase", "posters", "posts", "p50 ms", "p99 ms", "posts/s",
         "worker CPU ms/post", "not 2xx"],
        rows,
    )  # fmt: skip


def _b5_ratio_table(results: dict[str, Any]) -> str:
    rows = []
    for key, phases in results["ratios"]["b5_vs_bare"].items():
        for phase, r in phases.items():
            rows.append(
                [
                    label(results, key),
                    phase,
                    f"{r['server_cpu_ms_per_post']:.2f}x" if "server_cpu_ms_per_post" in r else "—",
                    f"{r['p50_ms']:.2f}x" if "p50_ms" in r else "—",
                    f"{r['posts_per_s']:.2f}x" if "posts_per_s" in r else "—",
                ]
            )
    return _table(["ours", "phase", "CPU/post", "p50", "throughput"], rows)


def _sections(results: dict[str, Any]) -> str:
    sections = results["meta"].get("sections", {}).items()
    return _table(["section", "took min"], ([n, f"{s['actual_s'] / 60:.1f}"] for n, s in sections))


def _goals(checks: list[dict[str, Any]], results: dict[str, Any]) -> str:
    met = {True: "met", False: "**missed**", None: "—"}
    return _table(
        ["measurement", "configuration", "measured", "target", ""],
        (
            [c["measurement"], label(results, c["config"]), c["measured"], c["target"],
             met[c["met"]]]
            for c in checks
        ),
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
    checks = goals.check(results)
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
        "## Targets (issue 14)\n",
        "Each row is computed from this run: a ratio against the baseline the issue names, "
        "measured minutes apart on the same machine, or a bound. The load test is not part of "
        "this run.\n",
        _goals(checks, results),
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
        f"## B2: throughput, {meta['sizes']['b2_listeners']} WebSocket listeners\n",
        "The highest posting rate at which every listener gets every message and p99 stays "
        f"under {meta['sizes']['b2_p99_limit_ms']:.0f} ms; events/s = posts/s x listeners.\n",
        _b2_table(results),
        "\n<details><summary>Every step</summary>\n\n" + _b2_steps(results) + "\n</details>\n",
        "## B3: idle connections per worker process\n",
        _b3_table(results),
        "\n### Reconnect storm: WebSockets back after a restart\n",
        "The server is restarted cold; every client reconnects within half a second, as the "
        "manager console does after a drop, and backs off as it does (0.5 s doubling to "
        "10 s, jittered) after a refused, reset or timed-out handshake.\n",
        _reconnect_table(results),
        "## B4: REST `tickets/`\n",
        _b4_table(results),
        "## B5: a bot's REST post vs the bare Django view\n",
        "No listener attached. Ours: `POST tickets/<id>/messages/` with an `Api-Key`; bare: "
        "a plain function view behind `startproject`'s middleware that inserts one row in "
        "`transaction.atomic()` (`benchmarks/bare`), same server, same kind of database. "
        "Worker CPU is the server process's (on PostgreSQL the database's own CPU is not in "
        "it).\n",
        _b5_table(results),
        "\nOurs over the bare view, same configuration:\n",
        _b5_ratio_table(results),
        "## How long each section took\n",
        _sections(results),
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

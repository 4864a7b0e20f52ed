"""``results.md``: the target table, the measurements, the machine. Each ratio divides two
numbers of the same run; a delivery that never arrived makes a percentile infinite."""

from collections.abc import Callable, Iterable
from typing import Any

KIB, MIB, GIB = 1 << 10, 1 << 20, 1 << 30
#: Django's query log (``CaptureQueriesContext``) keeps at most this many queries.
QUERY_LOG_LIMIT = 9000
Row = dict[str, Any]


def find(rows: Iterable[Row], **match: Any) -> Row | None:
    return next((r for r in rows if all(r.get(k) == v for k, v in match.items())), None)


def label(results: dict[str, Any], key: str) -> str:
    return str(results["targets"].get(key, {}).get("label", key))


def ours_keys(results: dict[str, Any]) -> list[str]:
    """Our configurations' keys, in the order they were measured."""
    return [k for k, t in results["targets"].items() if t["family"] == "ours"]


def bare_of(key: str, storage: str | None = None) -> str:
    """The bare baseline of one of ours: same server, same (or *storage*) database."""
    _family, server, own = key.split("-", 2)
    return f"bare-{server}-{storage or own}"


def queries(count: int) -> str:
    return f"≥ {count:,} (log full)" if count >= QUERY_LOG_LIMIT else f"{count:,}"


def _ms(value: float | None, missing: int = 0) -> str:
    if value is None:
        return f"lost ({missing})" if missing else "—"
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def _num(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def _ratio(a: float | None, b: float | None) -> str:
    return "—" if a is None or not b else f"{a / b:.2f}x"


def _table(header: list[str], rows: Iterable[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows]) + "\n"


Outcome = tuple[str, bool] | None


def _vs(a: Any, b: Any, field: str, unit: str, bound: float, at_most: bool = True) -> Outcome:
    """``a[field] / b[field]`` against *bound* (at most, or at least), both numbers shown."""
    x, y = a[field], b[field]
    ratio, digits = x / y, 0 if unit.endswith("/s") else 1
    met = ratio <= bound if at_most else ratio >= bound
    return f"{ratio:.2f}x ({x:,.{digits}f} vs {y:,.{digits}f} {unit})", met


def _p50_vs_websocket(row: Any, ws: Any) -> Outcome:
    if ws is not None and row["p50_ms"] is None:
        return f"lost ({row['missing']})", False
    return _vs(row, ws, "p50_ms", "ms", 2)


def _not_2xx(r: Any) -> Outcome:
    counts = ", ".join(f"{n} x {status}" for status, n in r["statuses"].items())
    return f"{r['non_2xx']} of {r['posts']} ({counts})", r["non_2xx"] == 0


def _b3_websockets(ws: Any, bare: Any) -> Outcome:
    mine, base = ws["rss_per_connection_bytes"], bare["rss_per_connection_bytes"]
    ok = ws["reached"] >= ws["attempted"] and mine / base <= 1.15
    return (f"{ws['reached']:,} held; {mine / KIB:.1f} KiB each, {mine / base:.2f}x the bare "
            f"consumer's {base / KIB:.1f}", ok)  # fmt: skip


def _b3_streams(row: Any) -> Outcome:
    threads = row["points"][-1]["server_threads"] - row["points"][0]["server_threads"]
    kib, held = row["rss_per_connection_bytes"] / KIB, row["reached"]
    ok = held >= row["attempted"] and kib <= 40 and threads < held / 10
    return f"{held:,} held, {kib:.1f} KiB each, {threads:+.0f} threads", ok


def _b3_storm(storm: Any) -> Outcome:
    when = "" if storm["all_back_s"] is None else f" in {storm['all_back_s']:.1f} s"
    return (f"{storm['back']:,} of {storm['clients']:,} back{when}, "
            f"{storm['failed_attempts']} failed attempts", bool(storm["met"]))  # fmt: skip


def _b4_page(big: Any, little: Any) -> Outcome:
    if big is little:
        return None
    outcome = _vs(big, little, "median_ms", "ms", 1.5)
    return outcome and (outcome[0], outcome[1] and big["median_ms"] <= 20)


def _b6_memory(row: Any) -> Outcome:
    idle, peak, bad = row["rss_idle_bytes"] / MIB, row["rss_peak_bytes"] / MIB, row["non_2xx"]
    return (f"{peak - idle:+.1f} MiB (idle {idle:.0f}, peak {peak:.0f} MiB); {bad} of "
            f"{row['posts']} not 2xx", peak - idle <= 50 and bad == 0)  # fmt: skip


def check(results: dict[str, Any]) -> list[Row]:
    """The targets, per configuration of ours; one whose inputs were not measured (a missing
    row, a zero or None where a number was due) says so instead of passing or failing."""
    out: list[Row] = []

    def add(what: str, key: str, target: str, compute: Callable[..., Outcome], *args: Any) -> None:
        try:
            outcome = compute(*args)
        except (TypeError, ZeroDivisionError, KeyError):
            outcome = None
        measured, met = outcome or ("not measured", None)
        out.append({"measurement": what, "config": key, "measured": measured,
                    "target": target, "met": met})  # fmt: skip

    for key in ours_keys(results):
        _check(results, key, add)
    return out


def _check(results: dict[str, Any], key: str, add: Callable[..., None]) -> None:
    sizes, server = results["meta"]["sizes"], results["targets"][key]["server"]
    b1, b2, b3, b5 = results["b1"], results["b2"], results["b3"], results["b5"]
    one = min(sizes["b1_listeners"])
    many = max((n for n in sizes["b1_listeners"] if n <= 100), default=max(sizes["b1_listeners"]))
    ws_one = find(b1, target=key, transport="websocket", listeners=one)
    pure_one = find(b1, target="pure", transport="websocket", listeners=one)
    add(f"B1, {one} listener, REST post → WebSocket, p50 vs pure", key, "≤ 5x",
        _vs, ws_one, pure_one, "p50_ms", "ms", 5)  # fmt: skip
    ws_many = find(b1, target=key, transport="websocket", listeners=many)
    for transport in ("sse", "longpoll"):
        row = find(b1, target=key, transport=transport, listeners=many)
        add(f"B1, {many} listeners, {transport} p50 vs WebSocket", key, "≤ 2x",
            _p50_vs_websocket, row, ws_many)  # fmt: skip

    ours_b2 = find(b2, target=key)
    add(f"B2, fan-out to {sizes['b2_listeners']} WebSockets vs the bare Channels consumer "
        f"on {server}", key, "≥ 0.9x",
        _vs, ours_b2, find(b2, target=bare_of(key, "sqlite")), "sustained_events_per_s",
        "events/s", 0.9, False)  # fmt: skip
    add("B2, fan-out vs pure websockets", key, "≥ 0.4x (best server)",
        _vs, ours_b2, find(b2, target="pure"), "sustained_events_per_s", "events/s", 0.4,
        False)  # fmt: skip

    for phase in ("sequential", "concurrent"):
        mine = find(b5, target=key, phase=phase)
        bare = find(b5, target=bare_of(key), phase=phase)
        posters = (mine or {}).get("posters", "?")
        who = "one at a time" if phase == "sequential" else f"{posters} posters"
        for field, what, unit, bound, at_most in (
            ("server_cpu_ms_per_post", "worker CPU per post", "ms", 1.0, True),
            ("p50_ms", "p50", "ms", 1.2, True),
            ("posts_per_s", "throughput", "posts/s", 1.0, False),
        ):
            add(f"post ({who}) vs the bare Django view: {what}", key,
                f"{'≤' if at_most else '≥'} {bound}x", _vs, mine, bare, field, unit, bound,
                at_most)  # fmt: skip
        add(f"post ({who}): answers not 2xx", key, "0", _not_2xx, mine)

    if find(b3, target=key):  # a configuration B3 measures (the sizes' b3_configs)
        ws = find(b3, target=key, transport="websocket")
        goal = f"{ws['attempted']:,}, ≤ 1.15x each" if ws else "≤ 1.15x"
        base = find(b3, target=bare_of(key), transport="websocket")
        add(f"B3, idle WebSockets one worker holds; memory vs bare Channels on {server}", key,
            goal, _b3_websockets, ws, base)  # fmt: skip
        for transport in ("sse", "longpoll"):
            row = find(b3, target=key, transport=transport)
            goal = f"{row['attempted']:,}, ≤ 40 KiB each, no thread each" if row else "—"
            add(f"B3, idle {transport} one worker holds", key, goal, _b3_streams, row)
        storm = find(results["b3_reconnect"], target=key)
        clients = f"{storm['clients']:,}" if storm else "N"
        deadline = f"within {storm['deadline_s']:.0f} s, none refused" if storm else "—"
        add(f"B3, {clients} WebSockets reconnecting at once after a restart", key,
            f"all back {deadline}", _b3_storm, storm)  # fmt: skip

    if find(b6 := results.get("b6", []), target=key):  # a configuration B6 measures
        up, burst, down = (find(b6, target=key, phase=p) for p in ("upload", "burst", "download"))
        base = find(b6, target=bare_of(key), phase="upload")
        mib = [f"{(r or {}).get('bytes', 0) / MIB:.0f} MiB" for r in (up, burst)]
        for field, what in (("server_cpu_ms_per_post", "worker CPU"), ("p50_ms", "p50")):
            add(f"B6, a {mib[0]} upload vs the bare Django view saving it: {what}", key,
                "≤ 1.2x", _vs, up, base, field, "ms", 1.2)  # fmt: skip
        add(f"B6, a {mib[1]} download vs nginx serving it from disk: throughput", key,
            "≥ 0.5x", _vs, down, find(b6, target="nginx", beside=key), "mib_per_s", "MiB/s",
            0.5, False)  # fmt: skip
        add(f"B6, {(burst or {}).get('posts', 'N')} uploads of {mib[1]} at once: worker RSS "
            "peak over idle", key, "≤ 50 MiB, all 2xx", _b6_memory, burst)  # fmt: skip

    rest = [r for r in results["b4"] if r["target"] == key]
    if not rest:
        add("B4, tickets/ page of 50", key, "≤ 1.5x and ≤ 20 ms", lambda: None)
        return
    large, small = max(r["tickets"] for r in rest), min(r["tickets"] for r in rest)
    add(f"B4, tickets/ page of 50 at {large:,} vs at {small:,} tickets", key,
        "≤ 1.5x and ≤ 20 ms", _b4_page, find(rest, tickets=large, paginated=True),
        find(rest, tickets=small, paginated=True))  # fmt: skip
    add(f"B4, unpaginated tickets/ at {large:,} tickets", key, "≤ 1 s",
        lambda r: (f"{r['median_ms']:,.0f} ms", r["median_ms"] <= 1000),
        find(rest, tickets=large, paginated=False))  # fmt: skip


def _machine(results: dict[str, Any]) -> str:
    meta = results["meta"]
    m, client = meta["machine"], meta["client"]
    load = [
        " / ".join(f"{x:.1f}" for x in m.get(k) or []) for k in ("loadavg_start", "loadavg_end")
    ]
    return _table(["", ""], [
        ["commit measured", f"`{m['commit'][:10]}`" if m.get("commit") else "—"],
        ["CPU", f"{m['cpu']}, {m['cores']} cores ({m['cores_usable']} usable)"],
        ["memory", f"{m['memory_bytes'] / GIB:.1f} GiB"],
        ["kernel", m["kernel"]],
        ["load average (1/5/15 min) at start, at end", f"{load[0]}; {load[1] or '—'}"],
        ["Python", m["python"]],
        ["packages", ", ".join(f"{k} {v}" for k, v in m["packages"].items() if v)],
        ["PostgreSQL, Redis", f"{m.get('postgresql') or '—'}; {m.get('redis') or '—'}"],
        ["client", f"one process, {client['loop']} loop, nofile {client['nofile']}"],
        ["SQLite files on tmpfs", "yes" if meta.get("workdir_on_tmpfs") else "no"],
    ])  # fmt: skip


def _b1(results: dict[str, Any]) -> str:
    sizes = results["meta"]["sizes"]["b1_listeners"]
    series = list(dict.fromkeys((r["target"], r["transport"]) for r in results["b1"]))
    rows = []
    for key, transport in series:
        cells = [label(results, key), transport]
        for n in sizes:
            r = find(results["b1"], target=key, transport=transport, listeners=n)
            cell = "—"
            if r is not None:
                cell = " / ".join(_ms(r[q], r["missing"]) for q in ("p50_ms", "p95_ms", "p99_ms"))
                if r["connected"] < r["listeners"]:
                    cell += f" ({r['connected']} connected)"
            cells.append(cell)
        rows.append(cells)
    header = ["target", "transport"] + [f"{n} listeners: p50 / p95 / p99 ms" for n in sizes]
    return _table(header, rows)


def _b1_loaded(results: dict[str, Any]) -> str:
    return _table(
        ["target", "msg/s offered / achieved", "listeners", "delivered", "p50 ms", "p95 ms",
         "p99 ms", "server CPU", "client CPU"],
        ([label(results, r["target"]), f"{r['offered_rate']:.0f} / {r['achieved_rate']:.0f}",
          f"{r['connected']}", f"{r['delivered_fraction']:.1%}",
          *(_ms(r[q], r["missing"]) for q in ("p50_ms", "p95_ms", "p99_ms")),
          f"{r['server_cpu_share']:.0%}", f"{r['client_cpu_share']:.0%}"]
         for r in results["b1_loaded"]),
    )  # fmt: skip


def _b2(results: dict[str, Any]) -> str:
    def events(key: str) -> float | None:
        row = find(results["b2"], target=key)
        return row["sustained_events_per_s"] if row else None

    rows = []
    for r in results["b2"]:
        ours = results["targets"].get(r["target"], {}).get("family") == "ours"
        bare = events(bare_of(r["target"], "sqlite")) if ours else None
        rate = r["sustained_events_per_s"]
        rows.append(
            [label(results, r["target"]), _num(r["sustained_posts_per_s"]), _num(rate),
             _ratio(rate, events("pure")), _ratio(rate, bare),
             _num(r["peak_delivered_events_per_s"]), _num(r["first_failing_rate"])]
        )  # fmt: skip
    return _table(
        ["target", "sustained posts/s", "sustained events/s", "vs pure",
         "vs bare Channels (same server)", "peak delivered events/s",
         "first failing posts/s"],
        rows,
    )  # fmt: skip


def _b3(results: dict[str, Any]) -> str:
    return _table(
        ["target", "transport", "held / tried", "RSS idle MiB", "RSS top MiB",
         "KiB per connection", "server threads", "one event to all: p50 / last ms",
         "stopped because"],
        ([label(results, r["target"]), r["transport"], f"{r['reached']:,} / {r['attempted']:,}",
          f"{r['rss_idle_bytes'] / MIB:,.0f}", f"{r['rss_top_bytes'] / MIB:,.0f}",
          f"{r['rss_per_connection_bytes'] / KIB:,.1f}",
          f"{r['points'][0]['server_threads']:.0f} → {r['points'][-1]['server_threads']:.0f}",
          f"{_ms(b['p50_ms'], b['missing'])} / {_ms(b['max_ms'], b['missing'])}", r["stopped"]]
         for r in results["b3"] for b in [r["broadcast"]]),
    )  # fmt: skip


def _reconnect(results: dict[str, Any]) -> str:
    return _table(
        ["target", "back / clients", "all back after s", "deadline s", "failed attempts",
         "errors"],
        ([label(results, r["target"]), f"{r['back']:,} / {r['clients']:,}",
          "not all" if r["all_back_s"] is None else _num(r["all_back_s"], 1),
          f"{r['deadline_s']:.0f}", f"{r['failed_attempts']:,}",
          ", ".join(f"{n} x {e}" for e, n in r["attempt_errors"].items()) or "—"]
         for r in results["b3_reconnect"]),
    )  # fmt: skip


def _b4(results: dict[str, Any]) -> str:
    return _table(
        ["target", "request", "tickets", "median ms", "p95 ms", "queries", "KiB", "status"],
        ([label(results, r["target"]), f"`{r['url']}`", f"{r['tickets']:,}",
          _ms(r["median_ms"]), _ms(r["p95_ms"]), queries(r["queries"]),
          f"{r['bytes'] / KIB:,.0f}", str(r["status"])]
         for r in results["b4"]),
    )  # fmt: skip


def _b5(results: dict[str, Any], section: str = "b5") -> str:
    """B5's posts; or B6's uploads and downloads, with their size, MiB/s and the RSS."""

    def statuses(r: Row) -> str:
        shown = ", ".join(f"{n} x {s}" for s, n in r["statuses"].items())
        return f"{r['non_2xx']}" + (f" ({shown})" if r["non_2xx"] else "")

    def files(r: Row) -> list[str]:
        idle, peak = r.get("rss_idle_bytes"), r.get("rss_peak_bytes")
        return [f"{r['bytes'] / MIB:,.2f}", _num(r["posts_per_s"] * r["bytes"] / MIB),
                f"{idle / MIB:.0f} → {peak / MIB:.0f}" if idle and peak else "—"]  # fmt: skip

    return _table(
        ["target", "phase", "posters", "posts", "p50 ms", "p99 ms", "posts/s",
         "worker CPU ms/post", "not 2xx"]
        + (["MiB each", "MiB/s", "RSS idle → peak MiB"] if section == "b6" else []),
        ([label(results, r["target"]) + (f" (beside {r['beside']})" if "beside" in r else ""),
          r["phase"], f"{r['posters']}", f"{r['posts']}", _ms(r["p50_ms"]), _ms(r["p99_ms"]),
          _num(r["posts_per_s"]), _num(r["server_cpu_ms_per_post"], 1), statuses(r),
          *(files(r) if section == "b6" else [])]
         for r in results.get(section, [])),
    )  # fmt: skip


def markdown(results: dict[str, Any]) -> str:
    """The report; it also stores the target table in ``results["targets_check"]``."""
    meta = results["meta"]
    checks = results["targets_check"] = check(results)
    met = {True: "met", False: "**missed**", None: "—"}
    targets = [
        [c["measurement"], label(results, c["config"]), c["measured"], c["target"], met[c["met"]]]
        for c in checks
    ]
    sizes = meta["sizes"]
    sections = meta.get("sections", {}).items()
    parts = {
        "## Targets": _table(["measurement", "configuration", "measured", "target", ""], targets),
        "## Machine": _machine(results),
        "## B1: latency, bot post → every listener": _b1(results),
        "### Under load: open loop, WebSocket": _b1_loaded(results),
        f"## B2: throughput, {sizes['b2_listeners']} WebSocket listeners, "
        f"p99 ≤ {sizes['b2_p99_limit_ms']:.0f} ms": _b2(results),
        "## B3: idle connections per worker process": _b3(results),
        "### Reconnect storm: WebSockets back after a restart": _reconnect(results),
        "## B4: REST `tickets/`": _b4(results),
        "## B5: a bot's REST post vs the bare Django view": _b5(results),
        "## B6: attachments, up vs the bare Django view, down vs nginx": _b5(results, "b6"),
        "## How long each section took": _table(
            ["section", "took min"], ([n, f"{s['actual_s'] / 60:.1f}"] for n, s in sections)
        ),
    }
    out = [
        "# Benchmark results\n",
        f"Mode **{meta['mode']}**, started {meta['started']}, took "
        f"{meta.get('duration_s', 0) / 60:.1f} min: `{meta['command']}`. What is measured, "
        "and how: `docs/benchmarks.md`. A delivery that never arrived is infinitely late "
        '("lost"); every ratio compares two numbers of this run.\n',
        *(f"{heading}\n\n{body}" for heading, body in parts.items()),
    ]
    if meta.get("plots"):
        out.append("\n## Plots\n\n" + "".join(f"![{p}]({p})\n" for p in meta["plots"]))
    if results["errors"]:
        errors = "".join(f"- {e['what']}: `{e['error']}`\n" for e in results["errors"])
        out.append("\n## Errors\n\n" + errors)
    return "\n".join(out)

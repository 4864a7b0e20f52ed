"""The issue's target table, computed from one run: each row measured, its target, met or not.

Every row is a ratio or a bound taken from numbers of the same run, per
configuration of ours, against the baseline the issue names: the pure
``websockets`` server, the bare Channels consumer and the bare Django view
on the same server (:mod:`benchmarks.bare`), or our own numbers at another
size. A row whose inputs were not measured in this run says so instead of
passing or failing. The load test (500 clients through nginx) is not part
of this run and has no row here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

KIB = 1024


@dataclass(frozen=True)
class Goal:
    measurement: str
    config: str
    measured: str
    target: str
    met: bool | None  # None: not measured in this run

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def bare_of(key: str, storage: str | None = None) -> str:
    """The bare baseline's key for one of ours: same server, same (or *storage*) database."""
    _family, server, own = key.split("-", 2)
    return f"bare-{server}-{storage or own}"


def _find(rows: list[dict[str, Any]], **match: Any) -> dict[str, Any] | None:
    return next((r for r in rows if all(r.get(k) == v for k, v in match.items())), None)


def _x(value: float) -> str:
    return f"{value:.2f}x"


class _Goals:
    """Collects the rows for one results dict."""

    def __init__(self, results: dict[str, Any]) -> None:
        self.results = results
        self.rows: list[Goal] = []

    def add(
        self,
        measurement: str,
        config: str,
        target: str,
        compute: Callable[[], tuple[str, bool] | None],
    ) -> None:
        """One row; *compute* returns (measured, met), or None when an input is missing."""
        try:
            outcome = compute()
        except (TypeError, ZeroDivisionError, KeyError):  # None or 0 where a number was due
            outcome = None
        if outcome is None:
            self.rows.append(Goal(measurement, config, "not measured", target, None))
        else:
            self.rows.append(Goal(measurement, config, outcome[0], target, outcome[1]))

    def b1(self, key: str) -> None:
        b1 = self.results["b1"]
        sizes = self.results["meta"]["sizes"]["b1_listeners"]
        one, many = min(sizes), max((n for n in sizes if n <= 100), default=max(sizes))

        def single() -> tuple[str, bool] | None:
            ours = _find(b1, target=key, transport="websocket", listeners=one)
            pure = _find(b1, target="pure", transport="websocket", listeners=one)
            if ours is None or pure is None:
                return None
            ratio = ours["p50_ms"] / pure["p50_ms"]
            return f"{_x(ratio)} ({ours['p50_ms']:.1f} vs {pure['p50_ms']:.1f} ms)", ratio <= 5

        self.add(f"B1, {one} listener, REST post → WebSocket, p50 vs pure", key, "≤ 5x", single)
        for transport in ("sse", "longpoll"):

            def versus_ws(transport: str = transport) -> tuple[str, bool] | None:
                row = _find(b1, target=key, transport=transport, listeners=many)
                ws = _find(b1, target=key, transport="websocket", listeners=many)
                if row is None or ws is None:
                    return None
                if row["p50_ms"] is None:
                    return f"lost ({row['missing']})", False
                ratio = row["p50_ms"] / ws["p50_ms"]
                return f"{_x(ratio)} ({row['p50_ms']:.1f} vs {ws['p50_ms']:.1f} ms)", ratio <= 2

            self.add(f"B1, {many} listeners, {transport} p50 vs WebSocket", key, "≤ 2x", versus_ws)

    def b2(self, key: str, server: str) -> None:
        b2 = self.results["b2"]
        ours = _find(b2, target=key)

        def vs(base_key: str, bound: float) -> Callable[[], tuple[str, bool] | None]:
            def compute() -> tuple[str, bool] | None:
                base = _find(b2, target=base_key)
                if ours is None or base is None:
                    return None
                a, b = ours["sustained_events_per_s"], base["sustained_events_per_s"]
                ratio = a / b
                return f"{_x(ratio)} ({a:,.0f} vs {b:,.0f} events/s)", ratio >= bound

            return compute

        bare = bare_of(key, "sqlite")
        self.add(
            f"B2, fan-out to {self.results['meta']['sizes']['b2_listeners']} WebSockets vs "
            f"the bare Channels consumer on {server}",
            key, "≥ 0.9x", vs(bare, 0.9),
        )  # fmt: skip
        self.add("B2, fan-out vs pure websockets", key, "≥ 0.4x (best server)", vs("pure", 0.4))

    def b5(self, key: str) -> None:
        b5 = self.results["b5"]
        for phase in ("sequential", "concurrent"):
            ours = _find(b5, target=key, phase=phase)
            base = _find(b5, target=bare_of(key), phase=phase)
            who = (
                "one at a time"
                if phase == "sequential"
                else f"{ours['posters'] if ours else '?'} posters"
            )

            def cpu(ours: Any = ours, base: Any = base) -> tuple[str, bool] | None:
                a, b = ours["server_cpu_ms_per_post"], base["server_cpu_ms_per_post"]
                return f"{_x(a / b)} ({a:.1f} vs {b:.1f} ms)", a / b <= 1.0

            def p50(ours: Any = ours, base: Any = base) -> tuple[str, bool] | None:
                a, b = ours["p50_ms"], base["p50_ms"]
                return f"{_x(a / b)} ({a:.1f} vs {b:.1f} ms)", a / b <= 1.2

            def rate(ours: Any = ours, base: Any = base) -> tuple[str, bool] | None:
                a, b = ours["posts_per_s"], base["posts_per_s"]
                return f"{_x(a / b)} ({a:.0f} vs {b:.0f} posts/s)", a / b >= 1.0

            def failures(ours: Any = ours) -> tuple[str, bool] | None:
                counts = ", ".join(f"{n} x {status}" for status, n in ours["statuses"].items())
                return f"{ours['non_2xx']} of {ours['posts']} ({counts})", ours["non_2xx"] == 0

            title = f"post ({who}) vs the bare Django view"
            self.add(f"{title}: worker CPU per post", key, "≤ 1.0x", cpu)
            self.add(f"{title}: p50", key, "≤ 1.2x", p50)
            self.add(f"{title}: throughput", key, "≥ 1.0x", rate)
            self.add(f"post ({who}): answers not 2xx", key, "0", failures)

    def b3(self, key: str, server: str) -> None:
        b3 = self.results["b3"]
        if not any(r["target"] == key for r in b3):
            return  # a configuration B3 does not measure (the sizes' ``b3_configs``)
        ws = _find(b3, target=key, transport="websocket")
        base = _find(b3, target=bare_of(key), transport="websocket")

        def websockets() -> tuple[str, bool] | None:
            if ws is None or base is None:
                return None
            ratio = ws["rss_per_connection_bytes"] / base["rss_per_connection_bytes"]
            held = ws["reached"] >= ws["attempted"]
            return (
                f"{ws['reached']:,} held; {ws['rss_per_connection_bytes'] / KIB:.1f} KiB each, "
                f"{_x(ratio)} the bare consumer's {base['rss_per_connection_bytes'] / KIB:.1f}",
                held and ratio <= 1.15,
            )

        attempted = ws["attempted"] if ws else "all"
        self.add(
            f"B3, idle WebSockets one worker holds; memory vs bare Channels on {server}",
            key, f"{attempted:,}, ≤ 1.15x each" if ws else "≤ 1.15x", websockets,
        )  # fmt: skip
        for transport in ("sse", "longpoll"):
            row = _find(b3, target=key, transport=transport)

            def streams(row: Any = row) -> tuple[str, bool] | None:
                threads = row["points"][-1]["server_threads"] - row["points"][0]["server_threads"]
                kib = row["rss_per_connection_bytes"] / KIB
                ok = (
                    row["reached"] >= row["attempted"]
                    and kib <= 40
                    and threads < row["reached"] / 10
                )
                return f"{row['reached']:,} held, {kib:.1f} KiB each, {threads:+.0f} threads", ok

            goal = f"{row['attempted']:,}, ≤ 40 KiB each, no thread each" if row else "—"
            self.add(f"B3, idle {transport} one worker holds", key, goal, streams)
        storm = _find(self.results.get("b3_reconnect", []), target=key)

        def reconnect() -> tuple[str, bool] | None:
            assert storm is not None
            when = f"in {storm['all_back_s']:.1f} s" if storm["all_back_s"] is not None else ""
            return (
                f"{storm['back']:,} of {storm['clients']:,} back {when}, "
                f"{storm['failed_attempts']} failed attempts",
                bool(storm["met"]),
            )

        deadline = f"within {storm['deadline_s']:.0f} s, none refused" if storm else "—"
        clients = f"{storm['clients']:,}" if storm else "N"
        self.add(
            f"B3, {clients} WebSockets reconnecting at once after a restart", key,
            f"all back {deadline}", reconnect if storm else lambda: None,
        )  # fmt: skip

    def b4(self, key: str) -> None:
        rows = [r for r in self.results["b4"] if r["target"] == key]
        if not rows:
            self.add("B4, tickets/ page of 50", key, "≤ 1.5x and ≤ 20 ms", lambda: None)
            return
        large = max(r["tickets"] for r in rows)
        small = min(r["tickets"] for r in rows)

        def page() -> tuple[str, bool] | None:
            big = _find(rows, tickets=large, paginated=True)
            little = _find(rows, tickets=small, paginated=True)
            if big is None or little is None or large == small:
                return None
            ratio = big["median_ms"] / little["median_ms"]
            return (
                f"{_x(ratio)} ({big['median_ms']:.1f} vs {little['median_ms']:.1f} ms)",
                ratio <= 1.5 and big["median_ms"] <= 20,
            )

        def whole() -> tuple[str, bool] | None:
            row = _find(rows, tickets=large, paginated=False)
            if row is None:
                return None
            return f"{row['median_ms']:,.0f} ms", row["median_ms"] <= 1000

        self.add(
            f"B4, tickets/ page of 50 at {large:,} vs at {small:,} tickets", key,
            "≤ 1.5x and ≤ 20 ms", page,
        )  # fmt: skip
        self.add(f"B4, unpaginated tickets/ at {large:,} tickets", key, "≤ 1 s", whole)


def check(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Every row of the target table, per configuration of ours, in the issue's order."""
    goals = _Goals(results)
    ours = [k for k, t in results["targets"].items() if t["family"] == "ours"]
    for key in ours:
        server = results["targets"][key].get("server", "")
        goals.b1(key)
        goals.b2(key, server)
        goals.b5(key)
        goals.b3(key, server)
        goals.b4(key)
    return [goal.as_dict() for goal in goals.rows]

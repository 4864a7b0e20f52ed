"""The run: start every server, measure B1-B5 across all of them, write the results.

Measurements are interleaved by benchmark, not by server (B1 on every
server, then B2 on every server, …), so a baseline and our server are
measured minutes apart under the same background load, and the ratios
between them are as fair as a shared machine allows. Each target takes
part only in the benchmarks its ``measured_in`` names (the bare baselines
where the issue compares against them, the original 1.2.0 where the sizes
say). B3 restarts each server (to start from a clean RSS); B5 runs before
B4, which seeds the databases. Each section prints how long it took.

A measurement that raises is recorded under ``errors`` and the run goes on:
a full run should still deliver every other number.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

from benchmarks import (
    b1_latency,
    b2_throughput,
    b3_capacity,
    b3_reconnect,
    b4_rest,
    b5_post,
    profiling,
)
from benchmarks.bare_target import bare
from benchmarks.config import FULL, QUICK, Config, Sizes, raise_nofile_limit, say
from benchmarks.load import Crowd, grow, warm
from benchmarks.recorder import Recorder
from benchmarks.targets import WORKAROUNDS, Target, original, ours, pure
from tests.harness.postgres import create_database, find_pg_bin, running_postgres
from tests.harness.process import ROOT
from tests.harness.redis import RedisServer

BENCHMARKS = ("b1", "b2", "b3", "b4", "b5")
T = TypeVar("T")


@dataclass(frozen=True)
class Options:
    quick: bool
    out: Path
    only: tuple[str, ...] = BENCHMARKS
    original: bool = True
    postgres: bool = True
    profile: bool = True
    keep: bool = False
    report_only: bool = False
    profile_only: bool = False


class Run:
    def __init__(self, options: Options, sizes: Sizes) -> None:
        self.options = options
        self.sizes = sizes
        self.sections: dict[str, dict[str, float]] = {}
        self.results: dict[str, Any] = {
            "meta": {},
            "targets": {},
            "b1": [],
            "b1_loaded": [],
            "b2": [],
            "b3": [],
            "b4": [],
            "b5": [],
            "b3_reconnect": [],
            "profiles": [],
            "errors": [],
        }

    async def attempt(self, what: str, work: Awaitable[T]) -> T | None:
        """Await *work*; on failure, record it and return None so the run goes on."""
        say(what)
        try:
            return await work
        except Exception as error:
            say(f"  FAILED: {error!r}")
            self.results["errors"].append(
                {"what": what, "error": repr(error), "traceback": traceback.format_exc()[-3000:]}
            )
            return None

    @contextlib.contextmanager
    def section(self, name: str) -> Iterator[None]:
        say(f"== {name} starts")
        start = time.monotonic()
        try:
            yield
        finally:
            self.sections[name] = {"actual_s": time.monotonic() - start}
            say(f"== {name} took {self.sections[name]['actual_s'] / 60:.1f} min")

    def checkpoint(self) -> None:
        """Write what is measured so far, so an interrupted run still leaves numbers."""
        partial = json.dumps(_clean(self.results), indent=1, ensure_ascii=False)
        (self.options.out / "results.partial.json").write_text(partial)

    def profiling(self) -> bool:
        return self.options.profile and self.sizes.profile_seconds > 0 and profiling.available()

    async def profiled(
        self,
        target: Target,
        name: str,
        what: str,
        work: Callable[[Callable[[], object] | None], Awaitable[T]],
    ) -> T:
        """Run *work*, handing it a hook that starts py-spy on the target's server.

        The measurement calls the hook when its posting starts, so the
        samples cover the load and not the connecting before it.
        """
        if not self.profiling():
            return await work(None)
        raw = self.options.out / RAW / f"profile-{name}.txt"
        raw.parent.mkdir(exist_ok=True)
        started: list[subprocess.Popen[bytes]] = []

        def start() -> None:
            started.append(profiling.start(target.server.pid, self.sizes.profile_seconds, raw))

        try:
            return await work(start)
        finally:
            if started:
                summary = await asyncio.to_thread(profiling.finish, started[0], raw)
                if summary is not None:
                    self.results["profiles"].append(
                        {"name": name, "target": target.key, "scenario": what,
                         "raw": f"{RAW}/{raw.name}", **summary}
                    )  # fmt: skip

    async def execute(self) -> dict[str, Any]:
        _cancel_on_signals()
        options, sizes, results = self.options, self.sizes, self.results
        started = time.monotonic()
        results["meta"] = {
            "mode": sizes.name,
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": " ".join(["python", "-m", "benchmarks", *sys.argv[1:]]),
            "machine": _machine(),
            "client": {
                "nofile": raise_nofile_limit(),
                "loop": type(asyncio.get_running_loop()).__module__.split(".")[0],
            },
            "sizes": sizes.__dict__,
            "original_workarounds": WORKAROUNDS if options.original else [],
            "sections": self.sections,
        }
        workdir, results["meta"]["workdir_on_tmpfs"] = _workdir()
        targets: list[Target] = []
        with contextlib.ExitStack() as stack:
            if not options.keep:
                stack.callback(shutil.rmtree, workdir, True)
            stack.callback(_stop_all, targets)
            configs = [c for c in sizes.configs if options.postgres or c[1] != "pg"]
            with self.section("setup"):
                await self.start_targets(stack, workdir, configs, targets)
            for name, work in (
                ("b1", self.run_b1),
                ("b2", self.run_b2),
                # B3 before B4: B4 seeds 10,000 tickets, a third of them assigned to the
                # benchmark's manager, and the original joins one channel-layer group per
                # assigned ticket on every connect.
                ("b3", self.run_b3),
                ("b5", self.run_b5),
                ("b4", self.run_b4),
            ):
                if name in options.only:
                    chosen = [t for t in targets if name in t.measured_in]
                    with self.section(name):
                        await work(chosen)
                    self.checkpoint()
        results["meta"]["duration_s"] = time.monotonic() - started
        results["meta"]["machine"]["loadavg_end"] = os.getloadavg()
        return results

    async def start_targets(
        self,
        stack: contextlib.ExitStack,
        workdir: Path,
        configs: list[Config],
        targets: list[Target],
    ) -> None:
        """Start every server: pure, ours and bare per configuration, the original; warm up."""
        options, sizes, results = self.options, self.sizes, self.results
        pg_url, redis = None, RedisServer(workdir, maxclients=10000)
        if any(storage == "pg" for _server, storage in configs):
            say("starting PostgreSQL and Redis")
            pg_url = stack.enter_context(running_postgres())
            stack.callback(redis.start().stop)
        targets.append(pure(workdir))
        per_config: list[Target] = []
        for index, (server_kind, storage) in enumerate(configs):
            if storage == "pg":
                assert pg_url is not None
                database = create_database(pg_url, f"bench_{server_kind}")
                per_config.append(ours(workdir, server_kind, database, redis.url_for(index)))
            else:
                per_config.append(ours(workdir, server_kind))
        for server_kind, storage in configs:
            url = None
            if storage == "pg":
                assert pg_url is not None
                url = create_database(pg_url, f"bare_{server_kind}")
            per_config.append(bare(workdir, server_kind, url))
        for target in per_config:
            if _config(target) not in sizes.b3_configs:
                target.measured_in -= {"b3"}
        targets.extend(per_config)
        if options.original:
            built = await self.attempt(
                "original 1.2.0: install and start", asyncio.to_thread(original, workdir)
            )
            if built is not None:
                built.measured_in = frozenset(sizes.original_in)
                targets.append(built)
        for target in targets:
            await self.attempt(f"{target.key}: warm-up", warm(target, "websocket", 3))
            results["targets"][target.key] = {
                **target.describe(),
                "server_nofile": target.server.nofile_limit(),
            }

    async def run_b1(self, targets: list[Target]) -> None:
        sizes, results = self.sizes, self.results
        for listeners in sizes.b1_listeners:
            for target in targets:
                for transport in target.transports:
                    row = await self.attempt(
                        f"B1 {target.key} {transport} x {listeners}",
                        b1_latency.unloaded(target, transport, listeners, sizes),
                    )
                    if row is not None:
                        results["b1"].append(row)
                        say(
                            f"  p50 {row['p50_ms']:.1f} ms, p99 {row['p99_ms']:.1f} ms, "
                            f"missing {row['missing']}"
                        )
        profiled = False
        for target in targets:
            if target.family == "ours" and _config(target) not in sizes.b1_loaded_configs:
                continue
            if target.family not in ("ours", "pure"):
                continue
            if target.family == "ours" and not profiled:
                profiled = True  # the first of ours: daphne on SQLite
                row = await self.profile_loaded(target)
            else:
                row = await self.attempt(self.loaded_what(target), b1_latency.loaded(target, sizes))
            if row is not None:
                results["b1_loaded"].append(row)
                say(
                    f"  p50 {row['p50_ms']:.1f} ms, p99 {row['p99_ms']:.1f} ms, "
                    f"delivered {row['delivered_fraction']:.1%}"
                )

    async def run_b2(self, targets: list[Target]) -> None:
        sizes, results = self.sizes, self.results
        for target in targets:
            row = await self.attempt(
                f"B2 {target.key}: {sizes.b2_listeners} WebSocket listeners",
                b2_throughput.run(target, sizes),
            )
            if row is None:
                continue
            results["b2"].append(row)
            say(
                f"  sustained {row['sustained_posts_per_s']:.0f} posts/s = "
                f"{row['sustained_events_per_s']:.0f} events/s"
            )
            if target.family == "ours" and _config(target)[1] == "sqlite":
                await self.saturation_profile(target, _saturation_rate(row))

    def loaded_what(self, target: Target) -> str:
        return (
            f"B1 loaded {target.key}: {self.sizes.b1_loaded_rate:.0f}/s "
            f"to {self.sizes.b1_loaded_listeners} WebSocket listeners"
        )

    async def profile_loaded(self, target: Target) -> dict[str, Any] | None:
        """The B1 loaded cell, with py-spy attached once posting starts."""

        async def work(on_start: Callable[[], object] | None) -> dict[str, Any]:
            return await b1_latency.loaded(target, self.sizes, on_start)

        what = self.loaded_what(target)
        return await self.attempt(what, self.profiled(target, "b1-loaded", what, work))

    async def saturation_profile(self, target: Target, rate: float) -> None:
        """One more B2 step at *rate* (the first failing one), with py-spy attached."""
        if not self.profiling():
            return
        sizes = self.sizes

        async def saturated(on_start: Callable[[], object] | None) -> Any:
            crowd = Crowd("websocket")
            await grow(crowd, target, Recorder(1, 1), sizes.b2_listeners)
            await asyncio.sleep(0.5)
            try:
                long_sizes = replace(sizes, b2_step_seconds=max(sizes.profile_seconds, 3.0))
                return await b2_throughput.step(target, crowd, rate, long_sizes, on_start)
            finally:
                await crowd.close()

        what = (
            f"B2 saturation on {target.key}: {rate:.0f} posts/s to {sizes.b2_listeners} listeners"
        )
        name = f"b2-saturation-{target.server_kind}"
        await self.attempt(what, self.profiled(target, name, what, saturated))

    async def execute_profiles(self) -> dict[str, Any]:
        """``--profile-only``: redo the profiles of an earlier run, on our SQLite configs.

        The B2 rate is the earlier run's first failing rate for that server.
        """
        _cancel_on_signals()
        earlier = json.loads((self.options.out / "results.json").read_text())
        rates = {r["target"]: _saturation_rate(r) for r in earlier["b2"]}
        workdir, _on_tmpfs = _workdir()
        targets: list[Target] = []
        with contextlib.ExitStack() as stack:
            stack.callback(shutil.rmtree, workdir, True)
            stack.callback(_stop_all, targets)
            for server_kind, storage in self.sizes.configs:
                if storage != "sqlite":
                    continue
                target = ours(workdir, server_kind)
                targets.append(target)
                await warm(target, "websocket", 3)
                if not any(p["scenario"].startswith("B1") for p in self.results["profiles"]):
                    await self.profile_loaded(target)
                await self.saturation_profile(target, rates.get(target.key, 100.0))
        earlier["profiles"] = self.results["profiles"]
        earlier["errors"] = earlier["errors"] + self.results["errors"]
        return dict(earlier)

    async def run_b3(self, targets: list[Target]) -> None:
        sizes, results = self.sizes, self.results
        for target in targets:
            for transport in target.transports:
                steps = b3_capacity.steps_of(transport, sizes)
                row = await self.attempt(
                    f"B3 {target.key} {transport}: up to {steps[-1]} idle connections",
                    b3_capacity.run(target, transport, sizes),
                )
                if row is not None:
                    results["b3"].append(row)
                    say(
                        f"  held {row['reached']} ({row['stopped']}), "
                        f"{row['rss_per_connection_bytes'] / 1024:.1f} KiB/connection"
                    )
                if transport == "websocket" and target.family in ("ours", "bare"):
                    storm = await self.attempt(
                        f"B3 {target.key}: {steps[-1]} WebSockets reconnect at once after "
                        "a restart",
                        b3_reconnect.run(target, steps[-1], sizes.b3_reconnect_deadline),
                    )
                    if storm is not None:
                        results["b3_reconnect"].append(storm)
                        say(
                            f"  {storm['back']} of {storm['clients']} back within "
                            f"{storm['deadline_s']:.0f} s, {storm['failed_attempts']} "
                            "failed attempts"
                        )

    async def run_b5(self, targets: list[Target]) -> None:
        """Posts to ours and to the bare view; then py-spy on the first of ours, posting."""
        sizes = self.sizes
        for target in targets:
            if target.rest_post is None:
                continue
            what = f"B5 {target.key}: posts one at a time, then from {sizes.b5_posters}"
            rows = await self.attempt(what, b5_post.run(target, sizes))
            for row in rows or []:
                self.results["b5"].append(row)
                say(
                    f"  {row['phase']}: p50 {row['p50_ms']:.1f} ms, {row['posts_per_s']:.0f}/s, "
                    f"CPU {row['server_cpu_ms_per_post'] or 0:.1f} ms/post, "
                    f"non-2xx {row['non_2xx']}"
                )
        first = next((t for t in targets if t.family == "ours"), None)
        if first is not None and self.profiling():
            what = f"B5 posts on {first.key} from {sizes.b5_posters} posters, no listener"

            async def work(on_start: Callable[[], object] | None) -> None:
                assert on_start is not None
                await b5_post.profile_load(first, sizes, on_start)

            await self.attempt(what, self.profiled(first, "b5-post", what, work))

    async def run_b4(self, targets: list[Target]) -> None:
        for target in targets:
            if target.manage is not None:
                rows = await self.attempt(f"B4 {target.key}", b4_rest.run(target, self.sizes))
                self.results["b4"].extend(rows or [])


#: Where py-spy's raw stacks go, in the output folder (not committed: summaries are).
RAW = "raw"


def _cancel_on_signals() -> None:
    """SIGTERM or SIGINT cancel the run, so the servers are stopped on the way out."""
    loop, task = asyncio.get_running_loop(), asyncio.current_task()
    assert task is not None
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)


def _workdir() -> tuple[Path, bool]:
    """A new work folder, and whether it is on tmpfs.

    SQLite files (ours and the original's) live on tmpfs when there is one: this
    disk's fsync takes ~17 ms, and the PostgreSQL cluster runs with fsync off.
    Both databases then cost CPU, not disk waits, which is what is compared.
    """
    shm = Path("/dev/shm")
    tmp_root = str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None
    return Path(tempfile.mkdtemp(prefix="chatlabs-bench-", dir=tmp_root)), tmp_root is not None


PACKAGES = (
    "Django", "channels", "daphne", "Twisted", "autobahn", "uvicorn", "uvloop", "httptools",
    "websockets", "djangorestframework", "django-eventstream", "channels-redis", "redis",
    "psycopg", "asgiref", "chatlabs-django-support",
)  # fmt: skip


def _machine() -> dict[str, Any]:
    """What the numbers are measured on: CPU, memory, load, versions."""

    def first_line(*command: str) -> str | None:
        try:
            run = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)
        except OSError:
            return None
        lines = (run.stdout or run.stderr).strip().splitlines()
        return lines[0] if run.returncode == 0 and lines else None

    def version(package: str) -> str | None:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return None

    def proc(path: str, key: str) -> str | None:
        lines = Path(path).read_text().splitlines()
        return next((line.split(":", 1)[1].strip() for line in lines if line.startswith(key)), None)

    pg_bin = find_pg_bin()
    return {
        "commit": first_line("git", "-C", str(ROOT), "rev-parse", "--verify", "-q", "HEAD"),
        "cpu": proc("/proc/cpuinfo", "model name") or platform.processor() or "unknown",
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)),
        "memory_bytes": int((proc("/proc/meminfo", "MemTotal:") or "0 kB").split()[0]) * 1024,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "loadavg_start": os.getloadavg(),
        "packages": {name: version(name) for name in PACKAGES},
        "postgresql": first_line(str(pg_bin / "postgres"), "--version") if pg_bin else None,
        "redis": first_line("redis-server", "--version"),
    }


def _config(target: Target) -> Config:
    """(server, storage) of one of ours or a bare baseline, as the sizes name them."""
    return (target.server_kind, "pg" if "Postgre" in target.storage else "sqlite")


def _saturation_rate(row: dict[str, Any]) -> float:
    """Where to profile B2: the first failing rate, else twice the sustained one."""
    return float(row["first_failing_rate"] or row["sustained_posts_per_s"] * 2 or 50.0)


def _stop_all(targets: list[Target]) -> None:
    for target in targets:
        target.server.stop()


def _clean(value: Any) -> Any:
    """JSON without NaN or infinity: those become ``null`` (``missing`` says why)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def run(options: Options) -> dict[str, Any]:
    """Run the benchmarks; write ``results.json``, ``results.md`` and the plots."""
    sizes = QUICK if options.quick else FULL
    raise_nofile_limit()
    options.out.mkdir(parents=True, exist_ok=True)
    runner = Run(options, sizes)
    work = runner.execute_profiles if options.profile_only else runner.execute
    try:
        import uvloop

        results = uvloop.run(work())
    except ImportError:
        results = asyncio.run(work())
    results = dict(_clean(results))
    (options.out / "results.json").write_text(json.dumps(results, indent=1, ensure_ascii=False))
    (options.out / "results.partial.json").unlink(missing_ok=True)
    return write_report(results, options.out)


def write_report(results: dict[str, Any], out: Path) -> dict[str, Any]:
    """Plots, ``results.md``, and ``results.json`` again with the ratios and targets."""
    from benchmarks import plots, report

    for entry in results["profiles"]:  # re-read the raw stacks: the layers may have changed
        raw = out / entry["raw"]
        if raw.exists():
            entry.update(profiling.summarise(raw))
    results["meta"]["plots"] = plots.draw(results, out)
    results.pop("ratios", None)
    (out / "results.md").write_text(report.markdown(results))
    (out / "results.json").write_text(json.dumps(results, indent=1, ensure_ascii=False))
    say(f"results in {out}")
    return results

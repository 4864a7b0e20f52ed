"""``python -m benchmarks [--quick] [--out DIR] [--only b1,...,b6] ...``: starts every server
and measures B1-B6 on all of them, interleaved by benchmark, so a baseline and ours are
measured minutes apart under the same load; writes ``benchmarks/results/`` (``--quick``:
a temporary folder). A measurement that raises is kept under ``errors`` (exit status 1)."""

import argparse
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
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

from benchmarks import b1_b2_fanout, b3_capacity, b4_rest, b5_b6_posts
from benchmarks.client import warm
from benchmarks.config import FULL, QUICK, Sizes, raise_nofile_limit, say
from benchmarks.targets import Target, bare, ours, pure
from tests.harness.nginx import NginxServer
from tests.harness.postgres import create_database, find_pg_bin, running_postgres
from tests.harness.process import ROOT
from tests.harness.redis import RedisServer

BENCHMARKS = ("b1", "b2", "b3", "b4", "b5", "b6")
T = TypeVar("T")
#: What a row's progress line shows, when the row has it.
SHOWN = ("p50_ms", "p99_ms", "missing", "sustained_events_per_s", "reached",
         "rss_per_connection_bytes", "back", "median_ms", "posts_per_s", "non_2xx",
         "mib_per_s", "rss_peak_bytes")  # fmt: skip


@dataclass(frozen=True)
class Options:
    quick: bool
    out: Path
    only: tuple[str, ...] = BENCHMARKS
    postgres: bool = True
    keep: bool = False


class Run:
    def __init__(self, options: Options, sizes: Sizes) -> None:
        self.options, self.sizes = options, sizes
        rows = ("b1", "b1_loaded", "b2", "b3", "b3_reconnect", "b4", "b5", "b6", "errors")
        self.results: dict[str, Any] = {name: [] for name in rows}
        self.sections: dict[str, dict[str, float]] = {}

    async def attempt(self, what: str, work: Awaitable[T]) -> T | None:
        """Await *work*; on failure, record it and return None so the run goes on."""
        say(what)
        try:
            return await work
        except Exception as error:
            say(f"  FAILED: {error!r}")
            trace = traceback.format_exc()[-3000:]
            self.results["errors"].append({"what": what, "error": repr(error), "traceback": trace})
            return None

    async def record(self, into: str, what: str, work: Awaitable[Any]) -> Any:
        """:meth:`attempt`; keep the row (or rows) under *into*, and show them."""
        rows = await self.attempt(what, work)
        for row in rows if isinstance(rows, list) else [rows] if rows else []:
            self.results[into].append(row)
            shown = (f"{k} {row[k]:,.1f}" for k in SHOWN if isinstance(row.get(k), int | float))
            say("  " + ", ".join(shown))
        return rows

    @contextlib.contextmanager
    def section(self, name: str) -> Iterator[None]:
        say(f"== {name} starts")
        start = time.monotonic()
        try:
            yield
        finally:
            self.sections[name] = {"actual_s": time.monotonic() - start}
            say(f"== {name} took {self.sections[name]['actual_s'] / 60:.1f} min")

    async def execute(self) -> dict[str, Any]:
        _cancel_on_signals()
        started = time.monotonic()
        workdir, on_tmpfs = _workdir()
        # Uploads on the disk (not tmpfs), every server's on the same file system.
        self.workdir, self.files = workdir, Path(tempfile.mkdtemp(prefix="chatlabs-bench-files-"))
        self.results["targets"] = {}
        self.results["meta"] = {
            "mode": self.sizes.name,
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": " ".join(["python", "-m", "benchmarks", *sys.argv[1:]]),
            "machine": _machine(),
            "client": {"nofile": raise_nofile_limit(),
                       "loop": type(asyncio.get_running_loop()).__module__.split(".")[0]},
            "sizes": self.sizes.__dict__,
            "sections": self.sections,
            "workdir_on_tmpfs": on_tmpfs,
        }  # fmt: skip
        targets: list[Target] = []
        with contextlib.ExitStack() as stack:
            if not self.options.keep:
                stack.callback(shutil.rmtree, workdir, True)
                stack.callback(shutil.rmtree, self.files, True)
            stack.callback(_stop_all, targets)
            with self.section("setup"):
                await self.start_targets(stack, workdir, targets)
            # B3 before B4: B4 seeds 10,000 tickets, a third assigned to the benchmark's
            # manager. B3 restarts each server, for a clean RSS.
            for name in ("b1", "b2", "b3", "b5", "b6", "b4"):
                if name in self.options.only:
                    with self.section(name):
                        chosen = [t for t in targets if name in t.measured_in]
                        await getattr(self, f"run_{name}")(chosen)
                    write_json(self.results, self.options.out / "results.json")  # a checkpoint
        self.results["meta"]["duration_s"] = time.monotonic() - started
        self.results["meta"]["machine"]["loadavg_end"] = os.getloadavg()
        return self.results

    async def start_targets(
        self, stack: contextlib.ExitStack, workdir: Path, targets: list[Target]
    ) -> None:
        """Pure; ours, then bare, per configuration; then a warm-up each."""
        sizes = self.sizes
        configs = [c for c in sizes.configs if self.options.postgres or c[1] != "pg"]
        pg_url, redis = None, RedisServer(workdir, maxclients=10000)
        if any(storage == "pg" for _server, storage in configs):
            say("starting PostgreSQL and Redis")
            pg_url = stack.enter_context(running_postgres())
            stack.callback(redis.start().stop)
        targets.append(pure(workdir))
        for family in (ours, bare):
            for index, (server_kind, storage) in enumerate(configs):
                pg = pg_url if storage == "pg" else None
                url = pg and create_database(pg, f"{family.__name__}_{server_kind}")
                extra = [redis.url_for(index) if pg else None] if family is ours else []
                targets.append(family(workdir, self.files, server_kind, url, *extra))
        for target in targets[1:]:
            if target.config not in sizes.b3_configs:  # B3 and B6 measure these only
                target.measured_in -= {"b3", "b6"}
        for target in targets:
            await self.attempt(f"{target.key}: warm-up", warm(target, "websocket", 3))
            nofile = target.server.nofile_limit()
            self.results["targets"][target.key] = {**target.describe(), "server_nofile": nofile}

    async def run_b1(self, targets: list[Target]) -> None:
        sizes = self.sizes
        for listeners in sizes.b1_listeners:
            for target in targets:
                for transport in target.transports:
                    work = b1_b2_fanout.unloaded(target, transport, listeners, sizes)
                    await self.record("b1", f"B1 {target.key} {transport} x {listeners}", work)
        for target in targets:
            if target.family == "pure" or target.config in sizes.b1_loaded_configs:
                what = (f"B1 loaded {target.key}: {sizes.b1_loaded_rate:.0f}/s to "
                        f"{sizes.b1_loaded_listeners} WebSocket listeners")  # fmt: skip
                await self.record("b1_loaded", what, b1_b2_fanout.loaded(target, sizes))

    async def run_b2(self, targets: list[Target]) -> None:
        for target in targets:
            what = f"B2 {target.key}: {self.sizes.b2_listeners} WebSocket listeners"
            await self.record("b2", what, b1_b2_fanout.throughput(target, self.sizes))

    async def run_b3(self, targets: list[Target]) -> None:
        sizes = self.sizes
        for target in targets:
            for transport in target.transports:
                top = b3_capacity.steps_of(transport, sizes)[-1]
                what = f"B3 {target.key} {transport}: up to {top} idle connections"
                await self.record("b3", what, b3_capacity.run(target, transport, sizes))
                if transport == "websocket" and target.family in ("ours", "bare"):
                    what = f"B3 {target.key}: {top} WebSockets reconnect at once after a restart"
                    storm = b3_capacity.storm(target, top, sizes.b3_reconnect_deadline)
                    await self.record("b3_reconnect", what, storm)

    async def run_b5(self, targets: list[Target]) -> None:
        for target in targets:
            what = f"B5 {target.key}: posts one at a time, then from {self.sizes.b5_posters}"
            await self.record("b5", what, b5_b6_posts.b5(target, self.sizes))

    async def run_b6(self, targets: list[Target]) -> None:
        """Per configuration, ours then bare; nginx serves the stored files from disk."""
        files = f"    location /files/ {{ alias {self.files}/; sendfile on; tcp_nopush on; }}\n"
        static = NginxServer(self.workdir, [targets[0].port if targets else 1],
                             extra_locations=files)  # fmt: skip
        try:
            up = await self.attempt("B6: nginx on the uploads", asyncio.to_thread(static.start))
            for target in sorted(targets, key=lambda t: t.config):  # stable: ours first
                what = f"B6 {target.key}: uploads, {self.sizes.b6_burst} at once, downloads"
                work = b5_b6_posts.b6(target, self.sizes, up)
                await self.record("b6", what, work)
        finally:
            static.stop()

    async def run_b4(self, targets: list[Target]) -> None:
        for target in targets:
            if target.manage is not None:
                await self.record("b4", f"B4 {target.key}", b4_rest.run(target, self.sizes))


def _cancel_on_signals() -> None:
    """SIGTERM or SIGINT cancel the run, so the servers are stopped on the way out."""
    loop, task = asyncio.get_running_loop(), asyncio.current_task()
    assert task is not None
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)


def _stop_all(targets: list[Target]) -> None:
    for target in targets:
        target.server.stop()


def _workdir() -> tuple[Path, bool]:
    """A new work folder, on tmpfs when there is one (and whether it is): this disk's
    fsync takes ~17 ms and PostgreSQL runs with fsync off, so SQLite should not wait."""
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
        with contextlib.suppress(OSError):
            run = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)
            lines = (run.stdout or run.stderr).strip().splitlines()
            return lines[0] if run.returncode == 0 and lines else None
        return None

    def version(package: str) -> str | None:
        with contextlib.suppress(metadata.PackageNotFoundError):
            return metadata.version(package)
        return None

    def proc(path: str, key: str) -> str:
        lines = Path(path).read_text().splitlines()
        return next((line.split(":", 1)[1].strip() for line in lines if line.startswith(key)), "")

    pg_bin = find_pg_bin()
    return {
        "commit": first_line("git", "-C", str(ROOT), "rev-parse", "--verify", "-q", "HEAD"),
        "cpu": proc("/proc/cpuinfo", "model name") or platform.processor() or "unknown",
        "cores": os.cpu_count(), "cores_usable": len(os.sched_getaffinity(0)),
        "memory_bytes": int((proc("/proc/meminfo", "MemTotal:") or "0 kB").split()[0]) * 1024,
        "kernel": platform.release(), "python": platform.python_version(),
        "loadavg_start": os.getloadavg(), "packages": {name: version(name) for name in PACKAGES},
        "postgresql": first_line(str(pg_bin / "postgres"), "--version") if pg_bin else None,
        "redis": first_line("redis-server", "--version"),
    }  # fmt: skip


def _clean(value: Any) -> Any:
    """JSON without NaN or infinity: those become ``null`` (``missing`` says why)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    return [_clean(v) for v in value] if isinstance(value, list | tuple) else value


def write_json(results: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(_clean(results), indent=1, ensure_ascii=False))


def run(options: Options) -> dict[str, Any]:
    """Run the benchmarks; write ``results.json``, ``results.md`` and the plots."""
    raise_nofile_limit()
    options.out.mkdir(parents=True, exist_ok=True)
    work = Run(options, QUICK if options.quick else FULL).execute()
    try:
        import uvloop

        results = uvloop.run(work)
    except ImportError:
        results = asyncio.run(work)
    return write_report(_clean(results), options.out)


def write_report(results: dict[str, Any], out: Path) -> dict[str, Any]:
    """The plots, ``results.md``, and ``results.json`` with the target table added."""
    from benchmarks import plots, report

    results["meta"]["plots"] = plots.draw(results, out)
    (out / "results.md").write_text(report.markdown(results))
    write_json(results, out / "results.json")
    say(f"results in {out}")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    add = parser.add_argument
    add("--quick", action="store_true", help="tiny sizes: a smoke test")
    add("--out", type=Path, help="where results go")
    add("--only", default=",".join(BENCHMARKS), help="a comma-separated subset of b1,...,b6")
    add("--no-postgres", action="store_true", help="skip the PostgreSQL + Redis configurations")
    add("--keep", action="store_true", help="keep the work folder (logs, databases)")
    add("--report-only", action="store_true", help="redraw results.md and plots from results.json")
    args = parser.parse_args(argv)
    only = tuple(name.strip() for name in args.only.split(",") if name.strip())
    if unknown := set(only) - set(BENCHMARKS):
        parser.error(f"unknown benchmarks: {sorted(unknown)}")
    out = args.out or ROOT / "benchmarks" / "results"
    if args.quick and not args.out:  # never over the committed results
        out = Path(tempfile.mkdtemp(prefix="chatlabs-bench-quick-"))
    if args.report_only:
        results = write_report(json.loads((out / "results.json").read_text()), out.resolve())
    else:
        results = run(Options(args.quick, out.resolve(), only, not args.no_postgres, args.keep))
    if results["errors"]:
        say(f"{len(results['errors'])} measurement(s) failed; see results.json 'errors'")
        return 1
    return 0

"""B5: a bot's REST post against the bare Django view, with no listener attached.

Our post (``POST tickets/<id>/messages/`` with an ``Api-Key``) authenticates,
writes a message and its event; the bare view (:mod:`benchmarks.bare`)
parses JSON and inserts one row. The issue's target is that ours costs no
more: the per-request overheads it can remove (a thread and a database
connection per request, repeated credential queries) are worth more than the
work it adds. Two phases per target, each after a few unmeasured posts:

* **sequential**: one post at a time (closed loop), the latency of the path;
* **concurrent**: *posters* clients posting back to back on their own
  keep-alive connections, the throughput and what contention costs (a
  SQLite writer that waits too long answers 500).

Per phase: the server process's CPU per answered post (``/proc``, all
threads; on PostgreSQL the database server's own CPU is not in it), p50 and
p99 of the post's round trip, posts per second, and every non-2xx status.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable
from typing import Any

from benchmarks.config import Sizes
from benchmarks.load import HttpPoster, wait_idle
from benchmarks.recorder import summarise_ms
from benchmarks.targets import Target

WARM_POSTS = 5


async def _phase(
    target: Target, poster: HttpPoster, name: str, posts: int, posters: int
) -> dict[str, Any]:
    """*posts* posts from *posters* concurrent clients; their latencies and the server's CPU."""
    await wait_idle(target, limit=10)
    poster.statuses.clear()
    latencies: list[float] = []
    remaining = iter(range(posts))

    async def client() -> None:
        for index in remaining:
            sent = time.perf_counter()
            await poster.post(f"b5 {name} post {index}")
            latencies.append(time.perf_counter() - sent)

    gc.collect()
    cpu_before = target.server.cpu_seconds()
    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(posters)))
    elapsed = time.perf_counter() - start
    cpu = target.server.cpu_seconds() - cpu_before
    statuses = dict(poster.statuses)
    ok = sum(count for status, count in statuses.items() if 200 <= status < 300)
    summary = summarise_ms(latencies)
    return {
        "target": target.key,
        "phase": name,
        "posters": posters,
        "posts": posts,
        "ok": ok,
        "non_2xx": posts - ok,
        "server_errors": sum(c for s, c in statuses.items() if s >= 500 or s == 0),
        "statuses": {str(status): count for status, count in sorted(statuses.items())},
        "p50_ms": summary["p50_ms"],
        "p95_ms": summary["p95_ms"],
        "p99_ms": summary["p99_ms"],
        "posts_per_s": posts / elapsed if elapsed > 0 else 0.0,
        "server_cpu_ms_per_post": cpu * 1000 / ok if ok else None,
        "server_cpu_share": cpu / elapsed if elapsed > 0 else 0.0,
        "elapsed_s": elapsed,
    }


async def run(target: Target, sizes: Sizes) -> list[dict[str, Any]]:
    """Both phases on *target*."""
    assert target.rest_post is not None, f"{target.key} has no REST post"
    poster = HttpPoster(target, target.rest_post, connections=sizes.b5_posters)
    try:
        for index in range(WARM_POSTS):
            await poster.post(f"b5 warm-up {index}")
        return [
            await _phase(target, poster, "sequential", sizes.b5_sequential, 1),
            await _phase(target, poster, "concurrent", sizes.b5_concurrent, sizes.b5_posters),
        ]
    finally:
        await poster.close()


async def profile_load(target: Target, sizes: Sizes, on_start: Callable[[], object]) -> None:
    """Concurrent posts for as long as the profiler samples, after the measured phases.

    py-spy takes CPU from a two-core machine, so it never runs during a phase
    whose numbers are reported; this extra load is what it samples.
    """
    assert target.rest_post is not None, f"{target.key} has no REST post"
    poster = HttpPoster(target, target.rest_post, connections=sizes.b5_posters)
    deadline = time.perf_counter() + sizes.profile_seconds
    count = 0

    async def client() -> None:
        nonlocal count
        while time.perf_counter() < deadline:
            count += 1
            await poster.post(f"b5 profiled post {count}")

    try:
        on_start()
        await asyncio.gather(*(client() for _ in range(sizes.b5_posters)))
    finally:
        await poster.close()

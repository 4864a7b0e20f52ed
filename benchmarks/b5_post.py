"""B5: a bot's REST post against the bare Django view, with no listener attached.

Sequential (one post at a time) and concurrent (*posters* keep-alive clients back
to back) phases: the server's CPU per answered post, p50/p99, posts/s, non-2xx.
"""

import asyncio
import gc
import time
from typing import Any

from benchmarks.client import HttpPoster, summarise_ms, wait_idle
from benchmarks.config import Sizes
from benchmarks.targets import Target


async def phase(
    target: Target, poster: HttpPoster, name: str, posts: int, posters: int
) -> dict[str, Any]:
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
    return {"target": target.key, "phase": name, "posters": posters, "posts": posts, "ok": ok,
            "non_2xx": posts - ok,
            "server_errors": sum(c for s, c in statuses.items() if s >= 500 or s == 0),
            "statuses": {str(status): count for status, count in sorted(statuses.items())},
            "p50_ms": summary["p50_ms"], "p95_ms": summary["p95_ms"],
            "p99_ms": summary["p99_ms"], "posts_per_s": posts / elapsed if elapsed > 0 else 0.0,
            "server_cpu_ms_per_post": cpu * 1000 / ok if ok else None,
            "server_cpu_share": cpu / elapsed if elapsed > 0 else 0.0,
            "elapsed_s": elapsed}  # fmt: skip


async def run(target: Target, sizes: Sizes) -> list[dict[str, Any]]:
    assert target.rest_post is not None, f"{target.key} has no REST post"
    poster = HttpPoster(target, target.rest_post, connections=sizes.b5_posters)
    try:
        for index in range(5):  # unmeasured
            await poster.post(f"b5 warm-up {index}")
        return [
            await phase(target, poster, "sequential", sizes.b5_sequential, 1),
            await phase(target, poster, "concurrent", sizes.b5_concurrent, sizes.b5_posters),
        ]
    finally:
        await poster.close()

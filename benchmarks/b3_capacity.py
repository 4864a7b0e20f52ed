"""B3: idle connections a fresh worker holds, per transport, and its RSS, in steps (a
long-poll counts while held; over 1 % of a step failing, or the budget, stops it), then one
message timed to all. :func:`storm`: the server restarts cold and every WebSocket client
reconnects at once, backing off as the manager console does (0.5 s doubling to 10 s)."""

import asyncio
import time
from typing import Any

from benchmarks import client
from benchmarks.config import Sizes, say
from benchmarks.targets import Target


def steps_of(transport: str, sizes: Sizes) -> tuple[int, ...]:
    return sizes.b3_steps if transport == "websocket" else sizes.b3_stream_steps


async def run(target: Target, transport: str, sizes: Sizes) -> dict[str, Any]:
    steps, server = steps_of(transport, sizes), target.server
    budget = sizes.b3_connect_budget if transport == "websocket" else sizes.b3_stream_connect_budget
    server.stop()
    server.start(fresh_port=True)
    await client.warm(target, transport, 1)
    await client.wait_idle(target)
    crowd, recorder = client.Crowd(transport), client.Recorder(1, 1)
    stopped = "reached the largest size"
    start = time.perf_counter()

    def point(held: int, seconds: float = 0.0) -> dict[str, float]:
        return {"connections": held, "rss_bytes": server.rss_bytes(), "seconds": seconds,
                "server_fds": server.open_files(), "server_threads": server.threads()}  # fmt: skip

    points = [point(0)]
    try:
        for size in steps:
            failures_before = crowd.failures
            try:
                async with asyncio.timeout(max(budget - (time.perf_counter() - start), 0.001)):
                    await client.grow(crowd, target, recorder, size)
            except TimeoutError:
                stopped = f"time budget ({budget:.0f} s to connect) ran out"
            await asyncio.sleep(1.0)
            await client.wait_idle(target, limit=3.0)  # handshakes finishing; long-polls re-poll
            held = crowd.pending if transport == "longpoll" else crowd.alive()
            points.append(point(held, time.perf_counter() - start))
            say(f"  {target.key} B3 {transport}: {held} held, "
                f"RSS {points[-1]['rss_bytes'] / 2**20:.0f} MiB, "
                f"{points[-1]['server_threads']:.0f} threads")  # fmt: skip
            if (failed := crowd.failures - failures_before) > 0.01 * size:
                stopped = f"{failed} of {size} connections failed: {crowd.errors}"
                break
            if stopped.startswith("time budget") or not server.alive():
                break
        alive = crowd.alive()
        crowd.rebind(recorder := client.Recorder(alive, 1))
        await client.post_timed(target, recorder, 1, sizes.b3_broadcast_wait)
        broadcast = {"listeners": alive, "post_ok": not recorder.post_failures,
                     **client.summarise_ms(*recorder.latencies())}  # fmt: skip
    finally:
        await crowd.close()
    top = max(points, key=lambda p: p["connections"])
    held, idle = int(top["connections"]), points[0]["rss_bytes"]
    return {"target": target.key, "transport": transport, "attempted": steps[-1], "reached": held,
            "stopped": stopped, "failures": crowd.failures, "retries": crowd.retries,
            "errors": crowd.errors, "rss_idle_bytes": idle, "rss_top_bytes": top["rss_bytes"],
            "rss_per_connection_bytes": (top["rss_bytes"] - idle) / held if held else 0.0,
            "points": points, "broadcast": broadcast}  # fmt: skip


async def storm(target: Target, count: int, deadline: float) -> dict[str, Any]:
    target.server.stop()
    target.server.start(fresh_port=True)
    crowd = client.Crowd("websocket")
    back_at: float | None = None
    start = time.perf_counter()
    try:
        try:
            async with asyncio.timeout(deadline):  # the deadline ends attempts, not a count
                await client.grow(crowd, target, client.Recorder(1, 1), count, concurrency=count,
                                  tries=1000, backoff=client.console_pause)  # fmt: skip
            back_at = time.perf_counter() - start
        except TimeoutError:
            pass
        back = crowd.alive()
    finally:
        await crowd.close()
    failed = sum(crowd.attempt_errors.values())
    return {"target": target.key, "clients": count, "deadline_s": deadline, "back": back,
            "all_back_s": back_at if back == count else None, "failed_attempts": failed,
            "attempt_errors": dict(crowd.attempt_errors),
            "met": back == count and failed == 0}  # fmt: skip

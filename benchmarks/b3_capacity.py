"""B3: idle connections one worker process holds, per transport, and its RSS.

A fresh server process, warmed up; then listeners are opened in steps
(1,000, 2,500, 5,000, 10,000 WebSockets, up to 5,000 SSE streams or
long-polls in the full run), and after each step the
server's resident memory is read from ``/proc``. Long-poll listeners
re-poll when their 30-second hold ends, as real clients do, so "held" for
long-poll is the number of requests the server is holding at that moment.
At the top, one message is posted and the time until every connection has
it is measured: a server that holds 10,000 connections but can no longer
serve them does not count.

The opening stops early when more than 1 % of a step's connections fail
or a time budget runs out; the report gives the highest level reached and
why.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from benchmarks.config import Sizes, say
from benchmarks.load import Crowd, drain, grow, poster_for, wait_idle, warm
from benchmarks.recorder import Recorder, summarise_ms
from benchmarks.targets import Target

#: Seconds to wait, after each step, for the server to finish its handshakes
#: before its RSS is read (long-polls re-poll, so it may never be fully idle).
IDLE_WAIT = 3.0


def _point(target: Target, held: int, seconds: float) -> dict[str, float]:
    return {
        "connections": held,
        "rss_bytes": target.server.rss_bytes(),
        "seconds": seconds,
        "server_fds": target.server.open_files(),
        "server_threads": target.server.threads(),
    }


def _held(crowd: Crowd) -> int:
    return crowd.stats.pending if crowd.transport == "longpoll" else crowd.alive()


def steps_of(transport: str, sizes: Sizes) -> tuple[int, ...]:
    """WebSockets go to ``b3_steps``; SSE streams and long-polls to ``b3_stream_steps``."""
    return sizes.b3_steps if transport == "websocket" else sizes.b3_stream_steps


async def run(target: Target, transport: str, sizes: Sizes) -> dict[str, Any]:
    steps = steps_of(transport, sizes)
    connect_budget = (
        sizes.b3_connect_budget if transport == "websocket" else sizes.b3_stream_connect_budget
    )
    target.server.stop()
    target.server.start(fresh_port=True)
    await warm(target, transport, 1)
    await wait_idle(target)
    server = target.server
    points = [_point(target, 0, 0.0)]
    crowd = Crowd(transport)
    recorder = Recorder(1, 1)
    stopped = "reached the largest size"
    start = time.perf_counter()
    try:
        for size in steps:
            budget = connect_budget - (time.perf_counter() - start)
            failures_before = crowd.failures
            try:
                async with asyncio.timeout(max(budget, 0.001)):
                    await grow(crowd, target, recorder, size)
            except TimeoutError:
                stopped = f"time budget ({connect_budget:.0f} s to connect) ran out"
            await asyncio.sleep(1.0)
            await wait_idle(target, limit=IDLE_WAIT)
            held = _held(crowd)
            points.append(_point(target, held, time.perf_counter() - start))
            say(
                f"  {target.key} B3 {transport}: {held} held, "
                f"RSS {points[-1]['rss_bytes'] / 2**20:.0f} MiB, "
                f"{points[-1]['server_threads']:.0f} threads"
            )
            failed = crowd.failures - failures_before
            if failed > 0.01 * size:
                stopped = f"{failed} of {size} connections failed: {crowd.errors}"
                break
            if stopped.startswith("time budget") or not server.alive():
                break
        broadcast = await _broadcast(target, crowd, sizes.b3_broadcast_wait)
    finally:
        await crowd.close()
    top = max(points, key=lambda p: p["connections"])
    held = int(top["connections"])
    per_connection = (top["rss_bytes"] - points[0]["rss_bytes"]) / held if held else 0.0
    return {
        "target": target.key,
        "transport": transport,
        "attempted": steps[-1],
        "reached": held,
        "stopped": stopped,
        "failures": crowd.failures,
        "retries": crowd.retries,
        "errors": crowd.errors,
        "rss_idle_bytes": points[0]["rss_bytes"],
        "rss_top_bytes": top["rss_bytes"],
        "rss_per_connection_bytes": per_connection,
        "points": points,
        "broadcast": broadcast,
    }


async def _broadcast(target: Target, crowd: Crowd, wait: float) -> dict[str, Any]:
    """Post one message and time its arrival at every open connection."""
    alive = crowd.alive()
    recorder = Recorder(alive, 1)
    crowd.rebind(recorder)
    poster = poster_for(target)
    await poster.open()
    recorder.posted[0] = time.perf_counter()
    ok = await poster.post(recorder.text(0))
    await poster.close()
    if not ok:
        recorder.posted[0] = None
    await drain(recorder, wait)
    samples, missing = recorder.latencies()
    return {"listeners": alive, "post_ok": ok, **summarise_ms(samples, missing)}

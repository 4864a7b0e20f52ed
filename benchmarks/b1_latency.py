"""B1: end-to-end latency, from a bot's post to receipt by every listening manager.

Two shapes:

* **unloaded** (closed loop): one message at a time; the next is posted
  once every listener has the previous one (or after a timeout), after a
  short gap. Every (message, listener) pair is one sample. This is the
  latency of the path itself, with no queue in front of it. A cell stops
  posting (after at least 3 messages) once it has used its time budget
  (45 s in the full run, connecting included), so a slow transport
  contributes fewer messages rather than more minutes.
* **loaded** (open loop): messages at a fixed rate (100/s in the full run)
  to 1,000 WebSocket listeners, each stamped with the time it was due. This
  is the issue's target "p99 under 50 ms at 100 messages/s with 1,000
  listeners", and it includes any queue that builds up.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable
from statistics import median
from typing import Any

from benchmarks.config import Sizes, say
from benchmarks.load import Crowd, drain, grow, poster_for, run_paced, wait_idle
from benchmarks.recorder import Recorder, quantiles_ms, summarise_ms
from benchmarks.targets import Target


async def _listen(target: Target, transport: str, listeners: int, recorder: Recorder) -> Crowd:
    crowd = Crowd(transport)
    await grow(crowd, target, recorder, listeners)
    if crowd.failures:
        say(f"  {crowd.failures} of {listeners} {transport} listeners failed: {crowd.errors}")
    recorder.listeners = len(crowd)
    # A WebSocket is subscribed just after its 101 and an SSE stream just
    # after its headers: let the server finish before the first post.
    await asyncio.sleep(0.5 if listeners < 500 else 1.5)
    return crowd


def _cell(
    target: Target, transport: str, listeners: int, recorder: Recorder, crowd: Crowd
) -> dict[str, Any]:
    """Which cell a row is, and how many of its listeners connected."""
    return {
        "target": target.key,
        "transport": transport,
        "listeners": listeners,
        "connected": recorder.listeners,
        "connect_failures": crowd.failures,
        "connect_retries": crowd.retries,
    }


async def unloaded(target: Target, transport: str, listeners: int, sizes: Sizes) -> dict[str, Any]:
    messages = sizes.b1_messages if listeners < 1000 else sizes.b1_messages_large
    await wait_idle(target)
    started = time.perf_counter()
    recorder = Recorder(listeners, messages)
    crowd = await _listen(target, transport, listeners, recorder)
    poster = poster_for(target)
    await poster.open()
    post_times: list[float] = []
    gc.collect()
    cpu_before, client_before = target.server.cpu_seconds(), time.process_time()
    try:
        for index in range(messages):
            if index >= 3 and time.perf_counter() - started > sizes.b1_cell_budget:
                break  # a slow transport gets fewer messages, not more minutes
            sent = time.perf_counter()
            recorder.posted[index] = sent
            ok = await poster.post(recorder.text(index))
            post_times.append(time.perf_counter() - sent)
            if not ok:
                recorder.posted[index] = None
                recorder.post_failures += 1
                continue
            await recorder.wait_all(index, sizes.b1_timeout)
            await asyncio.sleep(sizes.b1_gap)
        await drain(recorder, sizes.b1_timeout)
    finally:
        server_cpu = target.server.cpu_seconds() - cpu_before
        client_cpu = time.process_time() - client_before
        await poster.close()
        await crowd.close()
    samples, missing = recorder.latencies()
    return {
        **_cell(target, transport, listeners, recorder, crowd),
        "messages": sum(1 for t in recorder.posted if t is not None),
        "post_failures": recorder.post_failures,
        **summarise_ms(samples, missing),
        "post_ms_median": median(post_times) * 1000,
        "server_cpu_s": server_cpu,
        "client_cpu_s": client_cpu,
        "quantiles_ms": quantiles_ms(samples, missing),
    }


async def loaded(
    target: Target, sizes: Sizes, on_start: Callable[[], object] | None = None
) -> dict[str, Any]:
    """The open-loop cell; *on_start* is called as posting starts (to start a profiler)."""
    listeners, rate = sizes.b1_loaded_listeners, sizes.b1_loaded_rate
    count = int(rate * sizes.b1_loaded_seconds)
    await wait_idle(target)
    recorder = Recorder(listeners, count)
    crowd = await _listen(target, "websocket", listeners, recorder)
    try:
        run = await run_paced(
            target, recorder, rate, sizes.in_flight, sizes.b1_loaded_grace, on_start
        )
    finally:
        await crowd.close()
    pacing = run.pacing
    samples, missing = recorder.latencies()
    expected = recorder.expected()
    return {
        **_cell(target, "websocket", listeners, recorder, crowd),
        "offered_rate": rate,
        "achieved_rate": pacing.achieved_rate,
        "messages": count,
        "post_failures": pacing.failed,
        "delivered_fraction": (expected - missing) / expected if expected else 0.0,
        **summarise_ms(samples, missing),
        "server_cpu_share": run.server_cpu / run.elapsed,
        "client_cpu_share": run.client_cpu / run.elapsed,
        "quantiles_ms": quantiles_ms(samples, missing),
    }

"""B1: latency from a bot's post to its receipt by every listener.

Unloaded: closed loop, one message at a time (each (message, listener) pair a
sample; after 3 messages a cell stops at its time budget). Loaded: open loop at a
fixed rate to many WebSocket listeners, each message stamped with its due time.
"""

import asyncio
import gc
import time
from statistics import median
from typing import Any

from benchmarks import client
from benchmarks.config import Sizes, say
from benchmarks.targets import Target


async def _listen(
    target: Target, transport: str, listeners: int, recorder: client.Recorder
) -> tuple[client.Crowd, dict[str, Any]]:
    """Open the listeners; the crowd, and the fields that say which cell a row is."""
    crowd = client.Crowd(transport)
    await client.grow(crowd, target, recorder, listeners)
    if crowd.failures:
        say(f"  {crowd.failures} of {listeners} {transport} listeners failed: {crowd.errors}")
    recorder.listeners = len(crowd)
    # A WebSocket subscribes just after its 101, an SSE stream after its headers.
    await asyncio.sleep(0.5 if listeners < 500 else 1.5)
    return crowd, {"target": target.key, "transport": transport, "listeners": listeners,
                   "connected": len(crowd), "connect_failures": crowd.failures,
                   "connect_retries": crowd.retries}  # fmt: skip


async def unloaded(target: Target, transport: str, listeners: int, sizes: Sizes) -> dict[str, Any]:
    await client.wait_idle(target)
    deadline = time.perf_counter() + sizes.b1_cell_budget  # connecting included
    recorder = client.Recorder(listeners, sizes.b1_messages)
    crowd, cell = await _listen(target, transport, listeners, recorder)
    gc.collect()
    cpu_before, client_before = target.server.cpu_seconds(), time.process_time()
    try:
        post_times = await client.post_timed(target, recorder, sizes.b1_messages,
                                             sizes.b1_timeout, sizes.b1_gap, deadline)  # fmt: skip
        await client.drain(recorder, sizes.b1_timeout)
    finally:
        server_cpu = target.server.cpu_seconds() - cpu_before
        client_cpu = time.process_time() - client_before
        await crowd.close()
    samples, missing = recorder.latencies()
    return {**cell, "messages": sum(1 for t in recorder.posted if t is not None),
            "post_failures": recorder.post_failures, **client.summarise_ms(samples, missing),
            "post_ms_median": median(post_times) * 1000, "server_cpu_s": server_cpu,
            "client_cpu_s": client_cpu,
            "quantiles_ms": client.quantiles_ms(samples, missing)}  # fmt: skip


async def loaded(target: Target, sizes: Sizes) -> dict[str, Any]:
    listeners, rate = sizes.b1_loaded_listeners, sizes.b1_loaded_rate
    count = int(rate * sizes.b1_loaded_seconds)
    await client.wait_idle(target)
    recorder = client.Recorder(listeners, count)
    crowd, cell = await _listen(target, "websocket", listeners, recorder)
    try:
        grace = sizes.b1_loaded_grace
        paced, _start = await client.run_paced(target, recorder, rate, sizes.in_flight, grace)
    finally:
        await crowd.close()
    samples, missing = recorder.latencies()
    expected = recorder.expected()
    return {**cell, "offered_rate": rate, "messages": count, **paced,
            "delivered_fraction": (expected - missing) / expected if expected else 0.0,
            **client.summarise_ms(samples, missing),
            "quantiles_ms": client.quantiles_ms(samples, missing)}  # fmt: skip

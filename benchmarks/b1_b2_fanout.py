"""B1 and B2: a bot's posts fanned out to listeners. B1, latency to every listener: closed
loop, each (message, listener) pair a sample (after 3 messages a cell stops at its budget),
and open loop at a fixed rate, each message stamped with its due time. B2, the highest rate
at which WebSockets keep up (95 % of it achieved, none lost, p99 under a limit): the rate
doubles until a step fails (or halves until one passes), then bisections refine it."""

import asyncio
import gc
import math
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


async def step(target: Target, crowd: client.Crowd, rate: float, sizes: Sizes) -> dict[str, Any]:
    count = max(2, int(rate * sizes.b2_step_seconds))
    idle_wait = await client.wait_idle(target)
    recorder = client.Recorder(len(crowd), count)
    crowd.rebind(recorder)
    paced, start = await client.run_paced(target, recorder, rate, sizes.in_flight, sizes.b2_grace)
    samples, missing = recorder.latencies()
    summary = client.summarise_ms(samples, missing)
    last = max((got[-1] for got in recorder.arrivals if got), default=None)
    first_due = next((t for t in recorder.posted if t is not None), start)
    span = (last - first_due) if last is not None else math.nan
    passed = (paced["achieved_rate"] >= 0.95 * rate and not paced["post_failures"] and not missing
              and summary["p99_ms"] <= sizes.b2_p99_limit_ms)  # fmt: skip
    return {"offered_rate": rate, **paced, "offered_events_per_s": rate * len(crowd),
            "delivered_events_per_s": recorder.delivered() / span if span and span > 0 else 0.0,
            "listeners_alive": crowd.alive(), "passed": passed, "idle_wait_s": idle_wait,
            **summary}  # fmt: skip


async def throughput(target: Target, sizes: Sizes) -> dict[str, Any]:
    """The ladder for one target: its steps and the sustained rate."""
    await client.wait_idle(target)
    crowd = client.Crowd("websocket")
    await client.grow(crowd, target, client.Recorder(1, 1), sizes.b2_listeners)
    connected = len(crowd)
    await asyncio.sleep(0.5)
    steps: list[dict[str, Any]] = []
    best: float | None = None
    worst: float | None = None

    async def rung(rate: float) -> bool:
        steps.append(result := await step(target, crowd, rate, sizes))
        say(f"  {target.key} B2 {rate:.0f}/s: {'pass' if result['passed'] else 'FAIL'} "
            f"(p99 {result['p99_ms']:.0f} ms, {result['delivered_events_per_s']:.0f} ev/s, "
            f"server cpu {result['server_cpu_share']:.0%})")  # fmt: skip
        return bool(result["passed"])

    try:
        rate = sizes.b2_first_rate
        while rate <= sizes.b2_max_rate:
            if await rung(rate):
                best = rate
                if worst is not None:
                    break  # found going down: the first pass below a failure
                rate *= 2
                continue
            worst = rate if worst is None else min(worst, rate)
            if best is not None or rate / 2 < sizes.b2_min_rate:
                break
            rate /= 2  # even the first rung failed: walk down to one that passes
        for _ in range(sizes.b2_refinements):
            if best is None or worst is None:
                break
            rate = math.sqrt(best * worst)
            if await rung(rate):
                best = rate
            else:
                worst = rate
    finally:
        await crowd.close()
    sustained = best or 0.0
    return {"target": target.key, "listeners": connected, "connect_failures": crowd.failures,
            "connect_retries": crowd.retries, "sustained_posts_per_s": sustained,
            "sustained_events_per_s": sustained * connected,
            "peak_delivered_events_per_s": max(s["delivered_events_per_s"] for s in steps),
            "first_failing_rate": worst, "steps": steps}  # fmt: skip

"""B2: the highest posting rate at which 100 WebSocket listeners keep up.

A ladder of open-loop steps: post at ``r`` messages/s for a few seconds,
then wait a short grace for the last deliveries. A step *keeps up* when
the poster achieved at least 95 % of ``r``, every listener got every
message, and the p99 delay (from each message's due time) stayed under a
limit (500 ms): a server that falls behind builds a queue, and the
queue's wait shows in the tail long before messages are lost. The rate
doubles until a step fails, then a geometric bisection between the last
pass and the first failure refines it (when even the first rate fails, the
ladder walks down instead). The result is in events delivered
per second (rate x listeners), the unit a fan-out server is judged by.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from typing import Any

from benchmarks.config import Sizes, say
from benchmarks.load import Crowd, grow, run_paced, wait_idle
from benchmarks.recorder import Recorder, summarise_ms
from benchmarks.targets import Target


async def step(
    target: Target,
    crowd: Crowd,
    rate: float,
    sizes: Sizes,
    on_start: Callable[[], object] | None = None,
) -> dict[str, Any]:
    """One rung; *on_start* is called as posting starts (to start a profiler)."""
    count = max(2, int(rate * sizes.b2_step_seconds))
    idle_wait = await wait_idle(target)
    recorder = Recorder(len(crowd), count)
    crowd.rebind(recorder)
    run = await run_paced(target, recorder, rate, sizes.in_flight, sizes.b2_grace, on_start)
    pacing = run.pacing
    samples, missing = recorder.latencies()
    summary = summarise_ms(samples, missing)
    last = recorder.last_arrival()
    first_due = next((t for t in recorder.posted if t is not None), run.start)
    span = (last - first_due) if last is not None else math.nan
    delivered = recorder.delivered()
    passed = (
        pacing.achieved_rate >= 0.95 * rate
        and pacing.failed == 0
        and missing == 0
        and summary["p99_ms"] <= sizes.b2_p99_limit_ms
    )
    return {
        "offered_rate": rate,
        "achieved_rate": pacing.achieved_rate,
        "offered_events_per_s": rate * len(crowd),
        "delivered_events_per_s": delivered / span if span and span > 0 else 0.0,
        "post_failures": pacing.failed,
        "listeners_alive": crowd.alive(),
        "passed": passed,
        "idle_wait_s": idle_wait,
        "server_cpu_share": run.server_cpu / run.elapsed,
        "client_cpu_share": run.client_cpu / run.elapsed,
        **summary,
    }


async def run(target: Target, sizes: Sizes) -> dict[str, Any]:
    """The ladder for one target; returns its steps and the sustained rate."""
    await wait_idle(target)
    crowd = Crowd("websocket")
    await grow(crowd, target, Recorder(1, 1), sizes.b2_listeners)
    connected = len(crowd)
    await asyncio.sleep(0.5)
    steps: list[dict[str, Any]] = []
    best: float | None = None
    worst: float | None = None
    try:
        rate = sizes.b2_first_rate
        while rate <= sizes.b2_max_rate:
            result = await step(target, crowd, rate, sizes)
            steps.append(result)
            say(
                f"  {target.key} B2 {rate:.0f}/s: {'pass' if result['passed'] else 'FAIL'} "
                f"(p99 {result['p99_ms']:.0f} ms, {result['delivered_events_per_s']:.0f} ev/s, "
                f"server cpu {result['server_cpu_share']:.0%})"
            )
            if result["passed"]:
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
            result = await step(target, crowd, rate, sizes)
            steps.append(result)
            say(f"  {target.key} B2 {rate:.0f}/s: {'pass' if result['passed'] else 'FAIL'}")
            if result["passed"]:
                best = rate
            else:
                worst = rate
    finally:
        await crowd.close()
    sustained = best or 0.0
    return {
        "target": target.key,
        "listeners": connected,
        "connect_failures": crowd.failures,
        "connect_retries": crowd.retries,
        "sustained_posts_per_s": sustained,
        "sustained_events_per_s": sustained * connected,
        "peak_delivered_events_per_s": max(s["delivered_events_per_s"] for s in steps),
        "first_failing_rate": worst,
        "steps": steps,
    }

"""B2: the highest posting rate at which WebSocket listeners keep up.

Open-loop steps: a step keeps up when the poster achieved 95 % of the rate, every
listener got every message and p99 stayed under a limit. The rate doubles until a
step fails (or halves until one passes), then a geometric bisection refines it.
"""

import asyncio
import math
from typing import Any

from benchmarks.client import Crowd, Recorder, grow, run_paced, summarise_ms, wait_idle
from benchmarks.config import Sizes, say
from benchmarks.targets import Target


async def step(target: Target, crowd: Crowd, rate: float, sizes: Sizes) -> dict[str, Any]:
    count = max(2, int(rate * sizes.b2_step_seconds))
    idle_wait = await wait_idle(target)
    recorder = Recorder(len(crowd), count)
    crowd.rebind(recorder)
    paced, start = await run_paced(target, recorder, rate, sizes.in_flight, sizes.b2_grace)
    samples, missing = recorder.latencies()
    summary = summarise_ms(samples, missing)
    last = recorder.last_arrival()
    first_due = next((t for t in recorder.posted if t is not None), start)
    span = (last - first_due) if last is not None else math.nan
    passed = (paced["achieved_rate"] >= 0.95 * rate and not paced["post_failures"] and not missing
              and summary["p99_ms"] <= sizes.b2_p99_limit_ms)  # fmt: skip
    return {"offered_rate": rate, **paced, "offered_events_per_s": rate * len(crowd),
            "delivered_events_per_s": recorder.delivered() / span if span and span > 0 else 0.0,
            "listeners_alive": crowd.alive(), "passed": passed, "idle_wait_s": idle_wait,
            **summary}  # fmt: skip


async def run(target: Target, sizes: Sizes) -> dict[str, Any]:
    """The ladder for one target: its steps and the sustained rate."""
    await wait_idle(target)
    crowd = Crowd("websocket")
    await grow(crowd, target, Recorder(1, 1), sizes.b2_listeners)
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

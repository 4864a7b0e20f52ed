"""B3, reconnect storm: the server restarts cold and every WebSocket client reconnects at
once, backing off as the manager console does (0.5 s, doubling to 10 s, jittered)."""

import asyncio
import time
from typing import Any

from benchmarks.client import Crowd, Recorder, console_pause, grow
from benchmarks.targets import Target


async def run(target: Target, count: int, deadline: float) -> dict[str, Any]:
    target.server.stop()
    target.server.start(fresh_port=True)
    crowd = Crowd("websocket")
    back_at: float | None = None
    start = time.perf_counter()
    try:
        try:
            async with asyncio.timeout(deadline):  # the deadline ends attempts, not a count
                await grow(crowd, target, Recorder(1, 1), count, concurrency=count, tries=1000,
                           backoff=console_pause)  # fmt: skip
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

"""B3, reconnect storm: after a restart, 10,000 WebSocket clients come back at once.

A deploy or a crash restarts the worker, and every open tab reconnects in
the same second. The server is restarted (a fresh process, cold), and
*count* clients reconnect together, each after the manager console's
pause (``connection.js``: 0.5 s after the drop, doubling up to 10 s after
each failure, times a random 0.5-1): every tab is back at the door within
half a second, and a refused, reset or timed-out handshake backs off as a
real tab would. The issue's
target is that all are back within 60 seconds and none is refused (daphne
refuses a handshake its application has not accepted within 5 seconds,
with a 403). Reported: how many were back by the deadline, when the last
one got in, and every failed attempt by error.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

from benchmarks.load import Crowd, grow
from benchmarks.recorder import Recorder
from benchmarks.targets import Target

TRIES = 1000  # the deadline ends a client's attempts, not a count


def console_pause(attempt: int) -> float:
    """Seconds before attempt *attempt* (0 is the first after the drop), as the console waits."""
    return min(10.0, 0.5 * 2.0 ** min(attempt, 5)) * (0.5 + random.random() / 2)


async def run(target: Target, count: int, deadline: float) -> dict[str, Any]:
    """Restart *target*'s server, then open *count* WebSockets at once; time it.

    No client-side limit on handshakes in flight (the kernel's SYN backlog of
    1,024 queues or drops the rest, as it would for real clients).
    """
    target.server.stop()
    target.server.start(fresh_port=True)
    crowd = Crowd("websocket")
    back_at: float | None = None
    start = time.perf_counter()
    try:
        try:
            async with asyncio.timeout(deadline):
                await grow(
                    crowd, target, Recorder(1, 1), count,
                    concurrency=count, tries=TRIES, backoff=console_pause,
                )  # fmt: skip
            back_at = time.perf_counter() - start
        except TimeoutError:
            pass
        back = crowd.alive()
    finally:
        await crowd.close()
    refused = sum(crowd.attempt_errors.values())
    return {
        "target": target.key,
        "clients": count,
        "deadline_s": deadline,
        "back": back,
        "all_back_s": back_at if back == count else None,
        "failed_attempts": refused,
        "attempt_errors": dict(crowd.attempt_errors),
        "met": back == count and refused == 0,
    }

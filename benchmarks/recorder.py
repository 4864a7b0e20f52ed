"""When each benchmark message was posted, when each listener first saw it, and the
statistics of those delays.

Every posted text carries a marker ``bm<seq>z``; whatever a transport wraps
around it (a WebSocket frame, an SSE ``data:`` line, a long-poll JSON body,
the original's or the baseline's own JSON), the marker comes through as the
same bytes, so one regular expression over the raw payload finds it. That
keeps the client's cost per frame tiny and identical for every server.

Sequence numbers are unique for the whole run, so a late frame from an
earlier measurement can never count in a later one.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import re
import time
from collections.abc import Sequence

MARKER = re.compile(rb"bm(\d+)z")
#: Bytes kept between two payloads, so a marker split across TCP reads is found.
_TAIL = 24
_next_base = itertools.count(1)


class Recorder:
    """Arrival times of *count* messages at *listeners* listeners.

    ``posted[i]`` is when message ``i`` was due (open-loop runs) or sent
    (closed-loop runs); ``arrivals[i]`` holds one time per listener that got
    it, in arrival order. Times are ``time.perf_counter()`` in this process,
    where the poster and every listener run.
    """

    def __init__(self, listeners: int, count: int) -> None:
        self.listeners = listeners
        self.count = count
        self.base = next(_next_base) * 10_000_000
        self.posted: list[float | None] = [None] * count
        self.arrivals: list[list[float]] = [[] for _ in range(count)]
        self._waiters: dict[int, asyncio.Future[None]] = {}
        self.post_failures = 0

    def text(self, index: int) -> str:
        return f"bm{self.base + index}z benchmark message"

    def arrive(self, index: int, now: float) -> None:
        got = self.arrivals[index]
        got.append(now)
        if len(got) >= self.listeners:
            waiter = self._waiters.pop(index, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(None)

    async def wait_all(self, index: int, timeout: float) -> bool:
        """Wait until every listener has message *index*; False on timeout."""
        if len(self.arrivals[index]) >= self.listeners:
            return True
        waiter = self._waiters.setdefault(index, asyncio.get_running_loop().create_future())
        try:
            await asyncio.wait_for(asyncio.shield(waiter), timeout)
        except TimeoutError:
            return False
        return True

    def delivered(self) -> int:
        return sum(len(got) for got in self.arrivals)

    def expected(self) -> int:
        return self.listeners * sum(1 for sent in self.posted if sent is not None)

    def latencies(self) -> tuple[list[float], int]:
        """Every (message, listener) delay in seconds, and how many never arrived."""
        samples: list[float] = []
        missing = 0
        for sent, got in zip(self.posted, self.arrivals, strict=True):
            if sent is None:
                continue
            samples.extend(at - sent for at in got[: self.listeners])
            missing += max(0, self.listeners - len(got))
        return samples, missing

    def last_arrival(self) -> float | None:
        return max((got[-1] for got in self.arrivals if got), default=None)

    def scanner(self) -> Scanner:
        return Scanner(self)


class Scanner:
    """One listener's view: finds markers in payloads, records first receipts only.

    A listener may see an event twice (at-least-once delivery); only its
    first receipt counts. Events of concurrent posts may arrive in any
    order, so receipts are kept in a bitmap, not as a high-water mark.
    """

    __slots__ = ("_recorder", "_seen", "_tail", "frames")

    def __init__(self, recorder: Recorder) -> None:
        self._recorder = recorder
        self._seen = bytearray(recorder.count)
        self._tail = b""
        self.frames = 0

    def rebind(self, recorder: Recorder) -> None:
        """Count this listener's receipts in *recorder* from now on."""
        self._recorder = recorder
        self._seen = bytearray(recorder.count)
        self._tail = b""

    def feed(self, data: bytes) -> None:
        now = time.perf_counter()
        self.frames += 1
        buf = self._tail + data if self._tail else data
        recorder = self._recorder
        base, count, seen = recorder.base, recorder.count, self._seen
        end = 0
        for match in MARKER.finditer(buf):
            end = match.end()
            index = int(match[1]) - base
            if 0 <= index < count and not seen[index]:
                seen[index] = 1
                recorder.arrive(index, now)
        self._tail = buf[max(end, len(buf) - _TAIL) :]


# --- statistics ---------------------------------------------------------------


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of ascending *sorted_values* (``inf`` entries allowed)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def summarise_ms(samples: Sequence[float], missing: int = 0) -> dict[str, float]:
    """p50/p95/p99/max in milliseconds of latencies in seconds.

    *missing* deliveries count as infinitely late, so a run that loses 2 %
    of its events has an infinite p99: a percentile that ignored them would
    flatter exactly the servers that drop events.
    """
    values = sorted([s * 1000 for s in samples] + [math.inf] * missing)
    return {
        "p50_ms": percentile(values, 50),
        "p95_ms": percentile(values, 95),
        "p99_ms": percentile(values, 99),
        "max_ms": values[-1] if values else math.nan,
        "samples": len(values),
        "missing": missing,
    }


#: Quantiles kept per cell (0..100), enough to draw a CDF.
QUANTILES = tuple(range(0, 101))


def quantiles_ms(samples: list[float], missing: int) -> list[float | None]:
    values = sorted(s * 1000 for s in samples)
    total = len(values) + missing
    if not total:
        return []
    out: list[float | None] = []
    for q in QUANTILES:
        rank = min(total, max(1, round(q / 100 * total))) - 1
        out.append(values[rank] if rank < len(values) else None)
    return out

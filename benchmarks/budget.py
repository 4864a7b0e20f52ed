"""How long each section of a run should take, estimated from the sizes, and how long it took.

The full run must fit in 30 minutes on two cores, and a slow server must
not stretch it: every step that can be slow has a budget in
:mod:`benchmarks.config`. The estimates here add those budgets up with the
costs seen on this machine (per-cell overheads, connect rates of today's
slowest server), so a run prints, per section, what it expected and what
it took; a section far over its estimate is the first place to look when a
run runs long.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from benchmarks.config import Sizes, say
from benchmarks.targets import Target

#: Seconds a cell spends outside its measurement (idle wait, settling, closing).
CELL_OVERHEAD = 2.0
#: Seconds per message in a closed-loop B1 cell of 1 listener (post, delivery, gap).
B1_MESSAGE = 0.08
#: Listeners a slow server accepts per second (ours today: ~20 WebSockets/s under B3).
SLOW_CONNECTS_PER_S = 50.0
#: B2 ladder: rungs a target typically climbs (doubling, then one refinement).
B2_RUNGS = 5
#: Seconds per post of a slow post path (ours today: ~40 ms of worker CPU).
SLOW_POST = 0.045
#: Seconds of a server's start, migration or a ``manage.py shell`` call.
PROCESS = 6.0


def _in(targets: Sequence[Target], name: str) -> list[Target]:
    return [t for t in targets if name in t.measured_in]


def b1(sizes: Sizes, targets: Sequence[Target]) -> float:
    total = 0.0
    for target in _in(targets, "b1"):
        for transport in target.transports:
            for n in sizes.b1_listeners:
                messages = sizes.b1_messages if n < 1000 else sizes.b1_messages_large
                cell = messages * (B1_MESSAGE + n * 0.001)
                if transport == "longpoll" and n >= 100:
                    cell = sizes.b1_cell_budget + sizes.b1_timeout / 2
                connect = n / SLOW_CONNECTS_PER_S if target.family == "ours" else n / 500
                total += min(cell + connect, sizes.b1_cell_budget + sizes.b1_timeout)
                total += CELL_OVERHEAD
    loaded = sum(1 for t in targets if t.family in ("pure", "ours") and "b1" in t.measured_in)
    per_loaded = (
        sizes.b1_loaded_listeners / SLOW_CONNECTS_PER_S / 2
        + sizes.b1_loaded_seconds
        + sizes.b1_loaded_grace
        + CELL_OVERHEAD
    )
    return total + min(loaded, 1 + len(sizes.b1_loaded_configs)) * per_loaded


def b2(sizes: Sizes, targets: Sequence[Target]) -> float:
    rung = sizes.b2_step_seconds + sizes.b2_grace + 1.0
    per_target = sizes.b2_listeners / SLOW_CONNECTS_PER_S + CELL_OVERHEAD
    per_target += (B2_RUNGS + sizes.b2_refinements) * rung
    profiles = len(sizes.b1_loaded_configs) * (sizes.profile_seconds + rung)
    return len(_in(targets, "b2")) * per_target + profiles


def b3(sizes: Sizes, targets: Sequence[Target]) -> float:
    total = 0.0
    for target in _in(targets, "b3"):
        for transport in target.transports:
            steps = sizes.b3_steps if transport == "websocket" else sizes.b3_stream_steps
            rate = 1000.0 if target.family == "pure" else SLOW_CONNECTS_PER_S
            connect = min(sizes.b3_connect_budget, steps[-1] / rate) + 6 * len(steps)
            total += PROCESS + connect + sizes.b3_broadcast_wait + CELL_OVERHEAD
            if transport == "websocket" and target.family in ("ours", "bare"):
                total += PROCESS + sizes.b3_reconnect_deadline + CELL_OVERHEAD
    return total


def b4(sizes: Sizes, targets: Sequence[Target]) -> float:
    per_size = 2 * PROCESS + 3 * (sizes.b4_url_budget + 1.0)
    seeding = sizes.b4_tickets / 1000
    return len([t for t in _in(targets, "b4") if t.manage]) * (2 * per_size + seeding)


def b5(sizes: Sizes, targets: Sequence[Target]) -> float:
    posts = sizes.b5_sequential + sizes.b5_concurrent
    return len(_in(targets, "b5")) * (posts * SLOW_POST + 2 * CELL_OVERHEAD)


ESTIMATES = {"b1": b1, "b2": b2, "b3": b3, "b4": b4, "b5": b5}


@dataclass
class Clock:
    """Sections of a run: estimated and actual seconds, announced as they start and end."""

    sizes: Sizes
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)

    @contextmanager
    def section(self, name: str, targets: Sequence[Target] = ()) -> Iterator[None]:
        estimate = ESTIMATES[name](self.sizes, targets) if name in ESTIMATES else None
        shown = f", estimated {estimate / 60:.1f} min" if estimate is not None else ""
        say(f"== {name} starts{shown}")
        start = time.monotonic()
        try:
            yield
        finally:
            actual = time.monotonic() - start
            self.sections[name] = {"estimated_s": estimate, "actual_s": actual}
            say(f"== {name} took {actual / 60:.1f} min{shown}")

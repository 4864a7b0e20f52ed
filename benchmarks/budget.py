"""How long each section of a run may take, estimated from the sizes, and how long it took.

The full run must fit in 30 minutes on two cores, and a slow server must
not stretch it: every step that can be slow has a budget in
:mod:`benchmarks.config`. The estimates here add those budgets up with the
costs measured on this machine (per-cell overheads; connect rates and post
costs of the slowest server seen, our app before issue 14), so they are
close to an upper bound: a faster server finishes early. A run prints, per
section, the estimate and what it took, and the report repeats both; a
section over its estimate is the first place to look when a run runs long.
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
#: Listeners a server accepts per second with 32 handshakes in flight: ours
#: before issue 14 managed ~30/s in B3 (~220/s now), the bare consumer ~450/s,
#: pure ~1,000/s.
CONNECTS_PER_S = {"ours": 30.0, "original": 30.0, "bare": 400.0, "pure": 1000.0}
#: B2 ladder: rungs a target climbs from 20 posts/s (doubling, then the refinements), as
#: seen here: pure reaches ~1,300 posts/s, the bare consumer 200-450, ours 20-60.
B2_RUNGS = {"pure": 8, "bare": 6}
B2_RUNGS_DEFAULT = 4
#: Rungs that fail, and so wait out their grace for the last deliveries.
B2_FAILING = 2
#: Seconds per post of a slow post path (ours before issue 14: ~40 ms of worker CPU).
SLOW_POST = 0.045
#: Seconds of a server's start, a migration or a ``manage.py shell`` call (3-5 s here).
PROCESS = 5.0
#: B3: seconds after each step (settling, then up to 3 s for the server to go idle).
B3_STEP = 4.0


def _in(targets: Sequence[Target], name: str) -> list[Target]:
    return [t for t in targets if name in t.measured_in]


def _connect(target: Target, listeners: int) -> float:
    return listeners / CONNECTS_PER_S.get(target.family, 20.0)


def setup(sizes: Sizes, targets: Sequence[Target]) -> float:
    """Migrations and starts: ours and bare per configuration, pure, the original."""
    postgres = 15.0 if any(storage == "pg" for _server, storage in sizes.configs) else 0.0
    return PROCESS * (2 * len(sizes.configs) + 2) + postgres


def b1(sizes: Sizes, targets: Sequence[Target]) -> float:
    total = 0.0
    cap = sizes.b1_cell_budget + sizes.b1_timeout
    for target in _in(targets, "b1"):
        for transport in target.transports:
            for n in sizes.b1_listeners:
                messages = sizes.b1_messages if n < 1000 else sizes.b1_messages_large
                cell = messages * (B1_MESSAGE + n * 0.001)
                if transport == "longpoll" and n >= 100:
                    cell = cap  # long-polls take seconds per message: the budget ends the cell
                total += min(cell + _connect(target, n), cap) + CELL_OVERHEAD
    for target in _in(targets, "b1"):
        if target.family == "pure" or (
            target.family == "ours"
            and (target.server_kind, "pg" if "Postgre" in target.storage else "sqlite")
            in sizes.b1_loaded_configs
        ):
            total += (
                _connect(target, sizes.b1_loaded_listeners)
                + sizes.b1_loaded_seconds
                + sizes.b1_loaded_grace
                + CELL_OVERHEAD
            )
    return total


def b2(sizes: Sizes, targets: Sequence[Target]) -> float:
    per_rung = sizes.b2_step_seconds + 1.0  # settle and idle wait
    total = 0.0
    for target in _in(targets, "b2"):
        rungs = B2_RUNGS.get(target.family, B2_RUNGS_DEFAULT) + sizes.b2_refinements
        total += _connect(target, sizes.b2_listeners) + CELL_OVERHEAD
        total += rungs * per_rung + B2_FAILING * sizes.b2_grace
    sqlite = sum(1 for _server, storage in sizes.configs if storage == "sqlite")
    profiles = (
        sqlite * (sizes.profile_seconds + sizes.b2_grace + 2.0) if sizes.profile_seconds else 0
    )
    return total + profiles


def b3(sizes: Sizes, targets: Sequence[Target]) -> float:
    total = 0.0
    for target in _in(targets, "b3"):
        for transport in target.transports:
            websocket = transport == "websocket"
            steps = sizes.b3_steps if websocket else sizes.b3_stream_steps
            budget = sizes.b3_connect_budget if websocket else sizes.b3_stream_connect_budget
            connect = min(budget, _connect(target, steps[-1])) + B3_STEP * len(steps)
            total += PROCESS + connect + sizes.b3_broadcast_wait + CELL_OVERHEAD
            if websocket and target.family in ("ours", "bare"):
                total += PROCESS + sizes.b3_reconnect_deadline + CELL_OVERHEAD
    return total


def b4(sizes: Sizes, targets: Sequence[Target]) -> float:
    per_size = 2 * PROCESS + 3 * (sizes.b4_url_budget + 1.0)  # seed, count queries, URLs
    seeding = sizes.b4_tickets / 1000
    return len([t for t in _in(targets, "b4") if t.manage]) * (2 * per_size + seeding)


def b5(sizes: Sizes, targets: Sequence[Target]) -> float:
    posts = sizes.b5_sequential + sizes.b5_concurrent
    profile = sizes.profile_seconds + CELL_OVERHEAD  # an extra, unmeasured phase for py-spy
    return len(_in(targets, "b5")) * (posts * SLOW_POST + 2 * CELL_OVERHEAD) + profile


ESTIMATES = {"setup": setup, "b1": b1, "b2": b2, "b3": b3, "b4": b4, "b5": b5}


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

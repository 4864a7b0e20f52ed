"""Sizes of the full run and of ``--quick`` (the CI smoke test); the client's limits.

The full run's sizes are the issue's (1, 100 and 1,000 listeners; 100
listeners for throughput; up to 10,000 idle connections; 10,000 tickets),
with message counts and step lengths chosen so the whole run stays under
about 30 minutes on two cores. ``--quick`` keeps every measurement but
shrinks it until the run takes a minute or two.
"""

from __future__ import annotations

import resource
import sys
import time
from dataclasses import dataclass

_STARTED = time.monotonic()


@dataclass(frozen=True)
class Sizes:
    name: str
    #: Our server configurations: (server, storage) with storage "sqlite" or "pg".
    configs: tuple[tuple[str, str], ...]
    b1_listeners: tuple[int, ...]
    b1_messages: int
    b1_messages_large: int  # at 1,000 listeners and more
    b1_gap: float
    b1_timeout: float
    b1_cell_budget: float
    b1_loaded_listeners: int
    b1_loaded_rate: float
    b1_loaded_seconds: float
    b1_loaded_grace: float
    b2_listeners: int
    b2_first_rate: float
    b2_min_rate: float
    b2_max_rate: float
    b2_step_seconds: float
    b2_grace: float
    b2_refinements: int
    b2_p99_limit_ms: float
    b3_steps: tuple[int, ...]
    b3_connect_budget: float  # seconds to open connections, per transport
    b3_configs: tuple[tuple[str, str], ...]
    b4_tickets: int
    b4_full_repeats: int
    b4_page_repeats: int
    in_flight: int = 16
    profile_seconds: float = 0.0


FULL = Sizes(
    name="full",
    configs=(("daphne", "sqlite"), ("uvicorn", "sqlite"), ("daphne", "pg"), ("uvicorn", "pg")),
    b1_listeners=(1, 100, 1000),
    b1_messages=40,
    b1_messages_large=10,
    b1_gap=0.02,
    b1_timeout=10.0,
    b1_cell_budget=45.0,
    b1_loaded_listeners=1000,
    b1_loaded_rate=100.0,
    b1_loaded_seconds=4.0,
    b1_loaded_grace=10.0,
    b2_listeners=100,
    b2_first_rate=20.0,
    b2_min_rate=2.0,
    b2_max_rate=6400.0,
    b2_step_seconds=3.0,
    b2_grace=3.0,
    b2_refinements=1,
    b2_p99_limit_ms=500.0,
    b3_steps=(1000, 2500, 5000, 10000),
    b3_connect_budget=100.0,
    b3_configs=(("daphne", "sqlite"), ("uvicorn", "sqlite")),
    b4_tickets=10_000,
    b4_full_repeats=3,
    b4_page_repeats=30,
    in_flight=32,
    profile_seconds=8.0,
)

QUICK = Sizes(
    name="quick",
    configs=(("daphne", "sqlite"),),
    b1_listeners=(1, 10),
    b1_messages=5,
    b1_messages_large=5,
    b1_gap=0.02,
    b1_timeout=15.0,
    b1_cell_budget=30.0,
    b1_loaded_listeners=10,
    b1_loaded_rate=20.0,
    b1_loaded_seconds=1.0,
    b1_loaded_grace=5.0,
    b2_listeners=10,
    b2_first_rate=10.0,
    b2_min_rate=2.0,
    b2_max_rate=20.0,
    b2_step_seconds=1.0,
    b2_grace=2.0,
    b2_refinements=0,
    b2_p99_limit_ms=500.0,
    b3_steps=(50,),
    b3_connect_budget=30.0,
    b3_configs=(("daphne", "sqlite"),),
    b4_tickets=200,
    b4_full_repeats=3,
    b4_page_repeats=3,
    in_flight=8,
)


def say(message: str) -> None:
    """Progress on stderr, with the seconds since the run started."""
    sys.stderr.write(f"[bench {time.monotonic() - _STARTED:7.1f}s] {message}\n")
    sys.stderr.flush()


def raise_nofile_limit() -> int:
    """Raise this process's open-file limit to the hard limit; return it.

    10,000 connections need 10,000 descriptors on each side; children
    inherit the raised limit, so the servers we spawn get it too.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]

"""Sizes of the full run and of ``--quick`` (the CI smoke test); the client's limits.

The full run measures what the issue's target table needs and nothing
more, within 30 minutes on two cores: B1 at 1 and 100 listeners (the
targets' sizes; the open-loop cell at 1,000 listeners only on the SQLite
configuration, where the profile is taken), B2 with 100 listeners, B3 up
to 10,000 WebSockets in 60 s (the reconnect target's bound) and 5,000 SSE
streams or long-polls in 30 s, B4 at 100 and 10,000 tickets,
B5 with 100 posts one at a time and 200 from 20 posters. Every step that
can be slow has a time budget, so a slow server costs fewer samples, not
more minutes. ``--quick`` keeps every measurement but shrinks it until the run
takes a minute or two.
"""

from __future__ import annotations

import resource
import sys
import time
from dataclasses import dataclass

_STARTED = time.monotonic()

Config = tuple[str, str]  # (server, storage): storage "sqlite" or "pg"


@dataclass(frozen=True)
class Sizes:
    name: str
    #: Our server configurations; each gets a bare baseline on the same (server, storage).
    configs: tuple[Config, ...]
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
    #: Our configurations measured open-loop (the pure baseline always is; the
    #: first is profiled).
    b1_loaded_configs: tuple[Config, ...]
    b2_listeners: int
    b2_first_rate: float
    b2_min_rate: float
    b2_max_rate: float
    b2_step_seconds: float
    b2_grace: float
    b2_refinements: int
    b2_p99_limit_ms: float
    b3_steps: tuple[int, ...]  # WebSockets
    b3_stream_steps: tuple[int, ...]  # SSE streams and long-polls
    b3_connect_budget: float  # seconds to open the WebSockets
    b3_stream_connect_budget: float  # seconds to open the SSE streams or long-polls
    b3_configs: tuple[Config, ...]
    b3_broadcast_wait: float  # seconds for one event to reach every held connection
    b3_reconnect_deadline: float  # seconds for b3_steps[-1] WebSockets to reconnect at once
    b4_tickets: int
    b4_small_tickets: int
    b4_full_repeats: int
    b4_page_repeats: int
    b4_url_budget: float  # seconds of timed requests per URL (at least one)
    b5_sequential: int
    b5_concurrent: int
    b5_posters: int
    #: The benchmarks the original 1.2.0 takes part in.
    original_in: tuple[str, ...] = ("b1", "b2")
    in_flight: int = 16
    profile_seconds: float = 0.0


FULL = Sizes(
    name="full",
    configs=(("daphne", "sqlite"), ("uvicorn", "sqlite"), ("daphne", "pg"), ("uvicorn", "pg")),
    b1_listeners=(1, 100),
    b1_messages=20,
    b1_messages_large=10,
    b1_gap=0.02,
    b1_timeout=10.0,
    b1_cell_budget=15.0,
    b1_loaded_listeners=1000,
    b1_loaded_rate=100.0,
    b1_loaded_seconds=3.0,
    b1_loaded_grace=5.0,
    b1_loaded_configs=(("daphne", "sqlite"),),
    b2_listeners=100,
    b2_first_rate=20.0,
    b2_min_rate=2.0,
    b2_max_rate=6400.0,
    b2_step_seconds=2.0,
    b2_grace=2.0,
    b2_refinements=1,
    b2_p99_limit_ms=500.0,
    b3_steps=(1000, 2500, 5000, 10000),
    b3_stream_steps=(1000, 2500, 5000),
    b3_connect_budget=60.0,
    b3_stream_connect_budget=30.0,
    b3_configs=(("daphne", "sqlite"), ("uvicorn", "sqlite")),
    b3_broadcast_wait=8.0,
    b3_reconnect_deadline=60.0,
    b4_tickets=10_000,
    b4_small_tickets=100,
    b4_full_repeats=3,
    b4_page_repeats=20,
    b4_url_budget=3.0,
    b5_sequential=100,
    b5_concurrent=200,
    b5_posters=20,
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
    b1_loaded_configs=(("daphne", "sqlite"),),
    b2_listeners=10,
    b2_first_rate=10.0,
    b2_min_rate=2.0,
    b2_max_rate=20.0,
    b2_step_seconds=1.0,
    b2_grace=2.0,
    b2_refinements=0,
    b2_p99_limit_ms=500.0,
    b3_steps=(50,),
    b3_stream_steps=(50,),
    b3_connect_budget=30.0,
    b3_stream_connect_budget=30.0,
    b3_configs=(("daphne", "sqlite"),),
    b3_broadcast_wait=10.0,
    b3_reconnect_deadline=30.0,
    b4_tickets=200,
    b4_small_tickets=20,
    b4_full_repeats=3,
    b4_page_repeats=3,
    b4_url_budget=5.0,
    b5_sequential=10,
    b5_concurrent=20,
    b5_posters=5,
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

"""Sizes of the full run (the defaults) and of ``--quick``; progress; limits. Every step that
can be slow has a time budget: a slow server costs samples, not minutes."""

import resource
import sys
import time
from dataclasses import dataclass, replace

_STARTED = time.monotonic()
Config = tuple[str, str]  # (server, storage): storage "sqlite" or "pg"
SQLITE: tuple[Config, ...] = (("daphne", "sqlite"), ("uvicorn", "sqlite"))


@dataclass(frozen=True)
class Sizes:
    name: str = "full"
    #: Our configurations; each gets a bare baseline on the same (server, storage).
    configs: tuple[Config, ...] = (*SQLITE, ("daphne", "pg"), ("uvicorn", "pg"))
    b1_listeners: tuple[int, ...] = (1, 100)
    b1_messages: int = 20
    b1_gap: float = 0.02
    b1_timeout: float = 10.0
    b1_cell_budget: float = 15.0  # seconds per closed-loop cell, connecting included
    b1_loaded_listeners: int = 1000
    b1_loaded_rate: float = 100.0
    b1_loaded_seconds: float = 3.0
    b1_loaded_grace: float = 5.0
    b1_loaded_configs: tuple[Config, ...] = SQLITE[:1]  # ours measured open loop (and pure)
    b2_listeners: int = 100
    b2_first_rate: float = 20.0
    b2_min_rate: float = 2.0
    b2_max_rate: float = 6400.0
    b2_step_seconds: float = 2.0
    b2_grace: float = 2.0
    b2_refinements: int = 1
    b2_p99_limit_ms: float = 500.0
    b3_steps: tuple[int, ...] = (1000, 2500, 5000, 10000)  # WebSockets
    b3_stream_steps: tuple[int, ...] = (1000, 2500, 5000)  # SSE streams and long-polls
    b3_connect_budget: float = 60.0  # seconds to open the WebSockets
    b3_stream_connect_budget: float = 30.0  # ... the SSE streams or long-polls
    b3_configs: tuple[Config, ...] = SQLITE  # and B6's
    b3_broadcast_wait: float = 8.0  # seconds for one event to reach every connection held
    b3_reconnect_deadline: float = 60.0  # for b3_steps[-1] WebSockets to reconnect at once
    b4_tickets: int = 10_000
    b4_small_tickets: int = 100
    b4_full_repeats: int = 3
    b4_page_repeats: int = 20
    b4_url_budget: float = 3.0  # seconds of timed requests per URL (at least one)
    b5_sequential: int = 100
    b5_concurrent: int = 200
    b5_posters: int = 20
    b6_upload_bytes: int = 5 << 20  # 5 MiB
    b6_uploads: int = 30
    b6_large_bytes: int = 20 << 20  # SUPPORT_MAX_ATTACHMENT_SIZE, 20 MiB
    b6_downloads: int = 10
    b6_burst: int = 20  # large uploads at once
    in_flight: int = 32


FULL = Sizes()
QUICK = replace(
    FULL, name="quick", configs=SQLITE[:1], b1_listeners=(1, 10), b1_messages=5,
    b1_timeout=15.0, b1_cell_budget=30.0, b1_loaded_listeners=10, b1_loaded_rate=20.0,
    b1_loaded_seconds=1.0, b2_listeners=10, b2_first_rate=10.0, b2_max_rate=20.0,
    b2_step_seconds=1.0, b2_refinements=0, b3_steps=(50,), b3_stream_steps=(50,),
    b3_connect_budget=30.0, b3_configs=SQLITE[:1], b3_broadcast_wait=10.0,
    b3_reconnect_deadline=30.0, b4_tickets=200, b4_small_tickets=20, b4_page_repeats=3,
    b4_url_budget=5.0, b5_sequential=10, b5_concurrent=20, b5_posters=5,
    b6_upload_bytes=64 << 10, b6_uploads=5, b6_large_bytes=256 << 10, b6_downloads=3,
    b6_burst=3, in_flight=8,
)  # fmt: skip


def say(message: str) -> None:
    """Progress on stderr, with the seconds since the run started."""
    sys.stderr.write(f"[bench {time.monotonic() - _STARTED:7.1f}s] {message}\n")
    sys.stderr.flush()


def raise_nofile_limit() -> int:
    """Raise the open-file limit to the hard limit (the servers we spawn inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    hard = 1 << 20 if hard == resource.RLIM_INFINITY else hard
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]

"""Database reads from the realtime transports' async code.

Channels' ``database_sync_to_async`` defaults to ``thread_sensitive=True``:
outside a request, every call in the process runs in one shared thread. For
WebSocket handshakes that is a queue: each one looks up its credential (three
queries), so when hundreds of clients reconnect at once, after a deploy or
a proxy restart, the last ones wait for all the others, past daphne's
five-second handshake limit, and are refused.

The reads below share nothing with each other and hold no transaction open,
so they run in a small thread pool of their own instead, several at a time.
``DatabaseSyncToAsync`` closes the thread's connection after each call as
usual (``CONN_MAX_AGE`` applies), so no connection outlives its read; the
pool's size bounds how many such reads (and connections) a worker has at once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from channels.db import DatabaseSyncToAsync

P = ParamSpec("P")
R = TypeVar("R")

#: Threads for the realtime reads, per process: enough to overlap database
#: round trips, few enough to keep a worker's connections bounded.
READ_THREADS = 4
_readers = ThreadPoolExecutor(max_workers=READ_THREADS, thread_name_prefix="support-db")


def db_read(func: Callable[P, R]) -> Callable[P, Awaitable[R]]:
    """*func*, a short read, as a coroutine run in the realtime read pool."""
    return DatabaseSyncToAsync(func, thread_sensitive=False, executor=_readers)  # type: ignore[no-any-return]

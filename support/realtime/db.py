"""Database reads from the realtime transports' async code.

Channels' ``database_sync_to_async`` defaults to ``thread_sensitive=True``:
outside a request, every call in the process runs in one shared thread. For
WebSocket handshakes that is a queue: each one looks up its credential (three
queries), so when hundreds of clients reconnect at once, after a deploy or
a proxy restart, the last ones wait for all the others, past daphne's
five-second handshake limit, and are refused.

The reads below share nothing with each other and hold no transaction open,
so they run in a small thread pool of their own instead, several at a time.
Each gives its connection back when it returns (:func:`released`;
``CONN_MAX_AGE`` applies), so no connection outlives its read, and the
pool's size bounds how many such reads (and connections) a worker has at once.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from asgiref.sync import SyncToAsync
from django.db import close_old_connections, transaction

P = ParamSpec("P")
R = TypeVar("R")

#: Threads for the realtime reads, per process: enough to overlap database
#: round trips, few enough to keep a worker's connections bounded.
READ_THREADS = 4
_readers = ThreadPoolExecutor(max_workers=READ_THREADS, thread_name_prefix="support-db")


def released(func: Callable[P, R]) -> Callable[P, R]:
    """*func*, giving its database connection back when it returns.

    The release runs inside the call, so in the caller's context: Django keeps
    connections in context-local storage, and a release from outside (as
    channels' ``DatabaseSyncToAsync`` does it, around the context switch)
    would miss a connection opened by a task with a context of its own, such
    as the hub's. With ``CONN_MAX_AGE = 0`` the connection is closed, or
    handed back to the pool; inside a transaction it is left alone.
    """

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        finally:
            if not transaction.get_connection().in_atomic_block:
                close_old_connections()

    return wrapper


def db_read(func: Callable[P, R]) -> Callable[P, Awaitable[R]]:
    """*func*, a short read, as a coroutine run in the realtime read pool."""
    return SyncToAsync(released(func), thread_sensitive=False, executor=_readers)

"""Database work from async code: a few threads of the app's own, whose connections last.

Django runs a sync view, and each ``sync_to_async`` call of a request, in a
thread made for that request, and its database connections are per thread:
every request opens a connection and closes it again. On SQLite that is
most of a short write's cost; on PostgreSQL without a pool, a server process
per request. Channels' ``database_sync_to_async`` goes the other way: outside
a request, every call in the process shares one thread, so a thousand
WebSocket handshakes after a deploy queue behind each other.

So the app's database work from async code runs here instead: a fixed pool
of :data:`THREADS` threads, each keeping its connection between calls (for at
least :data:`KEEP_SECONDS`, or ``CONN_MAX_AGE`` when that is longer; dropped
at once when it failed, with ``CONN_HEALTH_CHECKS`` honoured). The pool's
size bounds the connections a worker holds. The REST views run here whole
when served by :func:`support.get_asgi_application` (:func:`pooled_view`);
anywhere else (the test client, WSGI, a hand-built ASGI stack) they run as
Django runs any sync view.

Outages. On PostgreSQL the pool's threads connect by themselves, never
through Django's connection pool (``OPTIONS["pool"]``): the threads already
are the app's pool, and psycopg's pool waits up to its ``timeout`` (30 s) for
a connection while the server is down, and reconnects with a backoff of up
to minutes once it is back. Here a connection waits at most
``SUPPORT_DATABASE_CONNECT_TIMEOUT`` to connect (a refused one fails at once),
a connection kept from an earlier call is checked before it is used again
(so the first call after a restart already works), and while the database
is known to be unreachable one call at a time tries it (:class:`OutageGate`):
the others fail at once with a ``503`` instead of each waiting out a
connect timeout.
"""

from __future__ import annotations

import contextvars
import functools
import logging
import math
import threading
import time
import weakref
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

from asgiref.sync import SyncToAsync, sync_to_async
from django.db import DatabaseError, connections, transaction
from django.http import HttpRequest, HttpResponseBase

from support.conf import support_settings
from support.error_bodies import is_unreachable
from support.exceptions import DatabaseUnreachable
from support.scope import SERVER_SEND

P = ParamSpec("P")
R = TypeVar("R")

#: Threads per process: enough to overlap database round trips and a few
#: slow requests, few enough to bound a worker's connections.
THREADS = 8
#: A pool thread keeps its connection at least this long (seconds).
KEEP_SECONDS = 60.0
#: While the database is unreachable, how long a call waits for the answer of
#: the call that is trying it before failing (seconds).
TRIAL_WAIT = 0.1
#: A kept connection idle this long is checked before it is used again
#: (seconds): less than any restart of the server takes, so the first call
#: after one never meets a dead connection, and a thread kept busy (a burst
#: of posts) spends no round trip on it.
CHECK_AFTER_IDLE = 0.05

logger = logging.getLogger(__name__)
_threads: weakref.WeakSet[threading.Thread] = weakref.WeakSet()  # the pool's threads
_pool = ThreadPoolExecutor(
    max_workers=THREADS,
    thread_name_prefix="support-db",
    initializer=lambda: _threads.add(threading.current_thread()),
)
_seen = threading.local()  # per pool thread: the raw connection last stamped, per alias
_used = threading.local()  # per pool thread: when each alias' connection was last used


def released(func: Callable[P, R]) -> Callable[P, R]:
    """*func*, for sync code in a thread that is not the pool's: run in the pool, waited for.

    For django-eventstream's reads, which run in a stream's request thread:
    there, every open stream would hold a connection of Django's between its
    reads, and the reads would not get the pool's care in an outage (see the
    module's text). Inside a transaction (a test's, say), *func* runs here
    instead, where the transaction's rows are visible.
    """
    in_pool = _kept(func)

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if threading.current_thread() in _threads or transaction.get_connection().in_atomic_block:
            return func(*args, **kwargs)
        context = contextvars.copy_context()
        return _pool.submit(lambda: context.run(in_pool, *args, **kwargs)).result()

    return wrapper


class OutageGate:
    """What this process knows of the database being unreachable.

    A call that finds the database unreachable closes the gate. While it is
    closed, one call at a time goes through (the trial); the others wait up to
    *wait* seconds for the trial's outcome and then fail at once with
    :class:`~support.exceptions.DatabaseUnreachable`, instead of each waiting
    out a connect timeout and holding a thread. The first call that reaches
    the database (whatever its result) opens the gate again.
    """

    def __init__(self, wait: float = TRIAL_WAIT) -> None:
        self.wait = wait
        self.down_since: float | None = None
        self._trying = False
        self._changed = threading.Condition()

    def enter(self) -> bool:
        """Before a call: whether it is the trial; raises when it may not go through."""
        with self._changed:
            if self.down_since is None:
                return False
            if not self._changed.wait_for(
                lambda: self.down_since is None or not self._trying, self.wait
            ):
                raise DatabaseUnreachable()
            if self.down_since is None:
                return False
            self._trying = True
            return True

    def leave(self, trial: bool, unreachable: bool) -> None:
        """After a call: whether it found the database unreachable."""
        with self._changed:
            if trial:
                self._trying = False
            if unreachable and self.down_since is None:
                self.down_since = time.monotonic()
                logger.warning(
                    "The database is unreachable; until it answers, one call at a time tries it "
                    "and the others fail at once (503)."
                )
            elif not unreachable and self.down_since is not None:
                logger.warning(
                    "The database answers again, after %.1f s.", time.monotonic() - self.down_since
                )
                self.down_since = None
            self._changed.notify_all()


_gate = OutageGate()


def _kept(func: Callable[P, R]) -> Callable[P, R]:
    """*func* through the outage gate, on checked connections of the thread's own, then the
    pool thread's connections are kept or closed by the pool's rules."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        trial = _gate.enter()
        unreachable = False
        try:
            _prepare()
            return func(*args, **kwargs)
        except Exception as exc:
            unreachable = is_unreachable(exc)
            raise
        finally:
            _gate.leave(trial, unreachable)
            _tidy()

    return wrapper


def _prepare() -> None:
    """Make the pool thread's connections safe to use: its own, and alive.

    A PostgreSQL connection of this thread's is never checked out of
    Django's pool, and waits at most ``SUPPORT_DATABASE_CONNECT_TIMEOUT`` to
    connect (whole seconds, 2 at least: libpq's rule). One kept from an
    earlier call is checked first (when it was idle for ``CHECK_AFTER_IDLE``),
    and dropped if the server went away meanwhile (a restart, say), so this
    call connects afresh instead of failing on it.
    """
    timeout = max(2, math.ceil(support_settings.DATABASE_CONNECT_TIMEOUT))
    now = time.monotonic()
    for alias in connections:
        conn = connections[alias]
        if conn.vendor != "postgresql" or conn.in_atomic_block:
            continue
        if conn.connection is not None:
            if now - getattr(_used, alias, 0.0) < CHECK_AFTER_IDLE or conn.is_usable():
                conn.health_check_done = True  # type: ignore[attr-defined]  # no second check
                continue
            _drop(conn)
        source = connections.settings[alias]
        options = {**source.get("OPTIONS", {}), "connect_timeout": timeout}
        options.pop("pool", None)
        own = {**source, "OPTIONS": options}
        if conn.settings_dict != own:
            conn.settings_dict = own


def _drop(conn: Any) -> None:
    try:
        conn.close()
    except DatabaseError:
        conn.connection = None


def _tidy() -> None:
    for conn in connections.all(initialized_only=True):
        if conn.connection is None or conn.in_atomic_block:
            continue
        if getattr(_seen, conn.alias, None) is not conn.connection:
            # A connection opened by this call: Django set it to close
            # CONN_MAX_AGE seconds after it opened (at once for 0); the pool
            # keeps it for KEEP_SECONDS at least.
            setattr(_seen, conn.alias, conn.connection)
            if conn.close_at is not None:
                conn.close_at = max(conn.close_at, time.monotonic() + KEEP_SECONDS)
        # Drops a failed or expired connection; re-arms CONN_HEALTH_CHECKS.
        conn.close_if_unusable_or_obsolete()
        setattr(_used, conn.alias, time.monotonic())


def pooled(func: Callable[P, R]) -> Callable[P, Awaitable[R]]:
    """*func* as a coroutine that runs in the pool; calls run several at a time."""
    return SyncToAsync(_kept(func), thread_sensitive=False, executor=_pool)


def pooled_view(view: Callable[..., HttpResponseBase]) -> Callable[..., Any]:
    """An async view that runs the sync *view* in the pool, rendered there too.

    Only when the request came through :func:`support.get_asgi_application`:
    the test client's transaction, say, lives on its own thread's connection,
    which a pool thread would not see. Projects with ``ATOMIC_REQUESTS``
    keep the sync view, which Django wraps in a transaction (it cannot wrap
    an async one).
    """
    if any(db.get("ATOMIC_REQUESTS") for db in connections.settings.values()):
        return view

    def rendered(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        response = view(request, *args, **kwargs)
        render = getattr(response, "render", None)
        if callable(render):
            render()  # here, not in another thread hop of Django's
        return response

    in_pool = pooled(rendered)
    as_django_does = sync_to_async(rendered, thread_sensitive=True)

    @functools.wraps(view)
    async def async_view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        served_by_support = SERVER_SEND in getattr(request, "scope", ())
        run = in_pool if served_by_support else as_django_does
        return await run(request, *args, **kwargs)

    return async_view


def close_pooled_connections(timeout: float = 10.0) -> None:
    """Close the connections every pool thread keeps (before dropping a test database, say).

    Each thread closes its own (Django's connections belong to their thread):
    one task per thread, held at a barrier until all of them have started.
    """
    barrier = threading.Barrier(THREADS)

    def close() -> None:
        barrier.wait(timeout)
        connections.close_all()

    for future in [_pool.submit(close) for _ in range(THREADS)]:
        future.result(timeout)


def free_request_thread() -> None:
    """Let the current request's own thread end while the request waits.

    Django runs each request's sync pieces (its middleware, the
    ``request_started`` signal's receivers) in a thread made for the request,
    which lives until the request ends: a long-poll or an SSE stream that
    waits minutes would hold an idle OS thread all that time. Called from an
    async view while none of the request's sync code runs, this shuts that
    thread down; should the request need one again (the response's
    middleware, ``request_finished``), asgiref makes a new one, ended with
    the request as usual.
    """
    context = SyncToAsync.thread_sensitive_context.get(None)
    if context is None:
        return
    executor = SyncToAsync.context_to_thread_executor.pop(context, None)
    if executor is not None:
        executor.shutdown(wait=False)

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
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

from asgiref.sync import SyncToAsync, sync_to_async
from django.db import close_old_connections, connections, transaction
from django.http import HttpRequest, HttpResponseBase

from support.scope import SERVER_SEND

P = ParamSpec("P")
R = TypeVar("R")

#: Threads per process: enough to overlap database round trips and a few
#: slow requests, few enough to bound a worker's connections.
THREADS = 8
#: A pool thread keeps its connection at least this long (seconds).
KEEP_SECONDS = 60.0
_pool = ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="support-db")
_seen = threading.local()  # per pool thread: the raw connection last stamped, per alias


def released(func: Callable[P, R]) -> Callable[P, R]:
    """*func*, giving its database connection back when it returns.

    For code that runs in a thread which outlives the call but is not one of
    the pool's (django-eventstream's reads, in a stream's request thread):
    without this, every open stream would hold a connection. The release runs
    inside the call, in the caller's context, where Django keeps the
    connection; ``CONN_MAX_AGE`` applies, and inside a transaction nothing is
    touched.
    """

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        finally:
            if not transaction.get_connection().in_atomic_block:
                close_old_connections()

    return wrapper


def _kept(func: Callable[P, R]) -> Callable[P, R]:
    """*func*, then the pool thread's connections are kept or closed by the pool's rules."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        finally:
            _tidy()

    return wrapper


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

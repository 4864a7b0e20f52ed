# mypy: disable-error-code="no-untyped-call"
"""Threads under Django's real ASGI handler: waiting streams hold none, REST views use the pool.

Django makes a thread per request for its sync pieces and keeps it until the
request ends (:func:`support.db.free_request_thread`); a worker with
thousands of waiting long-polls or open SSE streams must not have thousands
of threads. The test client bypasses that handler, so these requests go
through :func:`support.get_asgi_application` as a server would send them.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from asgiref.testing import ApplicationCommunicator
from django.db import connections

import support
from support import db, services
from tests.test_realtime_websocket import setup_world

pytestmark = pytest.mark.django_db(transaction=True)

STREAMS = 20


def http_scope(path: str, query: str, credential: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"authorization", credential.encode())],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }


@pytest.mark.parametrize("direct", [False, True], ids=["through-django", "direct"])
@pytest.mark.parametrize(
    ("path", "started"),
    [
        ("/support/events/", None),  # a long-poll sends nothing until it answers
        ("/support/events/stream/", "http.response.start"),  # SSE opens its stream at once
    ],
)
async def test_waiting_streams_hold_no_thread(stop_hub, settings, path, started, direct):
    settings.SUPPORT_DIRECT_STREAMS = direct
    world = await setup_world()
    app = support.get_asgi_application()
    query = f"after=support:{world['cursor']}&timeout=30"
    before = threading.active_count()
    streams = []
    for _ in range(STREAMS):
        stream = ApplicationCommunicator(app, http_scope(path, query, f"Token {world['alice']}"))
        await stream.send_input({"type": "http.request", "body": b"", "more_body": False})
        streams.append(stream)
    for stream in streams:
        if started is None:
            assert await stream.receive_nothing(timeout=0.5)
        else:
            assert (await stream.receive_output(timeout=5))["type"] == started
    await asyncio.sleep(0.5)  # threads that were told to end, ending
    # The support.db pool's threads (at most support.db.THREADS) may start;
    # a thread per stream would be STREAMS more.
    assert threading.active_count() - before < STREAMS / 2
    for stream in streams:
        await stream.send_input({"type": "http.disconnect"})
        await stream.wait(timeout=5)


async def test_rest_views_run_in_the_pool_when_served_by_support(stop_hub, monkeypatch):
    """Under support.get_asgi_application() a REST view runs in support.db's threads."""
    world = await setup_world()
    threads: list[str] = []
    post_message = services.post_message

    def recording(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread().name)
        return post_message(*args, **kwargs)

    monkeypatch.setattr(services, "post_message", recording)
    scope = http_scope(f"/support/tickets/{world['queued']}/messages/", "", "")
    scope["method"] = "POST"
    scope["headers"] = [
        (b"host", b"testserver"),
        (b"authorization", f"Api-Key {world['bot_key']}".encode()),
        (b"content-type", b"application/json"),
        (b"content-length", b"14"),
    ]
    request = ApplicationCommunicator(support.get_asgi_application(), scope)
    await request.send_input({"type": "http.request", "body": b'{"text": "hi"}'})
    assert (await request.receive_output(timeout=10))["status"] == 201
    assert threads
    assert threads[0].startswith("support-db")


def test_atomic_requests_keep_the_sync_view(monkeypatch):
    """Django cannot wrap an async view in ATOMIC_REQUESTS' transaction: keep it sync."""

    def view(request: Any) -> Any:
        raise AssertionError("not called")

    monkeypatch.setitem(connections.settings["default"], "ATOMIC_REQUESTS", True)
    assert db.pooled_view(view) is view
    monkeypatch.setitem(connections.settings["default"], "ATOMIC_REQUESTS", False)
    assert db.pooled_view(view) is not view

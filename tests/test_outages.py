"""Database outages, in process: a logged 503 on every transport, the outage gate, frame limits.

Every database failure that is not the request's fault (refused, lost, closed,
shut down, no connection slot, a pool's timeout, contention) is ``503 busy``
with ``Retry-After``, logged as one warning line under a request id; anything
else stays a logged 500. The real outages (PostgreSQL restarted and stopped
under load) are in ``tests/integration/test_outages.py``.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any
from unittest import mock

import psycopg
import psycopg_pool
import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import utils as dj
from django.db.backends.utils import CursorWrapper
from psycopg import errors as pg
from rest_framework.test import APIClient

from support import db
from support.error_bodies import error_for, is_unavailable, is_unreachable
from support.exceptions import DatabaseUnreachable
from support.realtime import frames
from support.realtime.commands import FrameTooLarge, frame_limit, parse_frame
from support.scope import SERVER_SEND
from tests.conftest import make_manager

BUSY_DETAIL = "The server is busy; retry the request."
DOWN_DETAIL = "The database is unavailable; retry the request in a moment."


def wrapped(django_error: type[dj.Error], driver_error: Exception) -> dj.Error:
    """What Django raises for a driver's error (``django.db.utils.DatabaseErrorWrapper``)."""
    error = django_error(*driver_error.args)
    error.__cause__ = driver_error
    return error


def down() -> dj.Error:
    message = "terminating connection due to administrator command"
    return wrapped(dj.OperationalError, pg.AdminShutdown(message))


# (the exception, what it is: "unreachable" and "busy" are 503s, "bug" a 500)
DATABASE_ERRORS = [
    pytest.param(down(), "unreachable", id="shut down by the administrator (57P01)"),
    pytest.param(
        wrapped(dj.OperationalError, pg.CrashShutdown("terminating connection because of crash")),
        "unreachable", id="crash shutdown (57P02)",
    ),
    pytest.param(
        wrapped(dj.OperationalError, pg.CannotConnectNow("the database system is starting up")),
        "unreachable", id="starting up (57P03)",
    ),
    pytest.param(
        wrapped(dj.OperationalError, pg.TooManyConnections("sorry, too many clients already")),
        "unreachable", id="no connection slot (53300)",
    ),
    pytest.param(
        wrapped(dj.OperationalError, pg.ConnectionFailure("connection failure")),
        "unreachable", id="connection failure (08006)",
    ),
    pytest.param(
        wrapped(dj.OperationalError, psycopg.OperationalError(
            'connection failed: connection to server at "127.0.0.1", port 5432 failed: '
            "Connection refused"
        )),
        "unreachable", id="connection refused",
    ),
    pytest.param(
        wrapped(dj.OperationalError, psycopg.OperationalError(
            "consuming input failed: server closed the connection unexpectedly"
        )),
        "unreachable", id="connection lost",
    ),
    pytest.param(
        wrapped(dj.OperationalError, psycopg.OperationalError("the connection is closed")),
        "unreachable", id="connection closed",
    ),
    pytest.param(
        wrapped(dj.InterfaceError, psycopg.InterfaceError("the cursor is closed")),
        "unreachable", id="interface error",
    ),
    pytest.param(
        wrapped(dj.OperationalError, psycopg_pool.PoolTimeout("couldn't get a connection")),
        "unreachable", id="the pool gave no connection in time",
    ),
    pytest.param(
        psycopg_pool.PoolTimeout("couldn't get a connection after 30.00 sec"),
        "unreachable", id="a pool timeout Django did not wrap",
    ),
    pytest.param(
        wrapped(dj.OperationalError, pg.SerializationFailure("could not serialize access")),
        "busy", id="serialization failure (40001)",
    ),
    pytest.param(
        wrapped(dj.OperationalError, pg.DeadlockDetected("deadlock detected")),
        "busy", id="deadlock (40P01)",
    ),
    pytest.param(
        wrapped(dj.OperationalError, pg.LockNotAvailable("could not obtain lock")),
        "busy", id="lock timeout (55P03)",
    ),
    pytest.param(
        wrapped(dj.OperationalError, pg.QueryCanceled("canceling statement due to timeout")),
        "busy", id="statement timeout (57014)",
    ),
    pytest.param(
        wrapped(dj.OperationalError, pg.DiskFull("could not extend file")),
        "busy", id="disk full (53100)",
    ),
    pytest.param(
        wrapped(dj.OperationalError, pg.IoError("could not read block")),
        "busy", id="I/O error (58030)",
    ),
    pytest.param(
        wrapped(dj.OperationalError, sqlite3.OperationalError("database is locked")),
        "busy", id="SQLite locked",
    ),
    pytest.param(
        wrapped(dj.IntegrityError, pg.UniqueViolation("duplicate key value")),
        "bug", id="unique violation (23505)",
    ),
    pytest.param(
        wrapped(dj.ProgrammingError, pg.UndefinedTable('relation "x" does not exist')),
        "bug", id="undefined table (42P01)",
    ),
    pytest.param(
        wrapped(dj.DataError, pg.StringDataRightTruncation("value too long")),
        "bug", id="value too long (22001)",
    ),
    pytest.param(
        wrapped(dj.OperationalError, sqlite3.OperationalError("no such table: support_ticket")),
        "bug", id="SQLite's OperationalError for a missing table",
    ),
    pytest.param(ValueError("a bug"), "bug", id="not a database error"),
]  # fmt: skip


@pytest.mark.parametrize(("error", "kind"), DATABASE_ERRORS)
def test_each_kind_of_database_error_gets_its_status_code_and_log_line(
    error: Exception, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="support.errors"):
        answer = error_for(error, where="a test")
    [record] = caplog.records
    body = answer.as_dict()
    assert is_unreachable(error) == (kind == "unreachable")
    assert is_unavailable(error) == (kind != "bug")
    if kind == "bug":
        assert (answer.status, body["code"]) == (500, "server_error")
        assert (record.levelno, record.exc_info is not None) == (logging.ERROR, True)
        return
    assert (answer.status, body["code"]) == (503, "busy")
    assert body["detail"] == (DOWN_DETAIL if kind == "unreachable" else BUSY_DETAIL)
    assert answer.headers() == {"Retry-After": "1", "X-Request-ID": body["request_id"]}
    # One warning line, no traceback, naming the request id the client got.
    assert (record.levelno, record.exc_info) == (logging.WARNING, None)
    assert f"[request_id={body['request_id']}]" in record.getMessage()
    assert "a test" in record.getMessage()


@contextmanager
def database_down() -> Iterator[None]:
    """Every query fails as PostgreSQL's does when the server shuts down; the gate is
    opened again afterwards (a later call would find the database anyway)."""

    def fail(*args: Any, **kwargs: Any) -> Any:
        raise down()

    try:
        with mock.patch.multiple(CursorWrapper, _execute=fail, _executemany=fail):
            yield
    finally:
        db._gate.down_since = None


@pytest.fixture
def no_tracebacks(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """What the app logs: warnings at most, and never a traceback."""
    with caplog.at_level(logging.DEBUG, logger="support"):
        yield caplog
    assert [
        r.getMessage() for r in caplog.records if r.exc_info or r.levelno > logging.WARNING
    ] == []


REST_CALLS = [
    pytest.param("get", "/support/tickets/", None, id="list tickets"),
    pytest.param("post", "/support/tickets/", {"user_id": 5, "title": "t"}, id="open a ticket"),
    pytest.param("get", "/support/events/?after=support:0&timeout=0", None, id="long-poll"),
    pytest.param("get", "/support/events/stream/", None, id="SSE"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path", "body"), REST_CALLS)
def test_rest_and_stream_requests_get_a_503_while_the_database_is_down(
    bot_client: APIClient, method: str, path: str, body: Any, no_tracebacks: Any
) -> None:
    with database_down():
        response = getattr(bot_client, method)(path, body, format="json")
    assert response.status_code == 503
    answer = response.json()
    assert (answer["code"], answer["detail"]) == ("busy", DOWN_DETAIL)
    assert response["Retry-After"] == "1"
    assert response["X-Request-ID"] == answer["request_id"]
    [line] = [r for r in no_tracebacks.records if r.name == "support.errors"]
    assert answer["request_id"] in line.getMessage()


@pytest.fixture
def application() -> Any:
    from support import get_asgi_application

    return get_asgi_application()


@sync_to_async
def manager_token() -> str:
    from rest_framework.authtoken.models import Token

    return str(Token.objects.create(user=make_manager("alice")).key)


def communicator(application: Any, token: str) -> WebsocketCommunicator:
    headers = [(b"host", b"testserver"), (b"authorization", f"Token {token}".encode())]
    return WebsocketCommunicator(application, "/ws/support/", headers=headers)


@pytest.mark.django_db(transaction=True)
async def test_a_websocket_handshake_while_the_database_is_down_gets_a_frame_and_1013(
    application: Any, stop_hub: None, no_tracebacks: Any
) -> None:
    ws = communicator(application, await manager_token())
    with database_down():
        connected, _ = await ws.connect()
        assert connected
        frame = json.loads(await ws.receive_from(timeout=5))
        closed = await ws.receive_output(timeout=5)
    assert {k: frame[k] for k in ("type", "code", "status", "detail")} == {
        "type": "error", "code": "busy", "status": 503, "detail": DOWN_DETAIL,
    }  # fmt: skip
    assert frame["log_id"]  # the request id the warning names
    assert closed == {"type": "websocket.close", "code": 1013}


@pytest.mark.django_db(transaction=True)
async def test_a_websocket_whose_hub_cannot_start_gets_a_frame_and_1013(
    application: Any, stop_hub: None, no_tracebacks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from support.realtime import hub

    ws = communicator(application, await manager_token())

    async def unreadable() -> int:
        raise down()

    monkeypatch.setattr(hub, "current_position_async", unreadable)
    connected, _ = await ws.connect()  # the credential checks out; the log can't be read
    assert connected
    frame = json.loads(await ws.receive_from(timeout=5))
    assert (frame["type"], frame["code"], frame["status"]) == ("error", "busy", 503)
    assert await ws.receive_output(timeout=5) == {"type": "websocket.close", "code": 1013}


@pytest.mark.django_db(transaction=True)
async def test_a_websocket_command_while_the_database_is_down_gets_a_busy_frame(
    application: Any, stop_hub: None, no_tracebacks: Any
) -> None:
    ws = communicator(application, await manager_token())
    connected, _ = await ws.connect()
    assert connected
    await ws.send_json_to({"type": "ping"})  # answered once the connection is live
    assert json.loads(await ws.receive_from(timeout=5))["type"] == "pong"
    with database_down():
        await ws.send_json_to({"type": "ticket.assign", "ticket_id": 1, "request_id": "r1"})
        frame = json.loads(await ws.receive_from(timeout=5))
    assert (frame["type"], frame["request_id"], frame["code"], frame["status"]) == (
        "error", "r1", "busy", 503,
    )  # fmt: skip
    await ws.send_json_to({"type": "ping", "request_id": "p"})  # the connection stays open
    assert json.loads(await ws.receive_from(timeout=5)) == {"type": "pong", "request_id": "p"}
    await ws.disconnect()


# -- the outage gate ------------------------------------------------------------


def test_the_gate_is_open_until_a_call_finds_the_database_unreachable() -> None:
    gate = db.OutageGate(wait=0.05)
    assert gate.enter() is False
    gate.leave(False, unreachable=False)
    assert gate.enter() is False
    gate.leave(False, unreachable=True)  # an outage begins
    assert gate.down_since is not None


def test_while_closed_one_call_tries_and_the_others_fail_at_once() -> None:
    gate = db.OutageGate(wait=0.05)
    gate.leave(False, unreachable=True)
    assert gate.enter() is True  # the trial
    began = time.monotonic()
    with pytest.raises(DatabaseUnreachable):
        gate.enter()  # a trial is under way: no second one
    assert time.monotonic() - began < 1
    gate.leave(True, unreachable=True)  # still unreachable
    assert gate.enter() is True  # the next trial
    gate.leave(True, unreachable=False)  # it answers again
    assert (gate.down_since, gate.enter()) == (None, False)


def test_calls_that_wait_on_a_trial_that_succeeds_go_through() -> None:
    gate = db.OutageGate(wait=5)
    gate.leave(False, unreachable=True)
    assert gate.enter() is True
    outcomes: list[bool] = []
    waiters = [threading.Thread(target=lambda: outcomes.append(gate.enter())) for _ in range(3)]
    for waiter in waiters:
        waiter.start()
    time.sleep(0.05)
    gate.leave(True, unreachable=False)
    for waiter in waiters:
        waiter.join(5)
    assert outcomes == [False, False, False]


@pytest.fixture
def fresh_gate(monkeypatch: pytest.MonkeyPatch) -> db.OutageGate:
    gate = db.OutageGate()
    monkeypatch.setattr(db, "_gate", gate)
    return gate


@pytest.mark.django_db(transaction=True)
async def test_pooled_calls_fail_at_once_while_one_waits_on_an_unreachable_database(
    fresh_gate: db.OutageGate, caplog: pytest.LogCaptureFixture
) -> None:
    def failing() -> None:
        raise down()

    with pytest.raises(dj.OperationalError):
        await db.pooled(failing)()
    assert fresh_gate.down_since is not None
    connecting = asyncio.ensure_future(db.pooled(time.sleep)(1.0))  # a connect that hangs
    await asyncio.sleep(0.1)
    began = time.monotonic()
    with pytest.raises(DatabaseUnreachable):
        await db.pooled(lambda: "ran")()
    assert time.monotonic() - began < 0.5  # not the trial's second
    await connecting  # it reached the database after all
    assert await db.pooled(lambda: "ran")() == "ran"
    messages = [r.getMessage() for r in caplog.records if r.name == "support.db"]
    assert messages[0].startswith("The database is unreachable")
    assert messages[1].startswith("The database answers again, after")


def thread_name() -> str:
    return threading.current_thread().name


@pytest.mark.django_db
def test_a_read_from_another_thread_runs_here_inside_a_transaction() -> None:
    assert db.released(thread_name)() == threading.current_thread().name


@pytest.mark.django_db(transaction=True)
def test_a_read_from_another_thread_runs_in_the_pool_outside_a_transaction() -> None:
    assert db.released(thread_name)().startswith("support-db")


# -- WebSocket frames -------------------------------------------------------------


@pytest.mark.parametrize(
    ("max_text_length", "limit"), [(4096, 65536), (100, 65536), (8000, 128000), (0, 65536)]
)
def test_the_frame_limit_fits_the_longest_text(settings: Any, max_text_length: int, limit: int):
    settings.SUPPORT_MAX_TEXT_LENGTH = max_text_length
    assert frame_limit() == limit
    command = {
        "type": "ticket.message.new",
        "ticket_id": 2**53,
        "request_id": "r" * 128,
        "idempotency_key": "k" * 128,
        "text": "\U0001f600" * max_text_length,
    }
    escaped = json.dumps(command)  # each character as a 12-character surrogate pair
    assert len(escaped) <= limit  # the longest escape of every character still fits
    parse_frame(escaped)
    with pytest.raises(FrameTooLarge):
        parse_frame(" " * (limit + 1))


class _Protocol:
    def __init__(self, **attributes: Any) -> None:
        self.__dict__.update(attributes)

    async def asgi_send(self, message: Any) -> None: ...

    def handle_reply(self, protocol: Any, message: Any) -> None: ...


def scope_of(server: str, limit: int) -> dict[str, Any]:
    """A connection's scope as uvicorn's or daphne's send makes it."""
    if server == "uvicorn":
        uvicorn = _Protocol(config=SimpleNamespace(ws_max_size=limit))
        return {SERVER_SEND: uvicorn.asgi_send}
    daphne = _Protocol(maxMessagePayloadSize=limit, maxFramePayloadSize=limit)
    return {SERVER_SEND: functools.partial(_Protocol().handle_reply, daphne)}


@pytest.mark.parametrize(
    ("server", "limit", "warns"),
    [
        ("uvicorn", 65536, False),  # as docs/deployment.md starts it
        ("uvicorn", 4 * 65536, False),
        ("uvicorn", 16 * 1024 * 1024, True),  # uvicorn's default
        ("daphne", 65536, False),
        ("daphne", 1024 * 1024, True),  # daphne's default
        ("daphne", 0, True),  # no limit at all
    ],
)
def test_a_server_that_reads_far_larger_frames_is_named_once(
    server: str, limit: int, warns: bool, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    monkeypatch.setattr(frames, "_warned", False)
    scope = scope_of(server, limit)
    assert frames.server_frame_limit(scope) == limit
    with caplog.at_level(logging.WARNING, logger="support.realtime.frames"):
        frames.warn_if_unbounded(scope)
        frames.warn_if_unbounded(scope)
    assert len(caplog.records) == (1 if warns else 0)
    if warns:
        assert "uvicorn --ws-max-size 65536" in caplog.records[0].getMessage()


def test_a_server_that_does_not_show_its_limit_is_left_alone(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(frames, "_warned", False)
    for scope in ({}, {SERVER_SEND: print}):
        assert frames.server_frame_limit(scope) is None
        frames.warn_if_unbounded(scope)
    assert caplog.records == []

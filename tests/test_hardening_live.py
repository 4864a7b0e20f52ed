"""What a careless client or an attacker tries, against real servers.

The cases that need a server process: many writers at once, a body too big for the
server to read, clients that stop reading their streams. Each runs the example
under daphne (``tests/harness/server.py``); the ``desk`` cases run once on each
database: the example's own SQLite, SQLite from a ``DATABASE_URL``, and PostgreSQL.
All are ``live`` (``nox -s tests`` runs them on one Python x Django pair); the
in-process cases are in ``test_hardening.py``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.harness.server import Credentials, LiveServer, running_server
from tests.live_clients import current_cursor, websocket_events

pytestmark = pytest.mark.live


# -- concurrent writers, on real servers -----------------------------------------

DATABASES = ["sqlite-default", "sqlite-url", "postgres"]


@pytest.fixture(scope="module", params=DATABASES)
def desk(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LiveServer, Credentials]]:
    workdir = tmp_path_factory.mktemp(request.param)
    with contextlib.ExitStack() as stack:
        if request.param == "postgres":
            from tests.harness.postgres import running_postgres

            url = stack.enter_context(running_postgres())
        elif request.param == "sqlite-url":
            url = f"sqlite:///{workdir / 'url.sqlite3'}"
        else:
            url = ""  # the example's own SQLite settings
        yield stack.enter_context(
            running_server(workdir, DATABASE_URL=url, SUPPORT_MAX_STREAMS_PER_CREDENTIAL="0")
        )


async def _post_all(
    server: LiveServer, key: str, bodies: list[tuple[str, dict[str, Any]]], concurrency: int
) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=concurrency)
    headers = {"Authorization": f"Api-Key {key}"}
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=server.api, limits=limits, timeout=60) as http:

        async def post(path: str, body: dict[str, Any]) -> httpx.Response:
            async with gate:
                return await http.post(path, json=body, headers=headers)

        return await asyncio.gather(*(post(path, body) for path, body in bodies))


async def test_concurrent_writers_get_no_5xx(desk: tuple[LiveServer, Credentials]) -> None:
    server, creds = desk
    opened = await _post_all(
        server,
        creds.bot_key,
        [("tickets/", {"user_id": 7000 + n, "title": f"t{n}", "text": "hi"}) for n in range(10)],
        concurrency=10,
    )
    assert [r.status_code for r in opened] == [201] * 10
    ids = [r.json()["id"] for r in opened]
    posts = [(f"tickets/{ids[n % 10]}/messages/", {"text": f"message {n}"}) for n in range(200)]
    answers = await _post_all(server, creds.bot_key, posts, concurrency=20)
    assert sorted({r.status_code for r in answers}) == [201], [
        r.text for r in answers if r.status_code != 201
    ][:3]

    # One idempotency key, 20 at once: one message, every answer names it.
    same = [(f"tickets/{ids[0]}/messages/", {"text": "once", "idempotency_key": "k-1"})] * 20
    answers = await _post_all(server, creds.bot_key, same, concurrency=20)
    assert sorted(r.status_code for r in answers) == [200] * 19 + [201]
    assert len({r.json()["id"] for r in answers}) == 1

    # The same for opening a ticket with a key.
    ticket = ("tickets/", {"user_id": 7100, "title": "once", "idempotency_key": "t-1"})
    answers = await _post_all(server, creds.bot_key, [ticket] * 20, concurrency=20)
    assert sorted(r.status_code for r in answers) == [200] * 19 + [201]
    assert len({r.json()["id"] for r in answers}) == 1


def test_a_huge_body_is_json_413_from_the_server(desk: tuple[LiveServer, Credentials]) -> None:
    server, creds = desk
    headers = {"Authorization": f"Api-Key {creds.bot_key}", "Content-Type": "application/json"}
    body = json.dumps({"user_id": 1, "title": "x" * (10 * 1024 * 1024)})
    response = httpx.post(f"{server.api}tickets/", content=body, headers=headers, timeout=60)
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"


# -- slow readers and memory ---------------------------------------------------------

#: Text per message in the slow-reader flood; the example reads the limit from the env.
BIG_TEXT = 60_000


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def silent_client(server: LiveServer, token: str, *, websocket: bool) -> socket.socket:
    """A client that opens a stream and never reads from it (a tiny receive buffer)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", server.port))
    if websocket:
        key = base64.b64encode(os.urandom(16)).decode()
        head = (
            "GET /ws/support/ HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        )
    else:
        head = "GET /support/events/stream/ HTTP/1.1\r\nAccept: text/event-stream\r\n"
    sock.sendall(
        f"{head}Host: 127.0.0.1:{server.port}\r\nAuthorization: Token {token}\r\n\r\n".encode()
    )
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += sock.recv(1)
    assert answer.split(b" ")[1] in (b"101", b"200"), answer
    return sock


def drained_until_closed(sock: socket.socket, timeout: float) -> bool:
    """Read what is left; whether the server ended the connection within *timeout*."""
    sock.settimeout(timeout)
    try:
        while sock.recv(1 << 20):
            pass
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    finally:
        sock.close()
    return True


def test_clients_that_stop_reading_are_dropped_and_memory_comes_back(tmp_path: Path) -> None:
    env = {"SUPPORT_MAX_TEXT_LENGTH": str(BIG_TEXT), "SUPPORT_MAX_STREAMS_PER_CREDENTIAL": "0"}
    with running_server(tmp_path, tickets=1, **env) as (server, creds):
        assert server.process is not None
        pid = server.process.pid
        token = creds.managers[0]
        posts = [("tickets/1/messages/", {"text": "x" * BIG_TEXT})] * 200

        def flood(expect_readers: int) -> None:
            async def run() -> list[Any]:
                cursor = current_cursor(server, token)
                readers = [
                    websocket_events(server.ws_url, token, cursor, len(posts), timeout=120)
                    for _ in range(expect_readers)
                ]
                results = asyncio.gather(*readers)
                answers = await _post_all(server, creds.bot_key, posts, concurrency=8)
                assert {r.status_code for r in answers} == {201}
                return list(await results)

            received = asyncio.run(run())
            for events in received:  # every reader got every event, once, in order
                assert len(events) == len(posts)
                positions = [int(event_id.split(":")[1]) for event_id, _text in events]
                assert positions == sorted(set(positions))

        flood(expect_readers=2)  # warm-up: what a busy worker allocates anyway
        baseline = rss_bytes(pid)

        silent = [silent_client(server, token, websocket=ws) for ws in (True, True, False, False)]
        flood(expect_readers=2)  # normal readers keep up while the silent ones fall behind
        dropped = [drained_until_closed(sock, timeout=15) for sock in silent]
        assert dropped == [True] * 4
        assert server.log.read_text().count("its client is not reading") >= 4

        time.sleep(3)  # the aborts run ABORT_GRACE after the closes
        after = rss_bytes(pid)
        assert after <= baseline * 1.2, (baseline, after)

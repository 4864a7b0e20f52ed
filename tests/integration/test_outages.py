"""Outages on the production stack: PostgreSQL, the workers, huge frames.

The stack of ``docs/deployment.md``: a PostgreSQL cluster this module stops
and restarts, Redis, two uvicorn workers started as the guide starts them
(``--ws-max-size``), nginx running ``deploy/nginx.conf``. In each outage a bot
posts with idempotency keys, retrying what is answered 503, while listeners
(raw clients and the SDK, every transport) follow the log through nginx:

* PostgreSQL restarted, then stopped for 10 s, mid-burst: every answer is a
  2xx or a ``503 busy`` (each 503 logged once, by its request id), none takes
  longer than ``SUPPORT_DATABASE_CONNECT_TIMEOUT``, every request made once
  PostgreSQL is back succeeds, every post is stored once, and every listener
  holds exactly the log's events, in order;
* both workers restarted: the SDK's ``auto`` streams are back on WebSocket,
  not stuck on SSE;
* 20 frames of 16 MB keep a worker within 100 MB of its idle memory.

Each prints its figures (``-rP`` shows them).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import json
import os
import re
import socket
import struct
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import websockets

from support_client import AsyncSupportClient
from support_client._streaming import TransportName
from tests.harness.nginx import NginxServer
from tests.harness.postgres import PostgresCluster, require_postgres, running_cluster
from tests.harness.process import ServerProcess
from tests.harness.redis import RedisServer
from tests.harness.server import Credentials, LiveServer, running_server, server_env, uvicorn
from tests.live_clients import auth

#: SUPPORT_DATABASE_CONNECT_TIMEOUT's default: no answer may take longer.
BOUND = 5.0
#: Posts the bot keeps in flight, and its pace (posts started per second).
IN_FLIGHT, PACE = 16, 80
#: How long the bot waits before posting again what was answered 503.
RETRY_DELAY = 0.2
REQUEST_ID = re.compile(r"\[request_id=([0-9a-f]{32})\]")


@dataclass
class OutageStack:
    workdir: Path
    postgres: PostgresCluster
    redis: RedisServer
    workers: list[LiveServer]
    nginx: NginxServer
    credentials: Credentials

    @property
    def api(self) -> str:
        return self.nginx.api

    def logs(self) -> str:
        return "".join(worker.log.read_text(errors="replace") for worker in self.workers)


@pytest.fixture(scope="module")
def outage_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OutageStack]:
    require_postgres()
    workdir = tmp_path_factory.mktemp("outages")
    with running_cluster() as postgres:
        redis = RedisServer(workdir).start()
        env = server_env(
            workdir,
            DATABASE_URL=postgres.url,
            REDIS_URL=redis.url,
            SUPPORT_MAX_STREAMS_PER_CREDENTIAL="0",
        )
        workers = [LiveServer(workdir, env, uvicorn), LiveServer(workdir, env, uvicorn)]
        credentials = workers[0].prepare()
        for worker in workers:
            worker.start()
        nginx = NginxServer(workdir, [worker.port for worker in workers]).start()
        try:
            yield OutageStack(workdir, postgres, redis, workers, nginx, credentials)
        finally:
            nginx.stop()
            for worker in workers:
                worker.stop()
            redis.stop()


# -- the bot -------------------------------------------------------------------


@dataclass
class Attempt:
    began: float
    seconds: float
    status: int | str  # the HTTP status, or the transport error's name
    request_id: str = ""


@dataclass
class Bot:
    """Posts ``count`` messages at ``PACE`` with idempotency keys; retries 503s and drops."""

    stack: OutageStack
    ticket: int
    name: str
    attempts: list[Attempt] = field(default_factory=list)

    async def post_all(self, count: int) -> None:
        in_flight = asyncio.Semaphore(IN_FLIGHT)
        timeout = httpx.Timeout(30, connect=5)
        headers = auth(self.stack.credentials.bot_key)
        async with httpx.AsyncClient(base_url=self.stack.api, timeout=timeout) as http:

            async def post(i: int) -> None:
                await asyncio.sleep(i / PACE)
                body = {"text": f"{self.name} {i}", "idempotency_key": f"{self.name}-{i}"}
                async with in_flight:
                    while True:
                        began = time.monotonic()
                        try:
                            response = await http.post(
                                f"tickets/{self.ticket}/messages/", json=body, headers=headers
                            )
                        except httpx.TransportError as error:
                            self.attempts.append(Attempt(began, time.monotonic() - began,
                                                         type(error).__name__))  # fmt: skip
                        else:
                            rid = response.headers.get("X-Request-ID", "")
                            self.attempts.append(
                                Attempt(began, time.monotonic() - began, response.status_code, rid)
                            )
                            if response.is_success:
                                return
                        await asyncio.sleep(RETRY_DELAY)

            await asyncio.gather(*(post(i) for i in range(count)))


# -- the listeners -----------------------------------------------------------------


async def raw_websocket(stack: OutageStack, token: str, after: str, out: list[str]) -> None:
    """Resumes after the last event it got; never drops a repeat (the server must not send one)."""
    ws_url = stack.nginx.ws_url
    while True:
        cursor = out[-1] if out else after
        with contextlib.suppress(OSError, websockets.WebSocketException):
            async with websockets.connect(
                f"{ws_url}?after={cursor}", additional_headers=auth(token), open_timeout=10
            ) as ws:
                async for frame in ws:
                    data = json.loads(frame)
                    if "event_id" in data:
                        out.append(data["event_id"])
        await asyncio.sleep(0.5)


async def raw_sse(stack: OutageStack, token: str, after: str, out: list[str]) -> None:
    url = f"{stack.api}events/stream/"
    async with httpx.AsyncClient(timeout=httpx.Timeout(60, connect=5)) as http:
        while True:
            headers = {**auth(token), "Last-Event-ID": out[-1] if out else after}
            with contextlib.suppress(httpx.HTTPError):
                async with http.stream("GET", url, headers=headers) as response:
                    if response.status_code == 200:
                        fields: dict[str, str] = {}
                        async for line in response.aiter_lines():
                            if line:
                                name, _sep, value = line.partition(":")
                                fields[name] = value.strip()
                                continue
                            if fields.get("event") == "stream-error":
                                break
                            if fields.get("id", "").startswith("support:"):
                                out.append(fields["id"])
                            fields = {}
            await asyncio.sleep(0.5)


async def raw_longpoll(stack: OutageStack, token: str, after: str, out: list[str]) -> None:
    async with httpx.AsyncClient(base_url=stack.api, timeout=httpx.Timeout(40, connect=5)) as http:
        cursor = after
        while True:
            with contextlib.suppress(httpx.HTTPError, ValueError):
                params: dict[str, str | int] = {"after": cursor, "timeout": 10}
                response = await http.get("events/", params=params, headers=auth(token))
                if response.status_code == 200:
                    page = response.json()
                    out.extend(event["event_id"] for event in page["events"])
                    cursor = page["cursor"]
                    continue
            await asyncio.sleep(0.5)


class Followed(list[str]):
    """The event ids a listener got, in order; an SDK listener's stream (its transport)."""

    transport = ""


def sdk_follower(transport: TransportName) -> Follower:
    async def follow(stack: OutageStack, token: str, after: str, out: list[str]) -> None:
        async with AsyncSupportClient(stack.api, token=token) as desk:
            stream = desk.events.stream(after=after, transport=transport)
            async for event in stream:
                out.append(event.event_id)
                if isinstance(out, Followed):
                    out.transport = stream.transport

    return follow


Follower = Callable[[OutageStack, str, str, list[str]], Awaitable[None]]
LISTENERS: dict[str, Follower] = {
    "raw websocket": raw_websocket,
    "raw sse": raw_sse,
    "raw long-poll": raw_longpoll,
    "sdk websocket": sdk_follower("websocket"),
    "sdk sse": sdk_follower("sse"),
    "sdk long-poll": sdk_follower("longpoll"),
    "sdk auto": sdk_follower("auto"),
    "sdk auto 2": sdk_follower("auto"),
    "sdk auto 3": sdk_follower("auto"),
}


async def until_answered(
    call: Callable[[], Awaitable[httpx.Response]], within: float
) -> httpx.Response:
    """*call* until it answers 200 (setting up, and reading, around an outage)."""
    deadline = time.monotonic() + within
    while True:
        with contextlib.suppress(httpx.HTTPError):
            response = await call()
            if response.status_code == 200:
                return response
        if time.monotonic() > deadline:
            raise AssertionError(f"no answer within {within}s")
        await asyncio.sleep(0.2)


async def logged_after(stack: OutageStack, after: str) -> list[str]:
    token = stack.credentials.managers[0]
    ids: list[str] = []
    async with httpx.AsyncClient(base_url=stack.api, timeout=30) as http:
        while True:
            read = functools.partial(
                http.get, "events/", params={"after": after, "timeout": 0}, headers=auth(token)
            )
            page = (await until_answered(read, 30)).json()
            if not page["events"]:
                return ids
            ids += [event["event_id"] for event in page["events"]]
            after = page["cursor"]


@dataclass
class Outcome:
    bot: Bot
    back: float  # when PostgreSQL accepted connections again (the monotonic clock)
    received: dict[str, Followed]
    logged: list[str]
    transports: dict[str, str]


async def burst_through(
    stack: OutageStack, name: str, count: int, outage: Callable[[], None]
) -> Outcome:
    """The bot posts *count* messages; *outage* runs in a thread two seconds in."""
    bot_key, token = stack.credentials.bot_key, stack.credentials.managers[1]
    async with httpx.AsyncClient(base_url=stack.api, timeout=30) as http:
        ticket = (await http.post("tickets/", json={"user_id": 7000 + len(name), "title": name},
                                  headers=auth(bot_key))).json()["id"]  # fmt: skip
        start = (await http.get("events/", headers=auth(token))).json()["cursor"]
    received = {listener: Followed() for listener in LISTENERS}
    tasks = [
        asyncio.ensure_future(follow(stack, token, start, received[listener]))
        for listener, follow in LISTENERS.items()
    ]
    try:
        await asyncio.sleep(2)  # every listener connected
        bot = Bot(stack, ticket, name)
        posting = asyncio.ensure_future(bot.post_all(count))
        await asyncio.sleep(2)
        began = time.monotonic()
        await asyncio.to_thread(outage)
        back = time.monotonic()
        print(f"\n{name}: PostgreSQL away for {back - began:.1f}s")
        await asyncio.wait_for(posting, 120)
        logged = await logged_after(stack, start)
        deadline = time.monotonic() + 60
        while any(len(ids) < len(logged) for ids in received.values()):
            assert time.monotonic() < deadline, {k: len(v) for k, v in received.items()}
            await asyncio.sleep(0.2)
        transports = {listener: ids.transport for listener, ids in received.items()}
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return Outcome(bot, back, received, logged, transports)


def check(stack: OutageStack, outcome: Outcome, count: int) -> None:
    attempts = outcome.bot.attempts
    statuses = sorted({str(a.status) for a in attempts})
    busy = [a for a in attempts if a.status == 503]
    after_back = [a for a in attempts if a.began > outcome.back]
    slowest = max(a.seconds for a in attempts)
    print(
        f"{outcome.bot.name}: {len(attempts)} posts for {count} messages, statuses {statuses}, "
        f"{len(busy)} answered 503, slowest answer {slowest:.2f}s, "
        f"{len(after_back)} posted after PostgreSQL was back, "
        f"{len(outcome.logged)} events followed by {len(outcome.received)} listeners"
    )
    assert set(statuses) <= {"200", "201", "503"}, statuses
    assert slowest < BOUND, slowest
    assert after_back
    assert all(a.status in (200, 201) for a in after_back)
    # Each 503 was logged once, as a warning, by the request id it carried.
    logs = stack.logs()
    logged_ids = REQUEST_ID.findall(logs)
    for attempt in busy:
        assert logged_ids.count(attempt.request_id) == 1, attempt
    assert "Traceback" not in logs, logs[logs.index("Traceback") - 500 :][:3000]
    # Each message was stored once; each listener holds the log, in order, each event once.
    assert len(outcome.logged) == count
    assert outcome.logged == sorted(set(outcome.logged), key=lambda e: int(e.split(":")[1]))
    for listener, ids in outcome.received.items():
        assert ids == outcome.logged, listener
    for listener, transport in outcome.transports.items():
        if listener.startswith("sdk auto"):
            assert transport == "websocket", listener


async def stored_texts(stack: OutageStack, ticket: int) -> list[str]:
    async with httpx.AsyncClient(base_url=stack.api, timeout=30) as http:
        response = await http.get(
            f"tickets/{ticket}/messages/", headers=auth(stack.credentials.bot_key)
        )
    return [message["text"] for message in response.json()]


async def test_postgres_restarted_mid_burst(outage_stack: OutageStack) -> None:
    outcome = await burst_through(outage_stack, "restart", 600, outage_stack.postgres.restart)
    check(outage_stack, outcome, 600)
    texts = await stored_texts(outage_stack, outcome.bot.ticket)
    assert sorted(texts) == sorted(f"restart {i}" for i in range(600))


async def test_postgres_stopped_for_ten_seconds_mid_burst(outage_stack: OutageStack) -> None:
    def stop_for_ten_seconds() -> None:
        outage_stack.postgres.stop()
        time.sleep(10)
        outage_stack.postgres.start()

    outcome = await burst_through(outage_stack, "stop", 1000, stop_for_ten_seconds)
    check(outage_stack, outcome, 1000)
    texts = await stored_texts(outage_stack, outcome.bot.ticket)
    assert sorted(texts) == sorted(f"stop {i}" for i in range(1000))


async def test_sdk_auto_streams_are_back_on_websocket_after_both_workers_restart(
    outage_stack: OutageStack,
) -> None:
    credentials = outage_stack.credentials
    async with (
        AsyncSupportClient(outage_stack.api, api_key=credentials.bot_key, max_retries=10) as bot,
        AsyncSupportClient(outage_stack.api, token=credentials.managers[2]) as desk,
    ):
        start = (await desk.events.poll()).cursor
        streams = [desk.events.stream(after=start, transport="auto") for _ in range(4)]
        received: list[list[str]] = [[] for _ in streams]

        async def follow(n: int) -> None:
            async for event in streams[n]:
                received[n].append(event.event_id)

        tasks = [asyncio.ensure_future(follow(n)) for n in range(len(streams))]
        ticket = await bot.tickets.create(user_id=7100, title="restart", text="before")

        async def everyone_has(count: int, within: float) -> None:
            deadline = time.monotonic() + within
            while any(len(ids) < count for ids in received):
                assert time.monotonic() < deadline, [len(ids) for ids in received]
                await asyncio.sleep(0.1)

        await everyone_has(2, 30)
        assert [stream.transport for stream in streams] == ["websocket"] * 4
        for worker in outage_stack.workers:
            worker.stop()
        await asyncio.sleep(3)
        for worker in outage_stack.workers:
            worker.start()
        restarted = time.monotonic()
        await bot.messages.send(ticket.id, "after the restart")
        await everyone_has(3, 60)
        on_websocket = time.monotonic() - restarted
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        logged = [e.event_id for e in (await desk.events.poll(after=start, timeout=0)).events]
    print(f"\nworkers restarted: every auto stream had the next event on WebSocket after "
          f"{on_websocket:.1f}s")  # fmt: skip
    assert [stream.transport for stream in streams] == ["websocket"] * 4
    assert on_websocket < 60
    assert all(ids == logged for ids in received)


# -- huge frames ---------------------------------------------------------------------

FRAME = 16_000_000


def open_websocket(port: int, token: str) -> socket.socket:
    """A WebSocket handshake by hand, so that frames can be written whatever the server does."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET /ws/support/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"Authorization: Token {token}\r\n\r\n".encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(4096)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def send_huge_frames(port: int, token: str, frames: int) -> int:
    """*frames* text frames of 16 MB, masked with a zero key; a new connection after the
    server ends one. The number of connections it took."""
    header = struct.pack("!BBQ", 0x81, 0x80 | 127, FRAME) + b"\0\0\0\0"
    payload = memoryview(b"x" * FRAME)
    sock, connections = None, 0
    for _ in range(frames):
        if sock is None:
            sock, connections = open_websocket(port, token), connections + 1
        try:
            sock.sendall(header)
            sock.sendall(payload)
        except OSError:  # the server refused the frame and closed
            sock.close()
            sock = None
    if sock is not None:
        sock.close()
    return connections


def peak_growth(server: ServerProcess, work: Callable[[], int]) -> tuple[int, float]:
    """What *work* returns, and how far above its idle size the server's memory went (MiB)."""
    idle = server.rss_bytes()
    peak = idle
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, server.rss_bytes())
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        result = work()
        time.sleep(1)  # what the server still reads
    finally:
        done.set()
        sampler.join()
    return result, (peak - idle) / 2**20


@pytest.fixture(scope="module")
def daphne_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[LiveServer, Credentials]]:
    with running_server(tmp_path_factory.mktemp("frames-daphne")) as live:
        yield live


@pytest.mark.parametrize("server", ["uvicorn", "daphne"])
def test_twenty_frames_of_16_mb_keep_a_worker_within_100_mb_of_idle(
    server: str, request: pytest.FixtureRequest
) -> None:
    if server == "uvicorn":
        stack: OutageStack = request.getfixturevalue("outage_stack")
        worker, token = stack.workers[0], stack.credentials.managers[0]
    else:
        worker, credentials = request.getfixturevalue("daphne_server")
        token = credentials.managers[0]
    connections, growth = peak_growth(worker, lambda: send_huge_frames(worker.port, token, 20))
    print(f"\n{server}: 20 frames of 16 MB over {connections} connections; "
          f"memory at most {growth:.1f} MiB above idle")  # fmt: skip
    assert growth < 100
    assert growth < FRAME / 2**20  # no frame was read whole
    assert worker.alive()

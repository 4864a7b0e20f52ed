"""Crowds of listeners and a bot that posts, for any :class:`~benchmarks.targets.Target`.

The poster is the bot of each target: our REST ``POST tickets/<id>/messages/``
with an ``Api-Key`` (keys rotate), the original's anonymous POST, or the
baseline's WebSocket frame. Open-loop runs stamp each message with the time
it was *due*, not the time it was sent, so a server that makes the poster
wait is charged for the wait (no coordinated omission).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from websockets.asyncio.client import ClientConnection, connect

from benchmarks.recorder import Recorder, Scanner
from benchmarks.targets import HttpPost, Target, WsPost
from benchmarks.wire import (
    HttpConnection,
    Listener,
    LongPollStats,
    SseListener,
    WebSocketListener,
    longpoll_listener,
)

#: Handshakes in flight at once while opening a crowd. Daphne drops a
#: WebSocket whose application has not accepted it within 5 s, so a burst
#: much larger than the server's accept rate is reset, not queued.
CONNECT_CONCURRENCY = 32
CONNECT_TIMEOUT = 30.0
#: Tries per listener: a refused or reset handshake is retried, as clients do.
CONNECT_TRIES = 3


@dataclass
class Crowd:
    """Open listeners of one transport, all feeding scanners of one recorder."""

    transport: str
    streams: list[Listener] = field(default_factory=list)
    polls: list[asyncio.Task[None]] = field(default_factory=list)
    scanners: list[Scanner] = field(default_factory=list)
    stats: LongPollStats = field(default_factory=LongPollStats)
    failures: int = 0
    retries: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    #: Every failed attempt by error, retried or not (refused or reset handshakes).
    attempt_errors: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.streams) + len(self.polls)

    def alive(self) -> int:
        if self.transport == "longpoll":
            return sum(1 for task in self.polls if not task.done())
        return sum(1 for stream in self.streams if not stream.closed.done())

    def rebind(self, recorder: Recorder) -> None:
        for scanner in self.scanners:
            scanner.rebind(recorder)

    async def close(self) -> None:
        for task in self.polls:
            task.cancel()
        for stream in self.streams:
            if isinstance(stream, WebSocketListener):
                stream.goodbye()
            else:
                stream.close()
        await asyncio.gather(*self.polls, return_exceptions=True)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(10):
                await asyncio.gather(*(s.closed for s in self.streams), return_exceptions=True)
        for stream in self.streams:
            stream.abort()
        self.streams.clear()
        self.polls.clear()
        self.scanners.clear()

    def _failed(self, error: BaseException, last: bool) -> None:
        name = (type(error).__name__ + (f": {error}" if str(error) else ""))[:120]
        self.attempt_errors[name] = self.attempt_errors.get(name, 0) + 1
        if last:
            self.failures += 1
            self.errors[name] = self.errors.get(name, 0) + 1


async def _open_stream(target: Target, transport: str, scanner: Scanner) -> Listener:
    loop = asyncio.get_running_loop()
    websocket = transport == "websocket"
    kind = WebSocketListener if websocket else SseListener
    path = target.ws_path if websocket else f"{target.api}events/stream/"
    listener: Listener = kind(target.port, path, target.listen_headers, scanner)
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT):
            await loop.create_connection(lambda: listener, "127.0.0.1", target.port)
            await listener.opened
    except BaseException:
        listener.abort()
        raise
    return listener


def _retrieve(task: asyncio.Task[None]) -> None:
    """A long-poll listener that died is counted by ``Crowd.alive``; don't log it twice."""
    if not task.cancelled():
        task.exception()


async def grow(
    crowd: Crowd,
    target: Target,
    recorder: Recorder,
    size: int,
    concurrency: int = CONNECT_CONCURRENCY,
    tries: int = CONNECT_TRIES,
    backoff: Callable[[int], float] = lambda attempt: 0.2 * attempt,
) -> None:
    """Open listeners until *crowd* has *size* of them (failures are counted, not raised).

    At most *concurrency* attempts are in flight; each listener tries *tries*
    times, waiting ``backoff(attempt)`` seconds before attempt number
    *attempt* (0 is the first: no wait by default).
    """
    semaphore = asyncio.Semaphore(concurrency)

    async def one() -> None:
        for attempt in range(tries):
            if attempt:
                crowd.retries += 1
            pause = backoff(attempt)
            if pause > 0:
                await asyncio.sleep(pause)
            if await _try_one(attempt == tries - 1):
                return

    async def _try_one(last: bool) -> bool:
        scanner = recorder.scanner()
        async with semaphore:
            try:
                if crowd.transport == "longpoll":
                    ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                    task = asyncio.create_task(
                        longpoll_listener(
                            target.port, target.api, target.listen_headers, scanner, ready,
                            crowd.stats,
                        )
                    )  # fmt: skip
                    try:
                        async with asyncio.timeout(CONNECT_TIMEOUT):
                            await asyncio.shield(ready)
                    except BaseException:
                        task.cancel()
                        raise
                    task.add_done_callback(_retrieve)
                    crowd.polls.append(task)
                else:
                    crowd.streams.append(await _open_stream(target, crowd.transport, scanner))
                crowd.scanners.append(scanner)
                return True
            except Exception as error:
                crowd._failed(error, last)
                return False

    await asyncio.gather(*(one() for _ in range(size - len(crowd))))


class Poster:
    """Posts benchmark messages for one target; ``post`` returns when the server answered."""

    async def open(self) -> None:
        return None

    async def post(self, text: str) -> bool:
        raise NotImplementedError

    async def close(self) -> None:
        return None


class HttpPoster(Poster):
    def __init__(self, target: Target, spec: HttpPost, connections: int) -> None:
        self._spec = spec
        self._idle: asyncio.Queue[HttpConnection] = asyncio.Queue()
        for _ in range(connections):
            self._idle.put_nowait(HttpConnection(target.port))
        self._headers = itertools.cycle(spec.headers)
        self.statuses: dict[int, int] = {}

    async def post(self, text: str) -> bool:
        connection = await self._idle.get()
        try:
            response = await connection.request(
                "POST", self._spec.path, next(self._headers), self._spec.body(text)
            )
        except (ConnectionError, asyncio.IncompleteReadError):
            self.statuses[0] = self.statuses.get(0, 0) + 1
            return False
        finally:
            self._idle.put_nowait(connection)
        self.statuses[response.status] = self.statuses.get(response.status, 0) + 1
        return response.status in (200, 201)

    async def close(self) -> None:
        while not self._idle.empty():
            self._idle.get_nowait().close()


class WsPoster(Poster):
    """A baseline's bot: frames on one WebSocket, acked in order."""

    def __init__(self, target: Target, spec: WsPost) -> None:
        self._url = f"ws://127.0.0.1:{target.port}{spec.path}"
        self._spec = spec
        self._ws: ClientConnection | None = None
        self._acks: asyncio.Queue[asyncio.Future[bool]] = asyncio.Queue()
        self._reader: asyncio.Task[None] | None = None

    async def open(self) -> None:
        self._ws = await connect(self._url, compression=None, max_queue=None)
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self._ws is not None
        async for _ack in self._ws:
            future = self._acks.get_nowait()
            if not future.done():
                future.set_result(True)

    async def post(self, text: str) -> bool:
        assert self._ws is not None
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._acks.put_nowait(future)
        await self._ws.send(self._spec.frame(text))
        return await future

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
        if self._ws is not None:
            await self._ws.close()


def poster_for(target: Target, connections: int = 1) -> Poster:
    if isinstance(target.post, WsPost):
        return WsPoster(target, target.post)
    return HttpPoster(target, target.post, connections)


@dataclass
class Pacing:
    """What an open-loop posting run achieved.

    ``issue_span`` runs from the first post to the start of the last one:
    a server that answers slowly fills the in-flight slots and stretches
    it, which lowers the achieved rate; how long the last answer took does
    not.
    """

    offered_rate: float
    count: int
    failed: int
    issue_span: float

    @property
    def achieved_rate(self) -> float:
        if self.count < 2:
            return self.offered_rate
        return (self.count - 1) / self.issue_span if self.issue_span > 0 else 0.0


async def post_paced(poster: Poster, recorder: Recorder, rate: float, in_flight: int) -> Pacing:
    """Post ``recorder.count`` messages at *rate* per second, at most *in_flight* at once.

    Message ``i`` is stamped as due at ``start + i / rate``; if the server
    holds the poster back, that wait counts in its latency.
    """
    slots = asyncio.Semaphore(in_flight)
    tasks: list[asyncio.Task[None]] = []
    failed = 0

    async def one(index: int) -> None:
        nonlocal failed
        try:
            if not await poster.post(recorder.text(index)):
                failed += 1
                recorder.post_failures += 1
                recorder.posted[index] = None
        finally:
            slots.release()

    start = last_issue = time.perf_counter()
    for index in range(recorder.count):
        due = start + index / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        await slots.acquire()
        recorder.posted[index] = due
        last_issue = time.perf_counter()
        tasks.append(asyncio.create_task(one(index)))
    await asyncio.gather(*tasks)
    return Pacing(rate, recorder.count, failed, last_issue - start)


async def drain(recorder: Recorder, grace: float) -> None:
    """Wait until every posted message reached every listener, or *grace* seconds."""
    deadline = time.perf_counter() + grace
    while recorder.delivered() < recorder.expected() and time.perf_counter() < deadline:
        await asyncio.sleep(0.02)


@dataclass
class PacedRun:
    """One open-loop posting run: its pacing, when it started, and what it cost."""

    pacing: Pacing
    start: float
    elapsed: float
    server_cpu: float
    client_cpu: float


async def run_paced(
    target: Target,
    recorder: Recorder,
    rate: float,
    in_flight: int,
    grace: float,
    on_start: Callable[[], object] | None = None,
) -> PacedRun:
    """Post at *rate*, wait up to *grace* for deliveries, and time server and client CPU.

    *on_start* is called as posting starts (to start a profiler).
    """
    poster = poster_for(target, connections=in_flight)
    await poster.open()
    gc.collect()
    cpu_before, client_before = target.server.cpu_seconds(), time.process_time()
    start = time.perf_counter()
    try:
        if on_start is not None:
            on_start()
        pacing = await post_paced(poster, recorder, rate, in_flight)
        await drain(recorder, grace)
    finally:
        elapsed = time.perf_counter() - start
        server_cpu = target.server.cpu_seconds() - cpu_before
        client_cpu = time.process_time() - client_before
        await poster.close()
    return PacedRun(pacing, start, elapsed, server_cpu, client_cpu)


async def wait_idle(target: Target, limit: float = 30.0, threshold: float = 0.1) -> float:
    """Wait until the server uses under *threshold* of a core; return the seconds waited.

    A server still working off an earlier overload would distort the next
    measurement; this waits for it, up to *limit* seconds.
    """
    start = time.perf_counter()
    while time.perf_counter() - start < limit:
        before = target.server.cpu_seconds()
        await asyncio.sleep(0.5)
        if (target.server.cpu_seconds() - before) / 0.5 < threshold:
            break
    return time.perf_counter() - start


async def warm(target: Target, transport: str, messages: int) -> None:
    """One listener and a few posts, so lazy imports and caches are in place before measuring."""
    recorder = Recorder(1, messages)
    crowd = Crowd(transport)
    await grow(crowd, target, recorder, 1)
    if not len(crowd):
        raise RuntimeError(f"{target.key}: a {transport} listener cannot connect: {crowd.errors}")
    await asyncio.sleep(0.3)
    poster = poster_for(target)
    await poster.open()
    for index in range(messages):
        recorder.posted[index] = time.perf_counter()
        await poster.post(recorder.text(index))
        await recorder.wait_all(index, 10)
    await poster.close()
    await crowd.close()

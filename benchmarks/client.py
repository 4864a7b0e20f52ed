"""The client, one process for every role: bare asyncio protocols and a long-poll loop that
cost much less than the servers, the same for each. Each posted text carries a marker
``bm<seq>z`` that every transport passes through as the same bytes."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gc
import itertools
import math
import os
import random
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import cast

from websockets.asyncio.client import ClientConnection, connect

from benchmarks.targets import HttpPost, Target, WsPost

Headers = Sequence[tuple[str, str]]
HOST = "127.0.0.1"
MARKER, CURSOR = re.compile(rb"bm(\d+)z"), re.compile(rb'"cursor":"([^"]*)"')
#: Handshakes in flight while a crowd opens: daphne drops a WebSocket it has not
#: accepted within 5 s, so a much larger burst is reset, not queued.
CONNECT_CONCURRENCY, CONNECT_TIMEOUT, CONNECT_TRIES = 32, 30.0, 3
_next_base = itertools.count(1)


class Recorder:
    """When each of *count* messages was posted (or due) and reached each listener; the
    markers are unique for the run, so a late frame never counts in a later measurement."""

    def __init__(self, listeners: int, count: int) -> None:
        self.listeners, self.count = listeners, count
        self.base = next(_next_base) * 10_000_000
        self.posted: list[float | None] = [None] * count
        self.arrivals: list[list[float]] = [[] for _ in range(count)]
        self.post_failures = 0

    def text(self, index: int) -> str:
        return f"bm{self.base + index}z benchmark message"

    async def wait_all(self, index: int, timeout: float) -> bool:
        """Wait until every listener has message *index* (polled: arrivals are stamped as
        they come); False on timeout."""
        deadline = time.perf_counter() + timeout
        while len(self.arrivals[index]) < self.listeners:
            if time.perf_counter() > deadline:
                return False
            await asyncio.sleep(0.001)
        return True

    def delivered(self) -> int:
        return sum(len(got) for got in self.arrivals)

    def expected(self) -> int:
        return self.listeners * sum(1 for sent in self.posted if sent is not None)

    def latencies(self) -> tuple[list[float], int]:
        """Every (message, listener) delay in seconds, and how many never arrived."""
        samples: list[float] = []
        missing = 0
        for sent, got in zip(self.posted, self.arrivals, strict=True):
            if sent is not None:
                samples.extend(at - sent for at in got[: self.listeners])
                missing += max(0, self.listeners - len(got))
        return samples, missing


class Scanner:
    """One listener's first receipts, as a bitmap: events may repeat or come out of order."""

    __slots__ = ("_recorder", "_seen", "_tail")

    def __init__(self, recorder: Recorder) -> None:
        self.rebind(recorder)

    def rebind(self, recorder: Recorder) -> None:
        self._recorder, self._seen, self._tail = recorder, bytearray(recorder.count), b""

    def feed(self, data: bytes) -> None:
        now = time.perf_counter()
        buf = self._tail + data if self._tail else data
        recorder, seen = self._recorder, self._seen
        end = 0
        for match in MARKER.finditer(buf):
            end = match.end()
            index = int(match[1]) - recorder.base
            if 0 <= index < recorder.count and not seen[index]:
                seen[index] = 1
                recorder.arrivals[index].append(now)
        self._tail = buf[max(end, len(buf) - 24) :]  # a marker split across reads is found


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of ascending *sorted_values* (``inf`` entries allowed)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def summarise_ms(samples: Sequence[float], missing: int = 0) -> dict[str, float]:
    """p50/p95/p99/max in ms; *missing* deliveries count as infinitely late."""
    values = sorted([s * 1000 for s in samples] + [math.inf] * missing)
    quantiles = {f"p{q}_ms": percentile(values, q) for q in (50, 95, 99)}
    return {**quantiles, "max_ms": values[-1] if values else math.nan,
            "samples": len(values), "missing": missing}  # fmt: skip


def quantiles_ms(samples: list[float], missing: int) -> list[float | None]:
    """The 0th to 100th percentiles in ms (None: lost), enough to draw a CDF."""
    values, total = sorted(s * 1000 for s in samples), len(samples) + missing
    ranks = (min(total, max(1, round(q / 100 * total))) - 1 for q in range(101 if total else 0))
    return [values[rank] if rank < len(values) else None for rank in ranks]


def _head(method: str, path: str, port: int, headers: Headers, extra: str = "") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{port}"]
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n" + extra + "\r\n").encode("latin1")


def _parse_head(raw: bytes) -> tuple[int, dict[str, str]]:
    first, *lines = raw.decode("latin1").split("\r\n")
    parts = first.split(" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        raise ConnectionError(f"bad status line: {first!r}")
    pairs = (line.partition(":") for line in lines)
    return int(parts[1]), {k.strip().lower(): v.strip() for k, sep, v in pairs if sep}


class HttpConnection:
    """One keep-alive HTTP/1.1 connection; a request that finds it closed before any byte of
    the answer (an idle keep-alive timeout) is sent once more on a new connection."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, headers: Headers = (), body: bytes | None = None,
        on_sent: Callable[[], None] | None = None, content_type: str = "application/json",
        keep: bool = True,
    ) -> tuple[int, bytes]:  # fmt: skip
        """The status and body (with not *keep*: read to the end and dropped, ``b""``)."""
        extra = "" if body is None else (
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
        )  # fmt: skip
        head = _head(method, path, self.port, headers, extra)
        for attempt in range(2):
            fresh = self._writer is None
            if self._reader is None or self._writer is None:
                self._reader, self._writer = await asyncio.open_connection(
                    HOST, self.port, limit=1 << 20
                )
            self._writer.writelines((head, body or b""))  # a file's megabytes not copied
            if on_sent is not None:
                on_sent()
            try:
                return await self._response(self._reader, keep)
            except (ConnectionError, asyncio.IncompleteReadError) as error:
                self.close()
                answered = isinstance(error, asyncio.IncompleteReadError) and error.partial
                if fresh or answered or attempt:
                    raise
        raise AssertionError("unreachable")

    async def _response(self, reader: asyncio.StreamReader, keep: bool) -> tuple[int, bytes]:
        status, headers = _parse_head(await reader.readuntil(b"\r\n\r\n"))
        if "content-length" in headers and not keep:  # a download: count, keep nothing
            body, left = b"", int(headers["content-length"])
            while left > 0:
                if not (chunk := await reader.read(min(left, 1 << 20))):
                    raise asyncio.IncompleteReadError(b"", left)
                left -= len(chunk)
        elif "content-length" in headers:
            body = await reader.readexactly(int(headers["content-length"]))
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            parts = []
            while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
                parts.append((await reader.readexactly(size + 2))[:-2])
            await reader.readexactly(2)
            body = b"".join(parts)
        else:
            body = await reader.read()
            self.close()
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, body

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


class Listener(asyncio.Protocol):
    """A stream (WebSocket or SSE): ``opened`` once the server accepts, ``closed`` at the end."""

    def __init__(self, port: int, path: str, headers: Headers, scanner: Scanner) -> None:
        loop = asyncio.get_running_loop()
        self.port, self.path, self.headers, self.scanner = port, path, headers, scanner
        self.opened: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self.transport: asyncio.Transport | None = None
        self._buf, self._streaming = bytearray(), False

    def request(self) -> bytes:
        raise NotImplementedError

    def accept(self, status: int, headers: dict[str, str]) -> None: ...
    def body(self, buf: bytearray) -> None: ...

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)
        self.transport.write(self.request())

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        if not self._streaming:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            try:
                self.accept(*_parse_head(bytes(buf[:end])))
            except ConnectionError as error:
                if not self.opened.done():
                    self.opened.set_exception(error)
                self.abort()
                return
            del buf[: end + 4]
            self._streaming = True
            if not self.opened.done():
                self.opened.set_result(None)
        if buf:
            self.body(buf)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(exc or ConnectionError("closed before the stream opened"))
        if not self.closed.done():
            self.closed.set_result(None)

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class WebSocketListener(Listener):
    """RFC 6455: unmasked server frames in, masked control frames out; closes politely."""

    def request(self) -> bytes:
        key = base64.b64encode(os.urandom(16)).decode()
        extra = "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        extra += f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        return _head("GET", self.path, self.port, self.headers, extra)

    def accept(self, status: int, headers: dict[str, str]) -> None:
        if status != 101:
            raise ConnectionError(f"WebSocket upgrade refused: {status}")

    def body(self, buf: bytearray) -> None:
        pos, size = 0, len(buf)
        while size - pos >= 2:
            length, head = buf[pos + 1] & 0x7F, 2
            if length >= 126:
                head = 4 if length == 126 else 10
                if size - pos < head:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + head], "big")
            end = pos + head + length
            if end > size:
                break
            opcode = buf[pos] & 0x0F
            if opcode <= 2:  # text, binary or continuation
                self.scanner.feed(bytes(buf[pos + head : end]))
            elif opcode == 9:  # ping: answer, or the server drops us after its timeout
                self._send(0xA, bytes(buf[pos + head : end]))
            elif opcode == 8:
                self._send(0x8, bytes(buf[pos + head : pos + head + 2]))
                super().close()
            pos = end
        del buf[:pos]

    def _send(self, opcode: int, payload: bytes) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        mask = os.urandom(4)
        masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload[:125]))
        self.transport.write(bytes((0x80 | opcode, 0x80 | len(masked))) + mask + masked)

    def close(self) -> None:
        """Close with status 1000, as a browser tab would."""
        self._send(0x8, (1000).to_bytes(2, "big"))
        super().close()


class SseListener(Listener):
    """``GET`` a ``text/event-stream``; its body de-chunked, a chunk once it is whole."""

    _chunked = False

    def request(self) -> bytes:
        extra = "Accept: text/event-stream\r\nCache-Control: no-cache\r\n"
        return _head("GET", self.path, self.port, self.headers, extra)

    def accept(self, status: int, headers: dict[str, str]) -> None:
        if status != 200 or not headers.get("content-type", "").startswith("text/event-stream"):
            raise ConnectionError(f"SSE refused: {status} {headers.get('content-type')}")
        self._chunked = "chunked" in headers.get("transfer-encoding", "").lower()

    def body(self, buf: bytearray) -> None:
        if not self._chunked:
            self.scanner.feed(bytes(buf))
            buf.clear()
        while (end := buf.find(b"\r\n")) >= 0:
            start, size = end + 2, int(bytes(buf[:end]).split(b";")[0], 16)
            if len(buf) < start + size + 2:
                return
            self.scanner.feed(bytes(buf[start : start + size]))
            del buf[: start + size + 2]


class LongPoll:
    """Polls ``events/`` from the cursor until closed, as the SDK does; ``opened`` once the
    first held request is written; ``crowd.pending`` counts the requests held."""

    def __init__(self, target: Target, scanner: Scanner, crowd: Crowd, hold: int = 30) -> None:
        self.scanner, self.crowd, self.hold = scanner, crowd, hold
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.task = self.closed = asyncio.create_task(self._poll(target))

    async def _poll(self, target: Target) -> None:
        api, headers, connection = target.api, target.listen_headers, HttpConnection(target.port)
        held = False

        def sent() -> None:
            nonlocal held
            if not held:  # a resend on a fresh connection is the same poll
                held = True
                self.crowd.pending += 1
            if not self.opened.done():
                self.opened.set_result(None)

        try:
            status, body = await connection.request("GET", f"{api}events/", headers)
            if status != 200:
                raise ConnectionError(f"long-poll refused: {status}")
            match = CURSOR.search(body)
            assert match is not None, body[:200]
            cursor = match[1].decode()
            while True:
                try:
                    url = f"{api}events/?after={cursor}&timeout={self.hold}"
                    status, body = await connection.request("GET", url, headers, on_sent=sent)
                finally:
                    if held:
                        held = False
                        self.crowd.pending -= 1
                if status != 200:
                    await asyncio.sleep(0.5)
                    continue
                self.scanner.feed(body)
                if found := CURSOR.findall(body):
                    cursor = found[-1].decode()
        except Exception as error:
            if not self.opened.done():
                self.opened.set_exception(error)
        finally:
            connection.close()

    def close(self) -> None:
        self.task.cancel()

    abort = close


@dataclass
class Crowd:
    """Open listeners of one transport, and what failed while opening them."""

    transport: str
    streams: list[Listener | LongPoll] = field(default_factory=list)
    pending: int = 0  # long-polls the server is holding right now
    failures: int = 0
    retries: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    attempt_errors: dict[str, int] = field(default_factory=dict)  # every failed attempt

    def __len__(self) -> int:
        return len(self.streams)

    def alive(self) -> int:
        return sum(1 for stream in self.streams if not stream.closed.done())

    def rebind(self, recorder: Recorder) -> None:
        for stream in self.streams:
            stream.scanner.rebind(recorder)

    async def close(self) -> None:
        for stream in self.streams:
            stream.close()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(10):
                await asyncio.gather(*(s.closed for s in self.streams), return_exceptions=True)
        for stream in self.streams:
            stream.abort()
        self.streams.clear()

    async def open_one(self, target: Target, recorder: Recorder) -> None:
        """Open one more listener, or raise."""
        scanner = Scanner(recorder)
        listener: Listener | LongPoll
        if self.transport == "longpoll":
            listener = LongPoll(target, scanner, self)
        elif self.transport == "websocket":
            path, headers = target.ws_path, target.listen_headers
            listener = WebSocketListener(target.port, path, headers, scanner)
        else:
            path = f"{target.api}events/stream/"
            listener = SseListener(target.port, path, target.listen_headers, scanner)
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                if isinstance(listener, Listener):
                    loop = asyncio.get_running_loop()
                    await loop.create_connection(lambda: listener, HOST, target.port)
                await listener.opened
        except BaseException:
            listener.abort()
            raise
        self.streams.append(listener)


async def grow(
    crowd: Crowd, target: Target, recorder: Recorder, size: int,
    concurrency: int = CONNECT_CONCURRENCY, tries: int = CONNECT_TRIES,
    backoff: Callable[[int], float] = lambda attempt: 0.2 * attempt,
) -> None:  # fmt: skip
    """Open listeners until *crowd* has *size* (failures counted, not raised), *concurrency*
    attempts in flight, each listener *tries* times after ``backoff(attempt)`` seconds."""
    semaphore = asyncio.Semaphore(concurrency)

    async def one() -> None:
        for attempt in range(tries):
            crowd.retries += 1 if attempt else 0
            if (pause := backoff(attempt)) > 0:
                await asyncio.sleep(pause)
            async with semaphore:
                try:
                    return await crowd.open_one(target, recorder)
                except Exception as error:
                    name = (type(error).__name__ + (f": {error}" if str(error) else ""))[:120]
                    crowd.attempt_errors[name] = crowd.attempt_errors.get(name, 0) + 1
                    if attempt == tries - 1:
                        crowd.failures += 1
                        crowd.errors[name] = crowd.errors.get(name, 0) + 1

    await asyncio.gather(*(one() for _ in range(size - len(crowd))))


def console_pause(attempt: int) -> float:
    """The manager console's pause before reconnect attempt *attempt* (0: the first)."""
    return min(10.0, 0.5 * 2.0 ** min(attempt, 5)) * (0.5 + random.random() / 2)


class HttpPoster:
    """A bot's REST posts over *connections* keep-alive connections, credentials rotated."""

    def __init__(self, target: Target, spec: HttpPost, connections: int = 1) -> None:
        self._spec, self._headers = spec, itertools.cycle(spec.headers)
        self._idle: asyncio.Queue[HttpConnection] = asyncio.Queue()
        for _ in range(connections):
            self._idle.put_nowait(HttpConnection(target.port))
        self.statuses: dict[int, int] = {}
        self.last = b""  # the last answer's body

    async def post(self, text: str) -> bool:
        connection = await self._idle.get()
        try:
            spec, headers, get = self._spec, next(self._headers), self._spec.method == "GET"
            body = None if get else spec.body(text)
            request = (spec.method, spec.path, headers, body, None, spec.content_type, not get)
            status, self.last = await connection.request(*request)
        except (ConnectionError, asyncio.IncompleteReadError):
            status = 0
        finally:
            self._idle.put_nowait(connection)
        self.statuses[status] = self.statuses.get(status, 0) + 1
        return status in (200, 201)

    async def close(self) -> None:
        while not self._idle.empty():
            self._idle.get_nowait().close()


class WsPoster:
    """A baseline's bot: frames on one WebSocket, acked in order."""

    def __init__(self, ws: ClientConnection, spec: WsPost) -> None:
        self._ws, self._spec = ws, spec
        self._acks: asyncio.Queue[asyncio.Future[bool]] = asyncio.Queue()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for _ack in self._ws:
            future = self._acks.get_nowait()
            if not future.done():
                future.set_result(True)

    async def post(self, text: str) -> bool:
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._acks.put_nowait(future)
        await self._ws.send(self._spec.frame(text))
        return await future

    async def close(self) -> None:
        self._reader.cancel()
        await self._ws.close()


async def poster_for(target: Target, connections: int = 1) -> HttpPoster | WsPoster:
    """The target's bot, ready to post."""
    if not isinstance(target.post, WsPost):
        return HttpPoster(target, target.post, connections)
    url = f"ws://{HOST}:{target.port}{target.post.path}"
    return WsPoster(await connect(url, compression=None, max_queue=None), target.post)


async def post_timed(
    target: Target, recorder: Recorder, messages: int, wait: float, gap: float = 0.0,
    deadline: float = math.inf,
) -> list[float]:  # fmt: skip
    """Post one message at a time, each *gap* s after the last reached every listener (or *wait*
    s), none past *deadline* after 3; each post's round trip (refusals: ``post_failures``)."""
    poster, times = await poster_for(target), list[float]()
    for index in range(messages):
        if index >= 3 and time.perf_counter() > deadline:
            break
        sent = recorder.posted[index] = time.perf_counter()
        ok = await poster.post(recorder.text(index))
        times.append(time.perf_counter() - sent)
        if not ok:
            recorder.posted[index] = None
            recorder.post_failures += 1
            continue
        await recorder.wait_all(index, wait)
        await asyncio.sleep(gap)
    await poster.close()
    return times


async def run_paced(
    target: Target, recorder: Recorder, rate: float, in_flight: int, grace: float
) -> tuple[dict[str, float], float]:
    """Post ``recorder.count`` messages at *rate*/s, at most *in_flight* at once, then wait up
    to *grace* s for deliveries; what it achieved (the rate runs from the first post to the
    start of the last: a server slow to answer fills the slots in flight), and its start."""
    poster = await poster_for(target, connections=in_flight)
    slots = asyncio.Semaphore(in_flight)
    tasks: list[asyncio.Task[None]] = []

    async def one(index: int) -> None:
        try:
            if not await poster.post(recorder.text(index)):
                recorder.post_failures += 1
                recorder.posted[index] = None
        finally:
            slots.release()

    gc.collect()
    cpu_before, client_before = target.server.cpu_seconds(), time.process_time()
    start = last_issue = time.perf_counter()
    try:
        for index in range(recorder.count):
            due = start + index / rate
            if (delay := due - time.perf_counter()) > 0:
                await asyncio.sleep(delay)
            await slots.acquire()
            recorder.posted[index] = due
            last_issue = time.perf_counter()
            tasks.append(asyncio.create_task(one(index)))
        await asyncio.gather(*tasks)
        span, count = last_issue - start, recorder.count
        achieved = rate if count < 2 else (count - 1) / span if span > 0 else 0.0
        await drain(recorder, grace)
    finally:
        elapsed = time.perf_counter() - start
        server_cpu = target.server.cpu_seconds() - cpu_before
        client_cpu = time.process_time() - client_before
        await poster.close()
    return {"achieved_rate": achieved, "post_failures": recorder.post_failures,
            "server_cpu_share": server_cpu / elapsed,
            "client_cpu_share": client_cpu / elapsed}, start  # fmt: skip


async def drain(recorder: Recorder, grace: float) -> None:
    """Wait until every posted message reached every listener, or *grace* seconds."""
    deadline = time.perf_counter() + grace
    while recorder.delivered() < recorder.expected() and time.perf_counter() < deadline:
        await asyncio.sleep(0.02)


async def wait_idle(target: Target, limit: float = 30.0, threshold: float = 0.1) -> float:
    """Wait (up to *limit* s) until the server uses under *threshold* of a core."""
    start = time.perf_counter()
    while time.perf_counter() - start < limit:
        before = target.server.cpu_seconds()
        await asyncio.sleep(0.5)
        if (target.server.cpu_seconds() - before) / 0.5 < threshold:
            break
    return time.perf_counter() - start


async def warm(target: Target, transport: str, messages: int) -> None:
    """One listener and a few posts, so lazy imports and caches are in place."""
    recorder, crowd = Recorder(1, messages), Crowd(transport)
    await grow(crowd, target, recorder, 1)
    if not len(crowd):
        raise RuntimeError(f"{target.key}: a {transport} listener cannot connect: {crowd.errors}")
    await asyncio.sleep(0.3)
    await post_timed(target, recorder, messages, 10)
    await crowd.close()

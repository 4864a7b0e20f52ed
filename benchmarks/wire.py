"""Lean loopback clients: HTTP/1.1, WebSocket, SSE and long-poll listeners.

Why not httpx and the ``websockets`` client? A benchmark of a server needs a
client that is much cheaper than the server, on a machine with two cores:
1,000 listeners at 100 messages/s is 100,000 frames a second to parse, and
10,000 idle connections must fit in one process. These clients do the least
a real client must (handshake, de-chunking, WebSocket framing, answering
pings so the server does not drop us) and hand each payload to a
:class:`~benchmarks.recorder.Scanner`, which finds the benchmark's markers
with one regular expression. The same clients drive every server measured,
so whatever they cost is the same for our app and for the baselines.
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import cast

from benchmarks.recorder import Scanner

Headers = Sequence[tuple[str, str]]
HOST = "127.0.0.1"
_CURSOR = re.compile(rb'"cursor":"([^"]*)"')


class HandshakeError(ConnectionError):
    """The server answered the upgrade or the stream request with something else."""


def _head(method: str, path: str, port: int, headers: Headers, extra: str = "") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{port}"]
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n" + extra + "\r\n").encode("latin1")


def _parse_head(raw: bytes) -> tuple[int, dict[str, str]]:
    lines = raw.decode("latin1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        raise HandshakeError(f"bad status line: {lines[0]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return int(parts[1]), headers


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


class HttpConnection:
    """One keep-alive HTTP/1.1 connection; requests on it go one at a time.

    A request that finds the connection closed by the server before any
    byte of the answer (an idle keep-alive timeout) is sent again once on a
    new connection.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(
        self,
        method: str,
        path: str,
        headers: Headers = (),
        body: bytes | None = None,
        on_sent: Callable[[], None] | None = None,
    ) -> Response:
        extra = ""
        if body is not None:
            extra = f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        payload = _head(method, path, self.port, headers, extra) + (body or b"")
        for attempt in range(2):
            fresh = self._writer is None
            if fresh:
                self._reader, self._writer = await asyncio.open_connection(
                    HOST, self.port, limit=1 << 20
                )
            assert self._reader is not None
            assert self._writer is not None
            self._writer.write(payload)
            if on_sent is not None:
                on_sent()
            try:
                return await self._read_response(self._reader)
            except (ConnectionError, asyncio.IncompleteReadError) as error:
                self.close()
                answered = isinstance(error, asyncio.IncompleteReadError) and error.partial
                if fresh or answered or attempt:
                    raise
        raise AssertionError("unreachable")

    async def _read_response(self, reader: asyncio.StreamReader) -> Response:
        status, headers = _parse_head(await reader.readuntil(b"\r\n\r\n"))
        if "content-length" in headers:
            body = await reader.readexactly(int(headers["content-length"]))
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            parts = []
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                parts.append(await reader.readexactly(size + 2))
                if size == 0:
                    break
            body = b"".join(part[:-2] for part in parts)
        else:
            body = await reader.read()
            self.close()
        if headers.get("connection", "").lower() == "close":
            self.close()
        return Response(status, headers, body)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


class _Dechunker:
    """Incremental decoder of ``Transfer-Encoding: chunked`` bodies."""

    def __init__(self, sink: Callable[[bytes], None]) -> None:
        self._sink = sink
        self._buf = bytearray()
        self._remaining = 0
        self._state = "size"

    def feed(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        while buf:
            if self._state == "size":
                end = buf.find(b"\r\n")
                if end < 0:
                    return
                self._remaining = int(bytes(buf[:end]).split(b";")[0], 16)
                del buf[: end + 2]
                self._state = "data" if self._remaining else "done"
            elif self._state == "data":
                take = min(self._remaining, len(buf))
                self._sink(bytes(buf[:take]))
                del buf[:take]
                self._remaining -= take
                if not self._remaining:
                    self._state = "crlf"
            elif self._state == "crlf":
                if len(buf) < 2:
                    return
                del buf[:2]
                self._state = "size"
            else:
                buf.clear()


class Listener(asyncio.Protocol):
    """A streaming listener (WebSocket or SSE) as a bare asyncio protocol.

    It ``GET``s *path* on *port* with *headers*. ``opened`` resolves when the
    server accepted the stream (``101`` or ``200``); ``closed`` when the
    connection ends.
    """

    def __init__(self, port: int, path: str, headers: Headers, scanner: Scanner) -> None:
        loop = asyncio.get_running_loop()
        self.port, self.path, self.headers = port, path, headers
        self.scanner = scanner
        self.opened: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self.transport: asyncio.Transport | None = None
        self._buf = bytearray()
        self._streaming = False

    def request(self) -> bytes:
        raise NotImplementedError

    def accept(self, status: int, headers: dict[str, str]) -> None:
        raise NotImplementedError

    def body(self, data: bytearray) -> None:
        raise NotImplementedError

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
                status, headers = _parse_head(bytes(buf[:end]))
                self.accept(status, headers)
            except HandshakeError as error:
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
    """RFC 6455 client: unmasked server frames in, masked control frames out."""

    def request(self) -> bytes:
        key = base64.b64encode(os.urandom(16)).decode()
        extra = (
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        )
        return _head("GET", self.path, self.port, self.headers, extra)

    def accept(self, status: int, headers: dict[str, str]) -> None:
        if status != 101:
            raise HandshakeError(f"WebSocket upgrade refused: {status}")

    def body(self, buf: bytearray) -> None:
        pos, size = 0, len(buf)
        while size - pos >= 2:
            length = buf[pos + 1] & 0x7F
            head = 2
            if length == 126:
                if size - pos < 4:
                    break
                length, head = int.from_bytes(buf[pos + 2 : pos + 4], "big"), 4
            elif length == 127:
                if size - pos < 10:
                    break
                length, head = int.from_bytes(buf[pos + 2 : pos + 10], "big"), 10
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
                self.close()
            pos = end
        if pos:
            del buf[:pos]

    def _send(self, opcode: int, payload: bytes) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        mask = os.urandom(4)
        masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload[:125]))
        self.transport.write(bytes((0x80 | opcode, 0x80 | len(masked))) + mask + masked)

    def goodbye(self) -> None:
        """Close politely (status 1000), as a browser tab would."""
        self._send(0x8, (1000).to_bytes(2, "big"))
        self.close()


class SseListener(Listener):
    """``GET`` a ``text/event-stream`` and scan the de-chunked body."""

    def __init__(self, port: int, path: str, headers: Headers, scanner: Scanner) -> None:
        super().__init__(port, path, headers, scanner)
        self._dechunker: _Dechunker | None = None

    def request(self) -> bytes:
        extra = "Accept: text/event-stream\r\nCache-Control: no-cache\r\n"
        return _head("GET", self.path, self.port, self.headers, extra)

    def accept(self, status: int, headers: dict[str, str]) -> None:
        if status != 200 or not headers.get("content-type", "").startswith("text/event-stream"):
            raise HandshakeError(f"SSE refused: {status} {headers.get('content-type')}")
        if "chunked" in headers.get("transfer-encoding", "").lower():
            self._dechunker = _Dechunker(self.scanner.feed)

    def body(self, buf: bytearray) -> None:
        data = bytes(buf)
        buf.clear()
        if self._dechunker is not None:
            self._dechunker.feed(data)
        else:
            self.scanner.feed(data)


@dataclass
class LongPollStats:
    """How many long-polls the server is holding right now."""

    pending: int = 0


async def longpoll_listener(
    port: int,
    api: str,
    headers: Headers,
    scanner: Scanner,
    ready: asyncio.Future[None],
    stats: LongPollStats,
    hold: int = 30,
) -> None:
    """Poll ``events/`` forever from the current cursor, as the SDK's long-poll does.

    *ready* resolves once the first held request (``?after=…&timeout=…``)
    has been written; the task runs until cancelled.
    """
    connection = HttpConnection(port)
    try:
        first = await connection.request("GET", f"{api}events/", headers)
        if first.status != 200:
            raise HandshakeError(f"long-poll refused: {first.status}")
        match = _CURSOR.search(first.body)
        assert match is not None, first.body[:200]
        cursor = match[1].decode()

        held = False

        def sent() -> None:
            nonlocal held
            if not held:  # a resend on a fresh connection is the same poll
                held = True
                stats.pending += 1
            if not ready.done():
                ready.set_result(None)

        while True:
            try:
                response = await connection.request(
                    "GET", f"{api}events/?after={cursor}&timeout={hold}", headers, on_sent=sent
                )
            finally:
                if held:
                    held = False
                    stats.pending -= 1
            if response.status != 200:
                await asyncio.sleep(0.5)
                continue
            scanner.feed(response.body)
            found = _CURSOR.findall(response.body)
            if found:
                cursor = found[-1].decode()
    except asyncio.CancelledError:
        raise
    except Exception as error:
        if not ready.done():
            ready.set_exception(error)
        raise
    finally:
        connection.close()

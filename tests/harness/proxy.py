"""A tiny HTTP proxy on loopback that misbehaves the way corporate proxies do.

Modes:

* ``"pass"``: forwards everything, WebSocket upgrades included, streaming;
* ``"refuse-upgrade"``: answers any ``Upgrade`` request with ``403``;
* ``"buffer"``: refuses upgrades too, and holds every response back until
  the server has sent all of it (a stream never arrives; a long-poll does).

One request per connection (it adds ``Connection: close``), which is all
the tests need. It runs on its own event loop in a thread, so sync and async
tests can both use it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Literal

Mode = Literal["pass", "refuse-upgrade", "buffer"]
_FORBIDDEN = (
    b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 24\r\n"
    b"Connection: close\r\n\r\nWebSocket not allowed.\r\n"
)


def _with_connection_close(head: bytes) -> bytes:
    lines = head.split(b"\r\n")
    kept = [line for line in lines[1:] if line and not line.lower().startswith(b"connection:")]
    return b"\r\n".join([lines[0], *kept, b"Connection: close", b"", b""])


class Proxy:
    def __init__(self, upstream_port: int, mode: Mode = "pass") -> None:
        self.upstream_port = upstream_port
        self.mode: Mode = mode
        self.port = 0
        self.refused_upgrades = 0
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Proxy:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        future.result(10)
        return self

    def stop(self) -> None:
        async def shutdown() -> None:
            # Cancelled handlers must run to their ``finally`` (which closes
            # both sockets) before the loop stops: a task destroyed pending
            # leaves its writers unclosed, and pytest reports the
            # ResourceWarning as a failure of whichever test is running.
            if self._server is not None:
                self._server.close()
            handlers = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in handlers:
                task.cancel()
            if handlers:
                await asyncio.wait(handlers, timeout=5)
            await asyncio.sleep(0)  # let the closed transports release their sockets

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            upgrade = b"\r\nupgrade:" in head.lower()
            if upgrade and self.mode != "pass":
                self.refused_upgrades += 1
                writer.write(_FORBIDDEN)
                await writer.drain()
                return
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            body = await reader.readexactly(length) if length else b""
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
            try:
                up_writer.write((head if upgrade else _with_connection_close(head)) + body)
                await up_writer.drain()
                if upgrade:
                    await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
                    return
                response_head = await up_reader.readuntil(b"\r\n\r\n")
                if self.mode == "buffer":
                    rest = await up_reader.read()  # until the server closes
                    writer.write(_with_connection_close(response_head) + rest)
                    await writer.drain()
                else:
                    writer.write(_with_connection_close(response_head))
                    await _pipe(up_reader, writer)
            finally:
                up_writer.close()
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            with contextlib.suppress(OSError):
                writer.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            writer.write_eof()

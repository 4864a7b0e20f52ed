"""``transport="auto"``: a proxy that refuses WebSocket, or a server that is down?

A refused upgrade (a 4xx, an answer that is no WebSocket, an upgrade that
never completes) moves the stream down to SSE; a server that is down or
restarting (a 5xx from the proxy, a refused, closed or reset connection) is
waited for on WebSocket. A stream that moved down tries WebSocket again after
``STREAM_WEBSOCKET_RETRY`` seconds, twice as long after each refusal, and
never repeats an event. Real sockets on 127.0.0.1 play the servers.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from support_client import APIConnectionError, AsyncSupportClient
from support_client import _constants as C
from support_client._streaming import AsyncEventStream, TransportUnusable
from support_client.types.events import Event, parse_event


async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, how: str) -> None:
    await reader.readuntil(b"\r\n\r\n")  # the upgrade request
    if how == "silent":
        await asyncio.sleep(30)
    elif how == "close":
        pass  # closed by the handler
    elif how == "reset":
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()
    else:
        status = {"200": "200 OK", "403": "403 Forbidden", "404": "404 Not Found",
                  "502": "502 Bad Gateway", "503": "503 Service Unavailable"}[how]  # fmt: skip
        writer.write(f"HTTP/1.1 {status}\r\nContent-Length: 2\r\n\r\nno".encode())
        await writer.drain()


@contextlib.asynccontextmanager
async def upgrade_answered(how: str) -> AsyncIterator[int]:
    """A port on 127.0.0.1 whose server answers every upgrade as *how* says."""
    if how == "refused":  # nothing listens there
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            yield sock.getsockname()[1]
        return
    handlers: set[asyncio.Task[None]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handlers.add(asyncio.current_task())  # type: ignore[arg-type]
        try:
            await answer(reader, writer, how)
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1]
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)


@pytest.mark.parametrize(
    ("how", "meaning"),
    [
        ("403", TransportUnusable),  # a proxy that refuses WebSocket
        ("404", TransportUnusable),
        ("200", TransportUnusable),  # a proxy that answers the upgrade as a page
        ("silent", TransportUnusable),  # a proxy that holds the upgrade
        ("502", APIConnectionError),  # nginx while every worker restarts
        ("503", APIConnectionError),
        ("refused", APIConnectionError),  # the server is down
        ("close", APIConnectionError),  # closed before any answer: the server went away
        ("reset", APIConnectionError),
    ],
)
async def test_a_refused_upgrade_is_read_as_the_proxy_or_the_server(
    how: str, meaning: type[Exception]
) -> None:
    async with (
        upgrade_answered(how) as port,
        AsyncSupportClient(f"http://127.0.0.1:{port}/support/", token="t") as client,
    ):
        stream = client.events.stream(after="support:0", first_byte_timeout=0.1)
        assert isinstance(stream, AsyncEventStream)
        began = time.monotonic()
        with pytest.raises(meaning):
            await anext(stream._websocket())
        assert time.monotonic() - began < 10


def event(position: int) -> Event:
    return parse_event({"type": "ticket.resolved", "id": 1, "event_id": f"support:{position}"})


async def test_a_stream_that_moved_down_tries_websocket_again_with_backoff(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(C, "STREAM_WEBSOCKET_RETRY", 0.2)
    async with AsyncSupportClient("http://127.0.0.1:9/support/", token="t") as client:
        stream = client.events.stream(after="support:0")
        assert isinstance(stream, AsyncEventStream)
        opened: list[tuple[str, float]] = []
        websocket_allowed = asyncio.Event()

        async def websocket() -> AsyncIterator[Event]:
            opened.append(("websocket", time.monotonic()))
            if not websocket_allowed.is_set():
                raise TransportUnusable("refused")
            stream._websocket_works()
            yield event(3)
            await asyncio.sleep(60)

        async def sse() -> AsyncIterator[Event]:
            opened.append(("sse", time.monotonic()))
            for position in (1, 2):  # each reconnection replays them: never seen twice
                yield event(position)
            await asyncio.sleep(60)

        transports: dict[str, Any] = {"websocket": websocket, "sse": sse}
        monkeypatch.setattr(stream, "_open", lambda name: transports[name]())
        received = [(await anext(stream)).event_id for _ in range(2)]
        assert stream.transport == "sse"
        later = asyncio.ensure_future(anext(stream))
        await asyncio.sleep(0.5)  # a retry at 0.2 s, refused; the next one 0.4 s later
        websocket_allowed.set()
        received.append((await asyncio.wait_for(later, 5)).event_id)
        await stream.aclose()
    assert received == ["support:1", "support:2", "support:3"]
    assert str(stream.transport) == "websocket"  # (mypy narrowed it to "sse")
    names = [name for name, _ in opened]
    assert names == ["websocket", "sse", "websocket", "sse", "websocket"]
    times = [at for _, at in opened]
    assert times[2] - times[1] == pytest.approx(0.2, abs=0.15)
    assert times[4] - times[3] == pytest.approx(0.4, abs=0.15)

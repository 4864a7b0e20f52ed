"""Slow readers: what a stream's client has not read yet, and cutting it off.

ASGI gives an application no backpressure it can count on. Daphne's
``send`` returns at once and Twisted keeps every unsent byte in memory, so a
client that stops reading (a frozen tab, a stalled proxy) makes its worker
grow without bound until a ping timeout notices; uvicorn's ``send`` waits
instead, which stalls the stream but not the memory. Either way the stream
should end, with a reason, and the client resume by cursor like after any
disconnect.

So the outermost ASGI layer (:func:`support.scope.remember_server_send`) keeps the
server's own ``send`` in the scope; from it an :class:`WriteBacklog` finds the
connection's transport (Twisted's or asyncio's) and reads how many bytes
wait in it. A WebSocket or SSE stream whose backlog passes
``SUPPORT_MAX_CLIENT_BACKLOG`` bytes is closed (WebSocket code 4408) and its
transport aborted shortly after, which frees the buffer. A server whose
transport cannot be found this way gets no such check (its own ping timeout
still applies); a WebSocket ``send`` that blocks for longer than
``SUPPORT_SLOW_CLIENT_TIMEOUT`` seconds ends the stream the same way.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from support.conf import support_settings
from support.scope import SERVER_SEND

#: Seconds between the polite close of a slow stream and the abort of its transport.
ABORT_GRACE = 2.0


def server_protocol(scope: dict[str, Any]) -> Any | None:
    """The server's own object for the connection *scope* belongs to (its protocol), if any."""
    send = scope.get(SERVER_SEND)
    if isinstance(send, functools.partial) and send.args:
        return send.args[0]  # daphne: partial(server.handle_reply, protocol)
    return getattr(send, "__self__", None)  # uvicorn: protocol.asgi_send


class WriteBacklog:
    """The bytes a connection's server holds for its client: what it has not sent yet."""

    def __init__(self, transport: Any) -> None:
        self.transport = transport

    @classmethod
    def of(cls, scope: dict[str, Any]) -> WriteBacklog | None:
        """The write backlog of the connection *scope* belongs to, if the server shows it."""
        transport = getattr(server_protocol(scope), "transport", None)
        if transport is None:
            return None
        return cls(transport)

    def pending(self) -> int:
        """Bytes accepted from the application and not yet taken by the client's socket."""
        transport = self.transport
        size = getattr(transport, "get_write_buffer_size", None)
        if size is not None:  # an asyncio transport
            return int(size())
        # A Twisted FileDescriptor: the current buffer past what was written, plus
        # the writes queued behind it.
        buffered = len(getattr(transport, "dataBuffer", b"")) - getattr(transport, "offset", 0)
        return int(buffered + getattr(transport, "_tempDataLen", 0))

    def too_full(self) -> bool:
        limit = support_settings.MAX_CLIENT_BACKLOG
        return bool(limit) and self.pending() > limit

    def abort(self) -> None:
        """Drop the connection now, and with it whatever it still holds."""
        abort = getattr(self.transport, "abortConnection", None) or getattr(
            self.transport, "abort", None
        )
        if abort is not None:
            abort()

    def abort_later(self, delay: float = ABORT_GRACE) -> None:
        """Abort after *delay*, so a close frame that can still get through does."""
        asyncio.get_running_loop().call_later(delay, self.abort)

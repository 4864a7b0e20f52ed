"""``async with client.realtime() as conn``: WebSocket commands and events.

Each command carries a fresh ``request_id`` and waits for its ``ack``
(returning the ticket or message) or its ``error`` frame (raised as the
same typed error the REST API would give). Events arrive through
``async for event in conn``. The connection does not reconnect by itself:
commands are not replayed behind your back. For an endless event feed, use
``client.events.stream()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from typing import Any

import httpx
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect

from support_client._base_client import ClientOptions, validate
from support_client._exceptions import (
    APIConnectionError,
    APITimeoutError,
    from_error_body,
)
from support_client.types.events import Event, parse_event
from support_client.types.tickets import Message, Ticket

_CLOSED = object()


class RealtimeConnection:
    def __init__(
        self, options: ClientOptions, *, after: str | None = None, ack_timeout: float = 30.0
    ) -> None:
        self._options = options
        self._after = after
        self._ack_timeout = ack_timeout
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._events: asyncio.Queue[Any] = asyncio.Queue()
        self._ids = itertools.count(1)
        #: The id of the last event received.
        self.cursor = after

    async def __aenter__(self) -> RealtimeConnection:
        url = self._options.websocket_url
        if self._after is not None:
            url += f"?{httpx.QueryParams({'after': self._after})}"
        try:
            self._ws = await ws_connect(
                url,
                additional_headers={
                    "Authorization": self._options.auth_header,
                    **self._options.acting_headers,
                },
            )
        except (OSError, websockets.WebSocketException) as error:
            raise APIConnectionError(f"WebSocket connection failed: {error}") from error
        self._reader = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self._ws is not None:
            await self._ws.close()

    def __aiter__(self) -> RealtimeConnection:
        return self

    async def __anext__(self) -> Event:
        item = await self._events.get()
        if item is _CLOSED:
            self._events.put_nowait(_CLOSED)
            raise StopAsyncIteration
        event: Event = item
        self.cursor = event.event_id
        return event

    async def _read(self) -> None:
        assert self._ws is not None
        try:
            async for frame in self._ws:
                if isinstance(frame, bytes):
                    continue
                data = json.loads(frame)
                kind = data.get("type")
                request_id = data.get("request_id")
                if kind in ("ack", "error") and request_id in self._pending:
                    future = self._pending.pop(request_id)
                    if not future.done():
                        future.set_result(data)
                elif "event_id" in data:
                    self._events.put_nowait(parse_event(data))
        except websockets.ConnectionClosed:
            pass
        finally:
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(APIConnectionError("The WebSocket connection closed."))
            self._pending.clear()
            self._events.put_nowait(_CLOSED)

    async def _command(self, frame: dict[str, Any]) -> dict[str, Any]:
        if self._ws is None:
            raise APIConnectionError("Use `async with client.realtime() as conn`.")
        request_id = f"r{next(self._ids)}"
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            await self._ws.send(json.dumps({**frame, "request_id": request_id}))
            async with asyncio.timeout(self._ack_timeout):
                answer = await future
        except TimeoutError:
            raise APITimeoutError(f"No answer to {frame['type']} in {self._ack_timeout}s") from None
        except websockets.ConnectionClosed as error:
            raise APIConnectionError(f"The WebSocket connection closed: {error}") from error
        finally:
            self._pending.pop(request_id, None)
        if answer["type"] == "error":
            # Error frames carry the status their REST twin answers with.
            status = answer.get("status")
            if isinstance(status, bool) or not isinstance(status, int) or status < 400:
                status = 400
            raise from_error_body(status, answer)
        data: dict[str, Any] = answer["data"]
        return data

    async def assign(self, ticket_id: int) -> Ticket:
        return await self._ticket_command("ticket.assign", ticket_id)

    async def unassign(self, ticket_id: int) -> Ticket:
        return await self._ticket_command("ticket.unassign", ticket_id)

    async def resolve(self, ticket_id: int) -> Ticket:
        return await self._ticket_command("ticket.resolve", ticket_id)

    async def reopen(self, ticket_id: int) -> Ticket:
        return await self._ticket_command("ticket.reopen", ticket_id)

    async def _ticket_command(self, kind: str, ticket_id: int) -> Ticket:
        return validate(Ticket, await self._command({"type": kind, "ticket_id": ticket_id}))

    async def send_message(
        self, ticket_id: int, text: str, *, idempotency_key: str | None = None
    ) -> Message:
        frame: dict[str, Any] = {"type": "ticket.message.new", "ticket_id": ticket_id, "text": text}
        if idempotency_key is not None:
            frame["idempotency_key"] = idempotency_key
        return validate(Message, await self._command(frame))

    async def mark_viewed(self, ticket_id: int, *, up_to: int | None = None) -> Ticket:
        frame: dict[str, Any] = {"type": "ticket.messages.viewed", "ticket_id": ticket_id}
        if up_to is not None:
            frame["up_to"] = up_to
        return validate(Ticket, await self._command(frame))

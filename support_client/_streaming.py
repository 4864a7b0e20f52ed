"""Endless, resumable event streams over WebSocket, SSE or long-poll.

:class:`AsyncEventStream` does the work; :class:`EventStream` runs it on a
private event loop in a thread, for synchronous code.

A stream remembers the cursor of the last event it yielded and reconnects
after it, with jittered backoff, whatever broke (the network, a restart of
the server, a proxy). It drops any ``event_id`` it has already yielded, so
an event is never seen twice, also when ``transport="auto"`` moves from
WebSocket to SSE (when a proxy refuses the upgrade: a 4xx, or an upgrade
that never completes) or from SSE to long-poll (when the stream is buffered:
no byte arrives within ``first_byte_timeout``). A server that is down or
restarting (a refused or reset connection, a proxy's 5xx) is waited for on
the same transport. A stream that stepped down tries WebSocket again after
``STREAM_WEBSOCKET_RETRY`` seconds, twice as long after each refusal.
Refusals of the credential (401, 403) and bad requests are raised, not retried.
"""

from __future__ import annotations

import asyncio
import json
import queue
import random
import threading
from collections import OrderedDict
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from typing import Any, Literal

import httpx
import pydantic
import websockets
from websockets.asyncio.client import connect as ws_connect

from support_client import _constants as C
from support_client._base_client import AsyncRequester, Call, ClientOptions, connection_error
from support_client._exceptions import (
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    CursorExpiredError,
    NotFoundError,
    PermissionDeniedError,
    StreamError,
    make_status_error,
)
from support_client._sse import SSEDecoder
from support_client.types.events import Event, EventPage, StreamReset, parse_event

TransportName = Literal["websocket", "sse", "longpoll", "auto"]
#: The transports ``auto`` tries, in this order, moving down when one can't work.
FALLBACK: tuple[Literal["websocket", "sse", "longpoll"], ...] = ("websocket", "sse", "longpoll")
#: Raised, not retried: the credential or the request itself is wrong.
FATAL = (AuthenticationError, PermissionDeniedError, NotFoundError, BadRequestError)


class TransportUnusable(Exception):
    """This transport can't work on this network (refused upgrade, buffered stream)."""


class _RetryWebSocket(Exception):
    """Time for a stream that stepped down to try WebSocket again."""


class _Seen:
    """The last N event ids, to drop repeats (delivery is at least once)."""

    def __init__(self, size: int = C.SEEN_EVENT_IDS) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._size = size

    def add(self, event_id: str) -> bool:
        """True if new."""
        if event_id in self._ids:
            return False
        self._ids[event_id] = None
        if len(self._ids) > self._size:
            self._ids.popitem(last=False)
        return True


def longpoll(after: str | None, hold: int) -> Call:
    """``GET events/``: the events after *after*, held up to *hold* s (``events.poll`` too)."""
    return Call("GET", "events/", params={"after": after, "timeout": hold}, hold=hold)


_EVENT_PAGE = pydantic.TypeAdapter(EventPage)


class AsyncEventStream:
    """``async for event in client.events.stream(...)``; ``.cursor`` is the last event's id."""

    def __init__(
        self,
        requester: AsyncRequester,
        *,
        after: str | None = None,
        transport: TransportName = "auto",
        first_byte_timeout: float = C.STREAM_FIRST_BYTE_TIMEOUT,
        idle_timeout: float = C.STREAM_IDLE_TIMEOUT,
        longpoll_timeout: int = C.LONGPOLL_TIMEOUT,
    ) -> None:
        if transport not in (*FALLBACK, "auto"):
            raise ValueError(f"transport must be one of {(*FALLBACK, 'auto')}, not {transport!r}")
        self.cursor = after
        #: The transport asked for; ``transport`` is the one in use.
        self.requested: TransportName = transport
        self.transport: Literal["websocket", "sse", "longpoll"] = (
            FALLBACK[0] if transport == "auto" else transport
        )
        self._requester = requester
        self._options: ClientOptions = requester.options
        self._first_byte_timeout = first_byte_timeout
        self._idle_timeout = idle_timeout
        self._longpoll_timeout = longpoll_timeout
        self._seen = _Seen()
        self._iterator: AsyncIterator[Event] | None = None
        #: Where ``auto`` had stepped down to, while it tries WebSocket again.
        self._landed: Literal["websocket", "sse", "longpoll"] | None = None
        #: When a stepped-down stream next tries WebSocket (the event loop's clock).
        self._retry_at: float | None = None
        self._retry_delay = C.STREAM_WEBSOCKET_RETRY

    def __aiter__(self) -> AsyncEventStream:
        return self

    async def __anext__(self) -> Event:
        if self._iterator is None:
            self._iterator = self._run()
        return await self._iterator.__anext__()

    async def aclose(self) -> None:
        if self._iterator is not None:
            await self._iterator.aclose()  # type: ignore[attr-defined]

    async def _run(self) -> AsyncIterator[Event]:
        if self.cursor is None:
            # Also checks the credential over plain HTTP, so a refusal later
            # is the network's doing, not ours.
            self.cursor = (await self._poll(None, 0)).cursor
        attempt = 0
        while True:
            try:
                async for event in self._until_retry(self._open(self.transport)):
                    attempt = 0
                    if not self._seen.add(event.event_id):
                        continue
                    self.cursor = event.event_id
                    yield event
                # The server ended the stream (a restart, a proxy's timeout): resume.
            except _RetryWebSocket:
                # Stepped down a while ago: the network may carry WebSocket again.
                self._landed, self.transport = self.transport, FALLBACK[0]
                continue
            except TransportUnusable:
                if self._landed is not None:  # still refused: back down, try again later
                    self.transport, self._landed = self._landed, None
                    self._retry_delay = min(self._retry_delay * 2, C.STREAM_WEBSOCKET_RETRY_MAX)
                    continue
                if self.requested == "auto" and self.transport != FALLBACK[-1]:
                    self.transport = FALLBACK[FALLBACK.index(self.transport) + 1]
                    continue
            except CursorExpiredError:
                page = await self._poll(None, 0)
                self.cursor = page.cursor
                yield StreamReset(event_id=page.cursor)
                continue
            except FATAL:
                raise
            except (APIConnectionError, APIStatusError, OSError, websockets.WebSocketException):
                # The server is down or restarting (refused, reset, a proxy's 502): the
                # same transport again, after a while.
                pass
            attempt += 1
            ceiling = min(C.STREAM_MAX_DELAY, C.STREAM_INITIAL_DELAY * 2 ** (attempt - 1))
            await asyncio.sleep(random.uniform(ceiling / 2, ceiling))

    async def _until_retry(self, events: AsyncGenerator[Event, None]) -> AsyncIterator[Event]:
        """*events*; on a transport ``auto`` stepped down to, only until it is time to try
        WebSocket again (:class:`_RetryWebSocket`, after a delay that doubles each time
        WebSocket is still refused)."""
        stepped_down = self.requested == "auto" and self.transport != FALLBACK[0]
        loop = asyncio.get_running_loop()
        if stepped_down and self._retry_at is None:
            self._retry_at = loop.time() + self._retry_delay
        try:  # *events* closed here, whichever way this ends: its connection with it
            while True:
                deadline = asyncio.timeout_at(self._retry_at if stepped_down else None)
                try:
                    async with deadline:
                        event = await anext(events)
                except StopAsyncIteration:
                    return
                except TimeoutError:
                    if deadline.expired():
                        self._retry_at = None
                        raise _RetryWebSocket() from None
                    raise
                yield event
        finally:
            await events.aclose()

    def _websocket_works(self) -> None:
        """A WebSocket connection opened: forget any earlier step down."""
        self._landed = self._retry_at = None
        self._retry_delay = C.STREAM_WEBSOCKET_RETRY

    async def _poll(self, after: str | None, hold: int) -> EventPage:
        return await self._requester.perform(longpoll(after, hold), _EVENT_PAGE)

    def _open(self, name: str) -> AsyncGenerator[Event, None]:
        if name == "websocket":
            return self._websocket()
        if name == "sse":
            return self._sse()
        return self._longpoll()

    async def _websocket(self) -> AsyncGenerator[Event, None]:
        url = f"{self._options.websocket_url}?{httpx.QueryParams({'after': self.cursor})}"
        try:
            connection = await ws_connect(
                url,
                additional_headers={
                    "Authorization": self._options.auth_header,
                    **self._options.acting_headers,
                },
                open_timeout=self._first_byte_timeout + 5,
                max_size=2**24,
            )
        except websockets.InvalidStatus as refused:
            status = refused.response.status_code
            if status >= 500:
                # A proxy's 502/503/504 while the workers restart: the server is down.
                raise APIConnectionError(f"WebSocket upgrade answered {status}") from refused
            # A proxy that does not speak WebSocket, or one that refuses it.
            raise TransportUnusable(f"WebSocket upgrade refused: {refused}") from refused
        except websockets.InvalidMessage as error:
            if isinstance(error.__cause__, EOFError | OSError):
                # The connection was closed or reset before any answer: the server is down.
                raise APIConnectionError(f"WebSocket handshake cut off: {error}") from error
            raise TransportUnusable(f"No WebSocket here: {error}") from error
        except websockets.InvalidHandshake as error:
            raise TransportUnusable(f"No WebSocket here: {error}") from error
        except TimeoutError as error:
            # The upgrade never completed: a proxy that holds it.
            raise TransportUnusable("WebSocket upgrade never completed") from error
        except OSError as error:
            # Refused or reset: the server is down or restarting.
            raise APIConnectionError(f"WebSocket connection failed: {error}") from error
        self._websocket_works()
        async with connection:
            async for frame in connection:
                if isinstance(frame, bytes):
                    continue
                data = json.loads(frame)
                if isinstance(data, dict) and "event_id" in data:
                    yield parse_event(data)

    async def _sse(self) -> AsyncGenerator[Event, None]:
        client = self._requester.http
        headers = {**self._options.request_headers(), "Accept": "text/event-stream"}
        if self.cursor is not None:
            headers["Last-Event-ID"] = self.cursor
        timeout = httpx.Timeout(self._idle_timeout, connect=self._options.timeout.connect)
        request = client.build_request(
            "GET", self._options.url("events/stream/"), headers=headers, timeout=timeout
        )
        try:
            async with asyncio.timeout(self._first_byte_timeout):
                response = await client.send(request, stream=True)
        except TimeoutError as error:
            raise TransportUnusable("SSE response held back: a buffering proxy?") from error
        except httpx.TransportError as error:
            raise connection_error(error, request) from error
        try:
            if response.status_code >= 400:
                await response.aread()
                raise make_status_error(response)
            decoder = SSEDecoder()
            lines = response.aiter_lines()
            try:
                async with asyncio.timeout(self._first_byte_timeout):
                    first = await lines.__anext__()
            except TimeoutError as error:
                raise TransportUnusable("SSE stream held back: a buffering proxy?") from error
            decoder.feed(first)
            async for line in lines:
                message = decoder.feed(line)
                if message is None or message.event in ("stream-open", "keep-alive", "message"):
                    continue
                if message.event == "stream-error":
                    raise APIConnectionError(f"SSE stream error: {message.data}")
                if message.event == "stream-reset":  # django-eventstream's own reset
                    raise CursorExpiredError("cursor expired", status_code=410)
                yield parse_event(message.data)
        except httpx.TransportError as error:
            raise connection_error(error, request) from error
        finally:
            await response.aclose()

    async def _longpoll(self) -> AsyncGenerator[Event, None]:
        after = self.cursor
        while True:
            page = await self._poll(after, self._longpoll_timeout)
            for event in page.events:
                yield event
            after = page.cursor


class EventStream:
    """``for event in client.events.stream(...)``: the async stream, driven in a thread.

    The thread owns its event loop and HTTP client; events cross over a queue.
    ``cursor`` and ``transport`` mirror the async stream's. Close it (or use
    ``with``) to stop the thread.
    """

    _DONE = object()

    def __init__(self, options: ClientOptions, **kwargs: Any) -> None:
        self._options = options
        self._kwargs = kwargs
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=1000)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._stream: AsyncEventStream | None = None
        self._cursor: str | None = kwargs.get("after")

    @property
    def cursor(self) -> str | None:
        """The id of the last event this iterator returned: safe to save and resume after.

        (The thread may have fetched further; those events are not yours yet.)
        """
        if self._cursor is None and self._stream is not None:
            return self._stream.cursor  # the starting point, fetched by the thread
        return self._cursor

    @property
    def transport(self) -> str | None:
        return self._stream.transport if self._stream is not None else None

    def __iter__(self) -> Iterator[Event]:
        return self

    def __next__(self) -> Event:
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="support-stream", daemon=True)
            self._thread.start()
        item = self._queue.get()
        if item is self._DONE:
            raise StopIteration
        if isinstance(item, BaseException):
            raise item
        event: Event = item
        self._cursor = event.event_id
        return event

    def close(self) -> None:
        self._stop.set()
        if self._loop is not None and self._thread is not None:
            # The pump alone: cancelling the connection's own tasks (a WebSocket's
            # keep-alive, its reader) too would leave its socket unclosed.
            task = self._task
            if task is not None:
                self._loop.call_soon_threadsafe(task.cancel)
            self._thread.join(10)

    def __enter__(self) -> EventStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _work(self) -> None:
        try:
            asyncio.run(self._pump())
        except BaseException as error:  # handed to the consumer's thread
            if not self._stop.is_set() and not isinstance(error, asyncio.CancelledError):
                self._queue.put(error if isinstance(error, Exception) else StreamError(str(error)))
        finally:
            self._queue.put(self._DONE)

    async def _pump(self) -> None:
        self._task = asyncio.current_task()
        self._loop = asyncio.get_running_loop()
        if self._stop.is_set():  # closed before the thread got here
            return
        async with httpx.AsyncClient() as http:
            self._stream = AsyncEventStream(AsyncRequester(self._options, http), **self._kwargs)
            try:
                async for event in self._stream:
                    while True:  # backpressure without blocking the loop
                        try:
                            self._queue.put_nowait(event)
                            break
                        except queue.Full:
                            await asyncio.sleep(0.05)
                    if self._stop.is_set():
                        return
            finally:
                await self._stream.aclose()  # its connection, closed while the loop runs

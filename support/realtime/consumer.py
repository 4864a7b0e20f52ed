"""The WebSocket endpoint: the 1.x protocol, more commands, resumable events.

On connect, ``?after=<cursor>`` replays what the client missed, then the
stream goes live with no gap and no duplicate at the seam (see
:meth:`SupportConsumer._pump`). A connection that has caught up takes the
hub's fast path: the hub sends each live event to it at once
(:meth:`SupportConsumer._deliver`), and only a connection that is behind
(replaying, or whose server holds a send back) has a task of its own.

Commands are answered with ``ack`` frames (when they carry a ``request_id``)
or ``error`` frames; a bad frame never closes the connection.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
from collections.abc import Awaitable, Coroutine, Generator
from contextlib import aclosing
from typing import Any
from urllib.parse import parse_qs

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.utils.translation import gettext as _

from support import events
from support.actors import Actor
from support.conf import support_settings
from support.db import pooled
from support.error_bodies import error_for, error_frame, is_unavailable
from support.exceptions import ServerError, SupportError, TooManyStreams, Unavailable
from support.realtime import commands
from support.realtime.backlog import WriteBacklog
from support.realtime.frames import warn_if_unbounded
from support.realtime.hub import Subscriber, get_hub
from support.realtime.replay import LiveEvent, Reset, check_cursor, follow

logger = logging.getLogger(__name__)

#: Close code for a connection whose ``?after=`` cursor is not one of ours.
CLOSE_BAD_CURSOR = 4400
#: Close code when the credential was revoked while connected.
CLOSE_REVOKED = 4401
#: Close code when the credential holds ``SUPPORT_MAX_STREAMS_PER_CREDENTIAL`` streams.
CLOSE_TOO_MANY_STREAMS = 4429
#: Close code for a client that stopped reading (``SUPPORT_MAX_CLIENT_BACKLOG``).
CLOSE_SLOW_READER = 4408
#: Close code when the database can't serve now (RFC 6455's "try again later").
CLOSE_TRY_AGAIN = 1013
#: Close code for an unexpected failure.
CLOSE_SERVER_ERROR = 1011


#: Commands run in support.db's threads: several connections' commands at
#: once, not all of the worker's in one thread.
_execute = pooled(commands.execute)


def close_code_for(error: SupportError) -> int:
    """How a connection that could not start closes, after its ``error`` frame."""
    if isinstance(error, TooManyStreams):
        return CLOSE_TOO_MANY_STREAMS
    if isinstance(error, Unavailable):
        return CLOSE_TRY_AGAIN
    if isinstance(error, ServerError):
        return CLOSE_SERVER_ERROR
    return CLOSE_BAD_CURSOR


class SupportConsumer(AsyncWebsocketConsumer):  # type: ignore[misc]
    # No channel-layer channel per connection: events reach consumers through
    # this process's hub. Without this, every open WebSocket would hold its own
    # blocking receive on Redis, and a Redis outage would drop every connection.
    channel_layer_alias = None
    actor: Actor
    subscriber: Subscriber | None = None
    #: The task that sends while the connection is behind (replaying, or held back).
    pump: asyncio.Task[None] | None = None
    #: Whether the connection started (see connect); then it takes commands.
    started = False
    backlog: WriteBacklog | None = None
    #: The rest of a fast-path send the server held back, for the pump to finish first.
    _unsent: Awaitable[None] | None = None
    _context: contextvars.Context

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Channels' dispatch, without its ``aclose_old_connections()`` before each message.

        Channels closes stale connections of its database thread before every
        handler, and again after a disconnect: a thread hop each (py-spy: a
        third of a daphne worker's time during a reconnect storm). This consumer never uses that
        thread: its database work runs in :mod:`support.db`'s pool, which
        looks after its own connections.
        """
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self) -> None:
        actor = self.scope.get("support_actor")
        if isinstance(actor, SupportError):
            # The credential could not be looked up (the database can't serve
            # now): say so in a frame, and close with "try again later".
            await self.accept()
            await self.send_error(actor, None)
            await self.close(close_code_for(actor))
            return
        if not isinstance(actor, Actor):
            await self.close()  # before accept: the handshake is refused with 403
            return
        self.actor = actor
        warn_if_unbounded(self.scope)
        await self.accept()
        after_raw = parse_qs(self.scope.get("query_string", b"").decode("latin1")).get("after")
        try:
            after = events.parse_cursor(after_raw[-1] if after_raw else None)
            if after is not None:
                await check_cursor(after)
            self.subscriber = await get_hub().subscribe(self.actor)
        except Exception as exc:
            error = error_for(exc, where=f"WebSocket connection of {self.actor.credential}")
            await self.send_error(error, None)
            await self.close(close_code_for(error))
            return
        self.started = True
        self.backlog = WriteBacklog.of(self.scope)
        # A pump started later, from the hub's loop, runs in this connection's context.
        self._context = contextvars.copy_context()
        if after is None and self.subscriber.go_direct(
            self.subscriber.floor, self._deliver, self._fall_behind
        ):
            return  # nothing to replay: live at once, on the hub's fast path
        self.pump = asyncio.create_task(self._pump(after))

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        # Channels calls disconnect() only for a clean close: a consumer that
        # dies of an exception must not leave its pump and subscription behind.
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._stop()

    async def websocket_disconnect(self, message: dict[str, Any]) -> None:
        """Channels' own, without its ``aclose_old_connections()`` (see :meth:`dispatch`).

        No groups to leave: this consumer joins none (``channel_layer_alias``).
        """
        await self.disconnect(message.get("code", 1005))
        raise StopConsumer()

    async def disconnect(self, code: int) -> None:
        self._stop()

    def _stop(self) -> None:
        if self.pump is not None:
            self.pump.cancel()
            self.pump = None
        self._stop_subscription()

    def _stop_subscription(self) -> None:
        if self.subscriber is not None:
            self.subscriber.close()
            self.subscriber = None

    def _deliver(self, event: LiveEvent) -> bool:
        """The hub's fast path (``Subscriber.go_direct``): send *event* now, in the hub's loop.

        ``True`` when it is sent. ``False`` when the server held the send back
        (uvicorn waits while the client does not read), the send failed, or the
        client's backlog is past ``SUPPORT_MAX_CLIENT_BACKLOG``: the connection
        is then behind, and its pump (:meth:`_fall_behind`) finishes this send,
        or meets its failure, before the events queued after it.
        """
        try:
            self._unsent = started(self.base_send({"type": "websocket.send", "text": event.json}))
        except Exception as exc:
            self._unsent = _raising(exc)
            return False
        if self._unsent is not None:
            return False
        return self.backlog is None or not self.backlog.too_full()

    def _fall_behind(self) -> None:
        """Off the fast path (see :meth:`_deliver`, ``Hub.revoke``): a pump drains the queue."""
        if self.subscriber is None:
            return  # closing
        unsent, self._unsent = self._unsent, None
        self.pump = asyncio.get_running_loop().create_task(
            self._pump(None, unsent), context=self._context
        )

    def _go_direct(self, last: int) -> bool:
        return self.subscriber is not None and self.subscriber.go_direct(
            last, self._deliver, self._fall_behind
        )

    async def _pump(self, after: int | None, unsent: Awaitable[None] | None = None) -> None:
        """Send the replay, then live events; each position at most once, in order.

        The subscription was taken (in :meth:`connect`) before the log is
        read: :func:`~support.realtime.replay.follow` joins the two. Once the
        connection has caught up it takes the hub's fast path and this ends;
        it also ends when the credential is revoked. *unsent*: the rest of a
        fast-path send, finished before anything else.
        """
        subscriber = self.subscriber
        assert subscriber is not None
        backlog = self.backlog
        handed = False

        def handover(last: int) -> bool:
            nonlocal handed
            handed = self._go_direct(last)
            return handed

        try:
            if unsent is not None:
                async with asyncio.timeout(support_settings.SLOW_CLIENT_TIMEOUT):
                    await unsent
            if backlog is not None and backlog.too_full():
                await self._drop_slow_reader(backlog)
                return
            async with aclosing(follow(subscriber, after, handover=handover)) as chunks:
                async for chunk in chunks:
                    frames = [chunk.json] if isinstance(chunk, Reset) else [e.json for e in chunk]
                    # A server with backpressure blocks a send to a client that
                    # stopped reading; one without it buffers (see support.realtime.backlog).
                    async with asyncio.timeout(support_settings.SLOW_CLIENT_TIMEOUT):
                        for frame in frames:
                            await self.send(text_data=frame)
                    if backlog is not None and backlog.too_full():
                        await self._drop_slow_reader(backlog)
                        return
            if not handed:
                await self.close(CLOSE_REVOKED)  # see Hub.revoke and Hub.recheck_credentials
        except TimeoutError:
            await self._drop_slow_reader(backlog)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if is_unavailable(exc):
                logger.warning(
                    "WebSocket event delivery of %s stopped: the database can't serve now (%s); "
                    "closing so the client resumes.",
                    self.actor.credential,
                    " ".join(str(exc).split())[:300],
                )
                await self.close(CLOSE_TRY_AGAIN)
                return
            logger.exception("WebSocket event delivery failed; closing so the client resumes.")
            await self.close(CLOSE_SERVER_ERROR)

    async def _drop_slow_reader(self, backlog: WriteBacklog | None) -> None:
        """Close a stream its client does not keep up with; it resumes by cursor."""
        logger.info("Closing a WebSocket of %s: its client is not reading.", self.actor.credential)
        self._stop_subscription()
        await self.close(CLOSE_SLOW_READER)
        if backlog is not None:
            backlog.abort_later()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if not self.started:
            return  # the connection did not start (see connect): it is closing
        request_id = None
        try:
            if text_data is None:
                raise commands.BadFrame(_("Binary frames are not accepted."))
            frame = commands.parse_frame(text_data)
            request_id = commands.request_id_of(frame)
            if frame.get("type") == commands.PING:
                # Proves the connection carries frames both ways (a proxy can
                # accept an upgrade and then pass nothing); touches no database.
                await self.send_json({"type": "pong", "request_id": request_id})
                return
            call = commands.validate(frame)
            data = await _execute(self.actor, call)
        except Exception as exc:  # every failure is an error frame; the connection stays
            where = f"WebSocket command of {self.actor.credential}"
            await self.send_error(error_for(exc, where=where), request_id)
            return
        if request_id is not None:
            await self.send_json({"type": "ack", "request_id": request_id, "data": data})

    async def send_error(self, error: SupportError, request_id: Any) -> None:
        await self.send_json(error_frame(error, request_id))

    async def send_json(self, content: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(content, ensure_ascii=False))


def started(coroutine: Coroutine[Any, Any, None]) -> Awaitable[None] | None:
    """Run *coroutine* up to its first wait: ``None`` if it finished, else the rest of it.

    A server's ``send`` to a client that keeps up finishes without waiting
    (daphne's never waits; uvicorn's waits only while the client does not
    read), so the hub's fast path sends without a task; what did wait is
    finished by awaiting the returned object, in the connection's pump.
    """
    try:
        first = coroutine.send(None)
    except StopIteration:
        return None
    return _Rest(coroutine, first)


class _Rest:
    """The rest of a coroutine that :func:`started` ran to its first wait."""

    def __init__(self, coroutine: Coroutine[Any, Any, None], first: Any) -> None:
        self._coroutine = coroutine
        self._first = first

    def __await__(self) -> Generator[Any, Any, None]:
        coroutine, value = self._coroutine, self._first
        try:
            while True:
                try:
                    sent = yield value
                except GeneratorExit:
                    coroutine.close()
                    raise
                except BaseException as exc:
                    value = coroutine.throw(exc)
                else:
                    value = coroutine.send(sent)
        except StopIteration:
            return


async def _raising(error: Exception) -> None:
    """What a fast-path send that failed leaves for the pump: the failure, raised there."""
    raise error

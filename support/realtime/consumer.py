"""The WebSocket endpoint: the 1.x protocol, more commands, resumable events.

On connect, ``?after=<cursor>`` replays what the client missed, then the
stream goes live with no gap and no duplicate at the seam (see
:meth:`SupportConsumer._pump`). Commands are answered with ``ack`` frames
(when they carry a ``request_id``) or ``error`` frames; a bad frame never
closes the connection.
"""

from __future__ import annotations

import asyncio
import json
import logging
from contextlib import aclosing
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from support import events
from support.actors import Actor
from support.exceptions import SupportError
from support.realtime import commands
from support.realtime.hub import Subscriber, get_hub
from support.realtime.replay import Reset, follow

logger = logging.getLogger(__name__)

#: Close code for a connection whose ``?after=`` cursor is not one of ours.
CLOSE_BAD_CURSOR = 4400
#: Close code when the credential was revoked while connected.
CLOSE_REVOKED = 4401


class SupportConsumer(AsyncWebsocketConsumer):  # type: ignore[misc]
    # No channel-layer channel per connection: events reach consumers through
    # this process's hub. Without this, every open WebSocket would hold its own
    # blocking receive on Redis, and a Redis outage would drop every connection.
    channel_layer_alias = None
    actor: Actor
    subscriber: Subscriber | None = None
    pump: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        actor = self.scope.get("support_actor")
        if not isinstance(actor, Actor):
            await self.close()  # before accept: the handshake is refused with 403
            return
        self.actor = actor
        await self.accept()
        after_raw = parse_qs(self.scope.get("query_string", b"").decode("latin1")).get("after")
        try:
            after = events.parse_cursor(after_raw[-1] if after_raw else None)
        except SupportError as error:
            await self.send_error(error, None)
            await self.close(CLOSE_BAD_CURSOR)
            return
        self.subscriber = await get_hub().subscribe(self.actor)
        self.pump = asyncio.create_task(self._pump(after))

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        # Channels calls disconnect() only for a clean close: a consumer that
        # dies of an exception must not leave its pump and subscription behind.
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._stop()

    async def disconnect(self, code: int) -> None:
        self._stop()

    def _stop(self) -> None:
        if self.pump is not None:
            self.pump.cancel()
            self.pump = None
        if self.subscriber is not None:
            self.subscriber.close()
            self.subscriber = None

    async def _pump(self, after: int | None) -> None:
        """Send the replay, then live events; each position at most once, in order.

        The subscription was taken (in :meth:`connect`) before the log is
        read: :func:`~support.realtime.replay.follow` joins the two. It ends
        when the credential is revoked.
        """
        subscriber = self.subscriber
        assert subscriber is not None
        try:
            async with aclosing(follow(subscriber, after)) as chunks:
                async for chunk in chunks:
                    if isinstance(chunk, Reset):
                        await self.send(text_data=chunk.json)
                        continue
                    for event in chunk:
                        await self.send(text_data=event.json)
            await self.close(CLOSE_REVOKED)  # see Hub.revoke and Hub.recheck_credentials
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("WebSocket event delivery failed; closing so the client resumes.")
            await self.close(1011)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is None:
            await self.send_error(commands.BadFrame("Binary frames are not accepted."), None)
            return
        request_id = None
        try:
            frame = commands.parse_frame(text_data)
            request_id = commands.request_id_of(frame)
            if frame.get("type") == commands.PING:
                # Proves the connection carries frames both ways (a proxy can
                # accept an upgrade and then pass nothing); touches no database.
                await self.send_json({"type": "pong", "request_id": request_id})
                return
            command, args = commands.validate(frame)
            data = await database_sync_to_async(commands.execute)(self.actor, command, args)
        except SupportError as error:
            await self.send_error(error, request_id)
            return
        except Exception:
            logger.exception("WebSocket command failed")
            await self.send_json(
                {
                    "type": "error",
                    "request_id": request_id,
                    "code": "server_error",
                    "detail": "The server failed to run this command; nothing was changed.",
                }
            )
            return
        if request_id is not None:
            await self.send_json({"type": "ack", "request_id": request_id, "data": data})

    async def send_error(self, error: SupportError, request_id: Any) -> None:
        await self.send_json({"type": "error", "request_id": request_id, **error.as_dict()})

    async def send_json(self, content: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(content, ensure_ascii=False))

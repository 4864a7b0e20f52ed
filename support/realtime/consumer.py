"""The WebSocket endpoint: the seed's protocol, more commands, resumable events.

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
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.utils.translation import gettext as _

from support import events
from support.actors import Actor
from support.cursors import format_cursor
from support.errors import error_for, error_frame
from support.exceptions import CursorExpired, SupportError
from support.realtime import commands
from support.realtime.hub import BATCH, Subscriber, current_position_async, get_hub, read_log_async

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

        The subscription is taken before the log is read, so an event that
        commits during the replay is both read and queued: ``last`` drops
        the second copy. An event committed after the read is queued only.
        """
        subscriber = self.subscriber
        assert subscriber is not None
        last = subscriber.floor if after is None else after
        try:
            if after is not None:
                last = await self._catch_up(last)
            while True:
                batch = await subscriber.wait()
                if subscriber.revoked:  # see Hub.revoke and Hub.recheck_credentials
                    await self.close(CLOSE_REVOKED)
                    return
                if subscriber.take_overflow():
                    last = await self._catch_up(last)
                    continue
                for event in batch:
                    if event.position > last:
                        await self.send(text_data=event.json)
                        last = event.position
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("WebSocket event delivery failed; closing so the client resumes.")
            await self.close(1011)

    async def _catch_up(self, last: int) -> int:
        while True:
            try:
                batch = await read_log_async(last, BATCH)
            except CursorExpired:
                last = await current_position_async()
                cursor = format_cursor(last)
                await self.send(text_data=json.dumps({"type": "stream.reset", "event_id": cursor}))
                continue
            for event in batch:
                await self.send(text_data=event.json)
                last = event.position
            if len(batch) < BATCH:
                return last

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
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
            data = await database_sync_to_async(commands.execute)(self.actor, call)
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

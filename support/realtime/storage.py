"""django-eventstream storage backed by the support event log.

With ``EVENTSTREAM_STORAGE_CLASS = "support.realtime.storage.EventLogStorage"``
django-eventstream serves Server-Sent Events straight from
:class:`support.models.Event`: the SSE ``id:`` is the same cursor the
WebSocket replay and long-poll use, so one log backs all three transports.

Only the :data:`CHANNEL` channel is backed by the log. Events enter it
through :mod:`support.services` alone (inside the change's transaction), so
``append_event`` on it is refused rather than writing an event that no
change stands behind. Other channels a host project may use get no
persistence from this class.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from django.db import close_old_connections, transaction
from django_eventstream.event import Event as StreamEvent
from django_eventstream.storage import EventDoesNotExist, StorageBase

from support import events
from support.cursors import CHANNEL
from support.exceptions import CursorExpired

T = TypeVar("T")


def _released(method: Callable[..., T]) -> Callable[..., T]:
    """Give the connection back after each read.

    django-eventstream calls the storage from a stream's own thread, which
    lives as long as the stream: without this, every open SSE stream would
    hold a database connection (with ``CONN_MAX_AGE = 0``, as ASGI wants).
    """

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return method(*args, **kwargs)
        finally:
            if not transaction.get_connection().in_atomic_block:
                close_old_connections()

    return wrapper


class EventLogStorage(StorageBase):  # type: ignore[misc]
    def append_event(self, channel: str, event_type: str, data: Any) -> StreamEvent:
        if channel == CHANNEL:
            raise RuntimeError(
                "The support event log is written by support.services only; "
                "send_event() cannot append to it."
            )
        return StreamEvent(channel, event_type, data, id=None)

    @_released
    def get_events(self, channel: str, last_id: int, limit: int = 100) -> list[StreamEvent]:
        if channel != CHANNEL:
            return []
        try:
            rows = events.read_after(int(last_id), limit=limit)
        except CursorExpired:
            raise EventDoesNotExist(
                f"Event {last_id} is older than the retention window", self.get_current_id(channel)
            ) from None
        # `data` is JSON text already: django-eventstream writes it out as is.
        return [StreamEvent(CHANNEL, row.type, row.envelope_json(), id=row.pk) for row in rows]

    @_released
    def get_current_id(self, channel: str) -> int:
        return events.current_position() if channel == CHANNEL else 0

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

from typing import Any

from django_eventstream.event import Event as StreamEvent
from django_eventstream.storage import EventDoesNotExist, StorageBase

from support import events
from support.cursors import CHANNEL
from support.db import released
from support.exceptions import CursorExpired
from support.realtime.replay import LiveEvent, read_log


def stream_event(event: LiveEvent) -> StreamEvent:
    """*event* as django-eventstream carries it; ``data`` is JSON text, written out as is."""
    return StreamEvent(CHANNEL, event.type, event.json, id=event.position)


class EventLogStorage(StorageBase):  # type: ignore[misc]
    # django-eventstream calls the storage from a stream's own thread, which
    # lives as long as the stream: each read gives its connection back
    # (``released``), or every open SSE stream would hold one.

    def append_event(self, channel: str, event_type: str, data: Any) -> StreamEvent:
        if channel == CHANNEL:
            raise RuntimeError(
                "The support event log is written by support.services only; "
                "send_event() cannot append to it."
            )
        return StreamEvent(channel, event_type, data, id=None)

    @released
    def get_events(self, channel: str, last_id: int, limit: int = 100) -> list[StreamEvent]:
        if channel != CHANNEL:
            return []
        try:
            batch = read_log(int(last_id), limit)
        except CursorExpired:
            raise EventDoesNotExist(
                f"Event {last_id} is older than the retention window", self.get_current_id(channel)
            ) from None
        return [stream_event(event) for event in batch]

    @released
    def get_current_id(self, channel: str) -> int:
        return events.current_position() if channel == CHANNEL else 0

"""django-eventstream storage backed by the support event log.

With ``EVENTSTREAM_STORAGE_CLASS = "support.realtime.storage.EventLogStorage"``
django-eventstream serves Server-Sent Events straight from
:class:`support.models.Event`: the SSE ``id:`` is the same cursor the
WebSocket replay and long-poll use, so one log backs all three transports.

Two channels are backed by the log: :data:`CHANNEL`, every event, which
managers' streams read, and :data:`BOTS_CHANNEL`, the same log without its
managers-only events (notes), which bots' streams read. A bot's stream is
on that channel from its first read to its last live event, so a note never
enters it; its ids are written as the one cursor of every transport
(:mod:`support.realtime.sse`). Events enter the log through
:mod:`support.services` alone (inside the change's transaction), so
``append_event`` on either channel is refused rather than writing an event
that no change stands behind. Other channels a host project may use get no
persistence from this class.
"""

from __future__ import annotations

from typing import Any

from django_eventstream.event import Event as StreamEvent
from django_eventstream.storage import EventDoesNotExist, StorageBase

from support import events
from support.actors import Credential
from support.cursors import CHANNEL
from support.db import released
from support.exceptions import CursorExpired
from support.realtime.replay import LiveEvent, is_private, read_log

#: The django-eventstream channel of bots' streams: the log without managers-only events.
BOTS_CHANNEL = f"{CHANNEL}-bots"
#: The channels this storage serves, each with whether its readers are private.
LOG_CHANNELS = {CHANNEL: True, BOTS_CHANNEL: False}


def stream_channel(credential: Credential) -> str:
    """The channel a stream of *credential* reads: every event, or a bot's share of them."""
    return CHANNEL if is_private(credential) else BOTS_CHANNEL


def stream_event(event: LiveEvent, channel: str = CHANNEL) -> StreamEvent:
    """*event* as django-eventstream carries it; ``data`` is JSON text, written out as is."""
    return StreamEvent(channel, event.type, event.json, id=event.position)


class EventLogStorage(StorageBase):  # type: ignore[misc]
    # django-eventstream calls the storage from a stream's own thread, which
    # lives as long as the stream: each read gives its connection back
    # (``released``), or every open SSE stream would hold one.

    def append_event(self, channel: str, event_type: str, data: Any) -> StreamEvent:
        if channel in LOG_CHANNELS:
            raise RuntimeError(
                "The support event log is written by support.services only; "
                "send_event() cannot append to it."
            )
        return StreamEvent(channel, event_type, data, id=None)

    @released
    def get_events(self, channel: str, last_id: int, limit: int = 100) -> list[StreamEvent]:
        private = LOG_CHANNELS.get(channel)
        if private is None:
            return []
        try:
            batch = read_log(int(last_id), limit, private)
        except CursorExpired:
            raise EventDoesNotExist(
                f"Event {last_id} is older than the retention window", self.get_current_id(channel)
            ) from None
        return [stream_event(event, channel) for event in batch]

    @released
    def get_current_id(self, channel: str) -> int:
        return events.current_position() if channel in LOG_CHANNELS else 0

"""``GET events/stream/``: Server-Sent Events, served by django-eventstream.

This view checks the credential (a real 401/403, not a 200 stream carrying
an error), accepts ``?after=<cursor>`` as well as ``Last-Event-ID``, and
hands the request to django-eventstream on the ``support`` channel (a bot's
stream: ``support-bots``, the log without managers-only events). That
reads the event log through :class:`~support.realtime.storage.EventLogStorage`
and receives live events from this process's hub (:class:`EventstreamRelay`);
each event goes out as
``event: <type>``, ``id: <cursor>``, ``data: <the WebSocket JSON>``, with
keep-alives every 20 seconds and headers that tell proxies not to buffer.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from typing import Any

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django_eventstream.views import events as eventstream_events
from django_eventstream.views import get_listener_manager

from support import events
from support.actors import Actor, Credential
from support.cursors import CHANNEL, PREFIX
from support.db import free_request_thread
from support.error_bodies import is_unavailable
from support.plain_views import support_view
from support.realtime.backlog import WriteBacklog
from support.realtime.hub import Subscriber, get_hub
from support.realtime.replay import LiveEvent, Reset, reset_if_expired
from support.realtime.storage import BOTS_CHANNEL, stream_channel, stream_event

logger = logging.getLogger(__name__)


def stream_user_id(credential: Credential) -> int | str:
    """The user id django-eventstream's listener carries for an SSE stream (what a kick names).

    A manager's stream runs as the manager (``request.user``), so it carries
    the user's pk; a bot's stream carries ``bot-<key id>``.
    """
    kind, pk = credential
    return pk if kind == "manager" else str(credential)


class EventstreamRelay:
    """The hub's side of django-eventstream: this process's SSE listeners.

    Each live event goes to every SSE stream's queue at once (one call per
    channel, not one per stream): managers' streams get every event, bots'
    streams (:data:`~support.realtime.storage.BOTS_CHANNEL`) those that
    :meth:`~support.realtime.replay.LiveEvent.reaches` them, never a note.
    A revoked credential's streams are kicked.
    """

    def push(self, event: LiveEvent) -> None:
        listeners = get_listener_manager()
        listeners.add_to_queues(CHANNEL, stream_event(event))
        if event.reaches(private=False):
            listeners.add_to_queues(BOTS_CHANNEL, stream_event(event, BOTS_CHANNEL))

    def revoke(self, credentials: set[Credential]) -> None:
        for credential in credentials:
            get_listener_manager().kick(stream_user_id(credential), stream_channel(credential))


EVENTSTREAM_RELAY = EventstreamRelay()


@support_view
async def stream(request: HttpRequest, actor: Actor) -> HttpResponse:
    header = request.headers.get("Last-Event-ID")
    field = "Last-Event-ID" if header else "after"
    after = events.parse_cursor(header or request.GET.get("after"), field=field)
    # The hub feeds django-eventstream's listeners in this process; start it
    # before the stream reads the log, so no commit falls between the two.
    hub = get_hub()
    hub.relay(EVENTSTREAM_RELAY)
    await hub.start()
    reset = None if after is None else await reset_if_expired(after)  # or InvalidCursor
    # Counts against the credential's stream limit from here (TooManyStreams: 429).
    watch = await hub.watch(actor)
    if reset is not None:
        after = reset.position  # the stream starts with the reset, then goes on from the head
    # django-eventstream names each stream's listener by ``request.user.pk``:
    # that is what a revocation kicks (see Hub.revoke).
    user = actor.manager if actor.bot is None else _StreamUser(stream_user_id(actor.credential))
    request.user = user  # type: ignore[assignment]  # duck-typed for django-eventstream
    # A bot's stream reads a channel without managers-only events (notes).
    channel = stream_channel(actor.credential)
    query = request.GET.copy()
    query.pop("after", None)
    query["lastEventId"] = f"{channel}:{after}" if after is not None else ""
    request.GET = query  # type: ignore[assignment]  # a QueryDict either way
    request.META.pop("HTTP_LAST_EVENT_ID", None)
    try:
        response: HttpResponse = await sync_to_async(eventstream_events)(
            request, channels=[channel]
        )
    except BaseException:
        watch.close()
        raise
    if isinstance(response, StreamingHttpResponse):
        backlog = WriteBacklog.of(getattr(request, "scope", {}))
        response.streaming_content = _guarded(
            watch, reset, response.streaming_content, backlog, channel
        )
        # Django closes the response when the request ends, streamed or not.
        response._resource_closers.append(watch.close)
    else:
        watch.close()
    return response


class _StreamUser:
    """What django-eventstream needs of ``request.user`` for a bot's stream."""

    is_authenticated = True

    def __init__(self, pk: int | str) -> None:
        self.pk = pk


_ID_LINE = re.compile(r"^id: support:(\d+)$", re.MULTILINE)
_REVOKED = (
    'event: stream-error\nid: error\ndata: {"condition": "forbidden", '
    '"text": "The credential was revoked."}\n\n'
)


async def _guarded(
    watch: Subscriber,
    reset: Reset | None,
    content: Any,
    backlog: WriteBacklog | None = None,
    channel: str = CHANNEL,
) -> AsyncIterator[bytes | str]:
    """django-eventstream's stream, plus our reset event, and an end on revocation.

    The ids of another *channel* than ``support`` (a bot's) are written as
    the cursors they are (``support:<n>``), the same on every transport.

    A revocation (see ``Hub.revoke``) kicks the stream: django-eventstream
    sends ``stream-error`` but keeps streaming; the stream ends here instead.
    The hub's watch on the credential also ends it at the next chunk (events
    or the 20-second keep-alive), should the kick miss.
    """
    if reset is not None:
        yield f"event: stream.reset\nid: {reset.cursor}\ndata: {reset.json}\n\n"
    last = -1
    async with watch:
        async for chunk in _until_unavailable(content, watch):
            text = chunk.decode() if isinstance(chunk, bytes) else chunk
            if channel != CHANNEL:
                text = text.replace(f"\nid: {channel}:", f"\nid: {PREFIX}")
            if "event: stream-error" in text:
                yield text
                return
            if watch.revoked:
                yield _REVOKED
                return
            text, last = _drop_repeats(text, last)
            if text:
                yield text
            # django-eventstream has read the log in the request's thread;
            # while the stream waits, no thread is needed.
            free_request_thread()
            if backlog is not None and backlog.too_full():
                # The client stopped reading: end the stream and free its
                # buffer; it reconnects with its last cursor like after any drop.
                logger.info(
                    "Closing an SSE stream of %s: its client is not reading.", watch.credential
                )
                backlog.abort_later()
                return


_UNAVAILABLE = (
    'event: stream-error\nid: error\ndata: {"condition": "busy", '
    '"text": "The database is unavailable; reconnect in a moment."}\n\n'
)


async def _until_unavailable(content: Any, watch: Subscriber) -> AsyncIterator[bytes | str]:
    """*content*, ended by a ``stream-error`` when the database can't serve its next read.

    django-eventstream reads the log again after a burst of events; when the
    database is down then, the stream ends with a warning (no traceback), and
    the client reconnects with its last cursor like after any drop.
    """
    try:
        async for chunk in content:
            yield chunk
    except Exception as exc:
        if not is_unavailable(exc):
            raise
        logger.warning(
            "An SSE stream of %s stopped: the database can't serve now (%s).",
            watch.credential,
            " ".join(str(exc).split())[:300],
        )
        yield _UNAVAILABLE


def _drop_repeats(text: str, last: int) -> tuple[str, int]:
    """Drop events at or before *last*; return the rest and the new last position.

    When events commit while django-eventstream reads the log, it reads again
    from where it started, so a stream can repeat events at that seam. SSE
    promises each event once, so repeats are dropped here by cursor.
    """
    kept = []
    for block in text.split("\n\n"):
        match = _ID_LINE.search(block)
        if match is not None:
            position = int(match.group(1))
            if position <= last:
                continue
            last = position
        kept.append(block)
    return "\n\n".join(kept), last

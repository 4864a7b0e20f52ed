"""The durable event log: append inside the change's transaction, publish on commit.

One log serves every transport (WebSocket replay, SSE through
django-eventstream's storage interface, long-poll), so a cursor issued by one
is good on all of them.

Ordering. An auto-increment id is handed out when a row is inserted, not when
its transaction commits, so with concurrent writers id 8 can become visible
before id 7 and a reader that saw 8 would skip 7 forever. :func:`append`
therefore takes a row lock on :class:`~support.models.EventLogState` before
inserting: writers of events go one at a time from that point to their
commit, so ids are handed out in commit order. The lock is taken as the last
step of a service function, so it is held only for the insert and the
commit. SQLite lets one writer at a time from its first write to its
commit, so ids are in commit order there anyway, and the lock (a no-op
there) is skipped: one query less per change.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from asgiref.sync import async_to_sync
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from support.conf import support_settings
from support.cursors import parse_position
from support.exceptions import CursorExpired, Invalid, InvalidCursor
from support.models import Event, EventLogState

logger = logging.getLogger(__name__)

#: Channel-layer message types the per-process hubs receive.
CHANNEL_MESSAGE_TYPE = "support.event"
REVOKED_MESSAGE_TYPE = "support.revoked"

TICKET_CREATED = "ticket.created"
TICKET_UPDATED = "ticket.updated"
TICKET_ASSIGNED = "ticket.assigned"
TICKET_UNASSIGNED = "ticket.unassigned"
TICKET_RESOLVED = "ticket.resolved"
TICKET_REOPENED = "ticket.reopened"
MESSAGE_NEW = "ticket.message.new"
#: A manager's private note (:mod:`support.notes`): ``{"note": <note>}``, managers only.
NOTE_NEW = "ticket.note.new"
MESSAGES_VIEWED = "ticket.messages.viewed"
#: A message's text changed: ``{"message": <message>}`` (with ``edited_at``).
MESSAGE_EDITED = "ticket.message.edited"
#: A manager deleted their reply: ``{"ticket": <ticket id>, "id": <message id>}``.
MESSAGE_DELETED = "ticket.message.deleted"
#: The user rated the help on a resolved ticket: ``{"ticket": <id>, "rating": <rating>}``.
TICKET_RATED = "ticket.rated"
#: A user's Telegram profile changed (:mod:`support.profiles`): ``{"user": <user>}``.
USER_UPDATED = "user.updated"
#: A manager blocked or unblocked a user: ``{"user": <user>}`` (its ``blocked`` says which).
USER_BLOCKED = "user.blocked"
USER_UNBLOCKED = "user.unblocked"

EVENT_TYPES = (
    TICKET_CREATED,
    TICKET_UPDATED,
    TICKET_ASSIGNED,
    TICKET_UNASSIGNED,
    TICKET_RESOLVED,
    TICKET_REOPENED,
    MESSAGE_NEW,
    MESSAGES_VIEWED,
    NOTE_NEW,
    MESSAGE_EDITED,
    MESSAGE_DELETED,
    TICKET_RATED,
    USER_UPDATED,
    USER_BLOCKED,
    USER_UNBLOCKED,
)


def append(event_type: str, payload: dict[str, Any], *, managers_only: bool = False) -> Event:
    """Append an event to the log in the current transaction; publish it on commit.

    Must run inside ``transaction.atomic()``: the event exists if and only if
    the change it describes commits. A *managers_only* event (a note) is
    never read for a bot: see :func:`read_after`'s ``private``.
    """
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        raise RuntimeError("support.events.append() must run inside transaction.atomic().")
    if connection.features.has_select_for_update:
        _lock_log(connection)
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    event = Event.objects.create(type=event_type, payload=text, managers_only=managers_only)
    envelope = event.envelope()
    transaction.on_commit(lambda: publish(envelope))
    return event


def _lock_log(connection: Any) -> None:
    """Serialise event writers until commit (see the module docstring): lock the log's
    one state row, made on first use. Plain SQL: the ORM's ``get_or_create`` built and
    compiled its query on every write (py-spy: 0.8 ms of a post on PostgreSQL)."""
    meta = EventLogState._meta
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 1 FROM {quote(meta.db_table)} WHERE {quote(meta.pk.column)} = 1 FOR UPDATE"
        )
        if cursor.fetchone() is not None:
            return
    EventLogState.objects.select_for_update().get_or_create(pk=1)


def publish(envelope: dict[str, Any]) -> None:
    """Hand a committed event to every process through the channel layer.

    The message is only a wake-up for each process's hub, which then reads
    the log (:mod:`support.realtime.hub`), so it carries just the cursor.
    Live delivery is best effort: the event is already durable, and the hubs
    also read the log on a timer. So a layer that is down is logged, never
    raised into the request that made the change.
    """
    if not broadcast({"type": CHANNEL_MESSAGE_TYPE, "event_id": envelope["event_id"]}):
        logger.warning(
            "Could not publish event %s; readers will get it from the log.",
            envelope.get("event_id"),
        )


#: Hands a message to the channel layer without waiting; ``False`` if it cannot.
Courier = Callable[[dict[str, Any]], bool]
_courier: Courier | None = None


def send_in_background(courier: Courier, *, stop: bool = False) -> None:
    """Let *courier* carry :func:`broadcast`'s messages from now on (``stop``: no more).

    The process's hub sets itself here while it runs (see
    :meth:`support.realtime.hub.Hub.send_soon`): a change then hands its
    wake-up to the hub's event loop and returns, instead of waiting in the
    request for that loop to reach Redis. Under load the loop is busy
    sending events to hundreds of connections, and a post that waited for
    its own publication took a second.
    """
    global _courier
    if not stop:
        _courier = courier
    elif _courier == courier:
        _courier = None


def broadcast(message: dict[str, Any]) -> bool:
    """Send *message* to every process's hub; ``False`` if the channel layer failed.

    With a hub running in this process the message is sent from its event
    loop, and a failure is logged there; otherwise (a management command, a
    WSGI process) it is sent here, waiting for the layer.
    """
    courier = _courier
    if courier is not None and courier(message):
        return True
    from channels.layers import get_channel_layer

    try:
        layer = get_channel_layer()
        if layer is not None:
            async_to_sync(layer.group_send)(support_settings.CHANNEL_GROUP, message)
    except Exception:
        logger.exception("Channel layer unavailable")
        return False
    return True


def parse_cursor(cursor: str | None, field: str = "after") -> int | None:
    """Turn a client's cursor into a log position; ``None`` means "from now"."""
    if cursor is None or cursor == "":
        return None
    position = parse_position(cursor)
    if position is None:
        raise Invalid.field(field, _("Not a cursor issued by this server."))
    return position


def current_position() -> int:
    """The id of the newest committed event (0 for an empty log)."""
    newest = Event.objects.aggregate(newest=Max("id"))["newest"]
    if newest is not None:
        return int(newest)
    return trimmed_through()


def trimmed_through() -> int:
    state = EventLogState.objects.filter(pk=1).values_list("trimmed_through", flat=True).first()
    return int(state or 0)


def read_after(position: int, limit: int = 100, *, private: bool = True) -> list[Event]:
    """Events after *position*, oldest first; :class:`CursorExpired` if some were trimmed.

    *private*: whether the reader gets managers-only events (a manager's does;
    a bot's reads pass ``False``, and those rows are skipped in the query, so
    *limit* counts what the reader gets and its cursor jumps over them). The
    rule for live events is :meth:`support.realtime.replay.LiveEvent.reaches`.

    The events are read before the trim mark, never the other way round: a
    trim deletes a prefix of the log and moves the mark in one transaction,
    so a trim that commits between two reads is caught by the second. (Mark
    first, then events, and such a trim would return a gap as "no events".)
    When the first event read is ``position + 1`` nothing after the cursor
    can have been trimmed, so the usual read, a hub following the log, is a
    single query; so is "nothing new" (plus the head). A cursor beyond the
    head is :class:`InvalidCursor`.
    """
    readable = Event.objects.filter(id__gt=position)
    if not private:
        readable = readable.filter(managers_only=False)
    rows = list(readable.order_by("id")[:limit])
    if not rows:
        # Read after the rows, the head can only be newer: a cursor beyond it
        # was never issued here (another server's, or made up). Waiting on it
        # would hide every event until the log caught up, so it is refused.
        head = current_position()
        if position > head:
            raise InvalidCursor()
        if position == head:
            return rows  # nothing after the cursor, nothing trimmed after it
    if (not rows or rows[0].pk != position + 1) and position < trimmed_through():
        raise CursorExpired()
    return rows


def trim(now: datetime | None = None) -> int:
    """Delete events older than the retention window; return how many went.

    ``trimmed_through`` moves first, in the same transaction, so a reader can
    never mistake a gap left by trimming for "no events".
    """
    cutoff = (now or timezone.now()) - support_settings.EVENT_RETENTION
    with transaction.atomic():
        state, _created = EventLogState.objects.select_for_update().get_or_create(pk=1)
        newest_old = Event.objects.filter(created_at__lt=cutoff).aggregate(m=Max("id"))["m"]
        if newest_old is None:
            return 0
        state.trimmed_through = max(state.trimmed_through, int(newest_old))
        state.save(update_fields=["trimmed_through"])
        deleted, _per_model = Event.objects.filter(id__lte=newest_old).delete()
    return deleted

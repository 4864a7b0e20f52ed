"""Reading the event log for the transports: one replay, one subscribe-then-read seam.

:func:`replay` reads the log after a cursor in batches and turns an expired
cursor into a :class:`Reset` to the head. The hub follows the log with it;
:func:`follow` adds the live events of a hub subscription to it, with no
gap and no duplicate at the seam, for the WebSocket consumer and long-poll.
SSE is read by django-eventstream through the storage, which serialises rows
with :func:`read_log` as well, and starts from :func:`reset_if_expired`.

Who reads. Managers get every event; a bot never gets a managers-only one (a
note), whatever it asks for. That is decided in two forms of one rule, each
used by every path: a read of the log for a reader that is not private skips
those rows in its query (:func:`support.events.read_after`), and a live event
goes only where :meth:`LiveEvent.reaches` says (the hub's fan-out, the SSE
relay). :func:`is_private` says which readers are private, from the credential.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass
from typing import Protocol

from support import events
from support.actors import Credential
from support.cursors import format_cursor
from support.db import pooled
from support.exceptions import CursorExpired, InvalidCursor

#: Events read from the log per query.
BATCH = 500


@dataclass(frozen=True, slots=True)
class LiveEvent:
    """A committed event, ready to send: its log position, type and JSON text."""

    position: int
    type: str
    json: str
    #: Private to managers (a note): see :meth:`reaches`.
    managers_only: bool = False

    def reaches(self, private: bool) -> bool:
        """Whether a reader that is *private* (:func:`is_private`) or not gets this event."""
        return private or not self.managers_only


def is_private(credential: Credential | None) -> bool:
    """Whether a reader with *credential* gets managers-only events: a manager's yes;
    a bot key's never (nor a reader with no credential)."""
    return credential is not None and credential.kind == "manager"


class LiveFeed(Protocol):
    """What :func:`follow` needs of a subscription to live events (the hub's ``Subscriber``).

    Declared here rather than imported, so the replay sits below the hub that uses it.
    """

    #: The log's position when the subscription began: every later event is pushed.
    floor: int
    #: Set when the credential is revoked: the stream ends.
    revoked: bool
    #: Whether the listener gets managers-only events (:func:`is_private`).
    private: bool

    async def wait(self, timeout: float | None = None) -> list[LiveEvent]:
        """The pending live events, waiting up to *timeout* seconds for one."""
        ...

    def take_overflow(self) -> bool:
        """Whether events were dropped since the last call (then the log is re-read)."""
        ...


@dataclass(frozen=True, slots=True)
class Reset:
    """The cursor had expired (events after it were trimmed): go on from ``position``.

    ``position`` is the head of the log when the expiry was found; what
    follows a reset comes after it. A client told this re-reads the state
    over REST.
    """

    position: int

    @property
    def cursor(self) -> str:
        return format_cursor(self.position)

    @property
    def json(self) -> str:
        """The ``stream.reset`` frame, as WebSocket and SSE send it (compact, like events)."""
        return json.dumps({"type": "stream.reset", "event_id": self.cursor}, separators=(",", ":"))


#: What :func:`replay` and :func:`follow` yield: a non-empty batch, in log order, or a reset.
Chunk = list[LiveEvent] | Reset


def read_log(after: int, limit: int = BATCH, private: bool = True) -> list[LiveEvent]:
    """Events after *after* that a *private* reader or not gets, serialised;
    :class:`CursorExpired` if some were trimmed."""
    return [
        LiveEvent(row.pk, row.type, row.envelope_json(), row.managers_only)
        for row in events.read_after(after, limit=limit, private=private)
    ]


def read_public_log(after: int, limit: int = BATCH) -> list[LiveEvent]:
    """:func:`read_log` for a reader that is not private (a bot)."""
    return read_log(after, limit, private=False)


read_log_async: Callable[[int, int], Awaitable[list[LiveEvent]]] = pooled(read_log)
read_public_log_async: Callable[[int, int], Awaitable[list[LiveEvent]]] = pooled(read_public_log)
current_position_async: Callable[[], Awaitable[int]] = pooled(events.current_position)
_trimmed_through_async: Callable[[], Awaitable[int]] = pooled(events.trimmed_through)


def last_position(chunk: Chunk) -> int:
    """The position a reader has reached once it has taken *chunk*."""
    return chunk.position if isinstance(chunk, Reset) else chunk[-1].position


async def replay(after: int, *, private: bool = True) -> AsyncGenerator[Chunk, None]:
    """The log after *after* up to its head, in batches of at most :data:`BATCH`.

    An expired cursor yields a :class:`Reset` to the head of the log, and the
    replay carries on from there (with whatever committed since). A reader
    that is not *private* (a bot) gets no managers-only event.
    """
    while True:
        read = read_log_async if private else read_public_log_async
        try:
            batch = await read(after, BATCH)
        except CursorExpired:
            reset = Reset(await current_position_async())
            after = reset.position
            yield reset
            continue
        if batch:
            after = batch[-1].position
            yield batch
        if len(batch) < BATCH:
            return


async def check_cursor(after: int) -> int:
    """The head of the log; :class:`InvalidCursor` if *after* is beyond it.

    For a stream that starts from a client's cursor (WebSocket, SSE): the
    log's own reads refuse such a cursor too, but only once they find
    nothing after it, and a stream should be refused before it starts.
    """
    head = await current_position_async()
    if after > head:
        raise InvalidCursor()
    return head


async def reset_if_expired(after: int) -> Reset | None:
    """A :class:`Reset` to the head if events after *after* were trimmed, else ``None``.

    For a reader that reads the log itself after this check (SSE, through
    django-eventstream). A cursor beyond the head is :class:`InvalidCursor`.
    """
    head = await check_cursor(after)
    if after < await _trimmed_through_async():
        return Reset(head)
    return None


async def follow(
    subscriber: LiveFeed,
    after: int | None,
    *,
    timeout: float | None = None,
    handover: Callable[[int], bool] | None = None,
) -> AsyncGenerator[Chunk, None]:
    """The log after *after*, then live events: each position at most once, in order.

    *subscriber* must have subscribed before this reads the log, so an event
    that commits during the read is both read and queued; the queued copy
    is dropped by position. An event committed after the read is queued
    only. With ``after=None``, or *after* at the subscription's floor, there
    is nothing to replay: live events after the subscription. A subscriber
    that overflowed re-reads the log from where it is.

    Ends when the subscriber's credential is revoked (``subscriber.revoked``)
    or, with *timeout*, when it has to wait for live events past *timeout*
    seconds from its start.

    *handover*, when given, is called with the last position yielded each time
    the reader has caught up, before it would wait for live events; when it
    returns ``True`` the caller has handed the live events elsewhere (the
    hub's fast path, ``Subscriber.go_direct``) and this ends.
    """
    last = subscriber.floor if after is None else after
    # A cursor at the subscription's floor has nothing to replay: every event
    # after the floor is pushed (a re-poll's usual case, which then reads nothing).
    catch_up = after is not None and after != subscriber.floor
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        if catch_up:
            async with aclosing(replay(last, private=subscriber.private)) as chunks:
                async for chunk in chunks:
                    last = last_position(chunk)
                    yield chunk
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            return
        if handover is not None and handover(last):
            return
        live = await subscriber.wait(remaining)
        if subscriber.revoked:  # see Hub.revoke and Hub.recheck_credentials
            return
        catch_up = subscriber.take_overflow()  # what it dropped is read from the log
        fresh = [] if catch_up else [event for event in live if event.position > last]
        if fresh:
            last = fresh[-1].position
            yield fresh

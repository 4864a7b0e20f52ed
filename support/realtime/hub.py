"""The per-process fan-out of the event log to this process's listeners.

One :class:`Hub` per event loop (one per ASGI worker process) follows the
log and hands every new event to each local listener: WebSocket consumers and
long-poll requests through a :class:`Subscriber` each, django-eventstream's
SSE streams through a :class:`Relay` (:mod:`support.realtime.sse`). It also
tells them when a credential they use is revoked.

Why read the log instead of relaying channel-layer messages? Events from
different workers can reach the layer out of commit order, and a message can
be lost while Redis restarts. The layer's message is only a wake-up; the hub
then reads ``id > last`` from the database, where ids are in commit order
(:mod:`support.events`). So every listener sees every event meant for it (a
bot's never gets a managers-only one: :meth:`LiveEvent.reaches`), in order, with
one database query per wake-up per process, never one per listener, and each
event is serialised to JSON once. A timer reads the log too, so live delivery
carries on, a little later, while the channel layer is down.

A wake-up names its event (``event_id``). One for an event the hub has read,
or is reading, costs nothing: a change made in this process wakes its hub
twice, once from its own publication (:meth:`Hub.send_soon`) and once when
the channel layer echoes it, and only the first reads. And a hub with no
listener reads no rows at all: it only moves its position to the newest
event announced (or, on the timer's round, to the head of the log), so a
listener that arrives later starts from the right place.

A WebSocket that has caught up is on the fast path (:meth:`Subscriber.go_direct`):
the hub's loop over its listeners sends each event to its transport at
once, so an event costs no task wake-up per connection; only a connection
that is behind (replaying, or held back by a slow client) queues events for
a task of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import weakref
from collections import Counter, deque
from collections.abc import Callable
from typing import Any, Protocol

from channels.layers import get_channel_layer

from support import events
from support.actors import Actor, Credential
from support.conf import support_settings
from support.credentials import forget_here, revoked_credentials
from support.cursors import parse_position
from support.db import pooled
from support.error_bodies import is_unavailable
from support.exceptions import DatabaseUnreachable, TooManyStreams
from support.realtime.replay import (
    LiveEvent,
    Reset,
    current_position_async,
    is_private,
    replay,
)

logger = logging.getLogger(__name__)

#: Seconds between reads while the channel layer is failing.
DEGRADED_POLL_INTERVAL = 0.5
#: Seconds between re-joins of the layer group (Redis groups expire).
GROUP_REFRESH = 600.0
#: Events a listener may have pending before it must catch up from the log.
SUBSCRIBER_LIMIT = 2000


class Relay(Protocol):
    """A listener outside the hub's subscribers that takes every event and revocation."""

    def push(self, event: LiveEvent) -> None: ...

    def revoke(self, credentials: set[Credential]) -> None: ...


class Subscriber:
    """One listener's queue of live events, and the credential it listens with.

    ``floor`` is the hub's position when the listener subscribed: every event
    after it will be pushed here. The queue is bounded; a listener that falls
    that far behind is marked ``overflowed`` and re-reads the log instead.
    A subscriber made by :meth:`Hub.watch` gets no events, only ``revoked``.
    ``private``: whether it gets managers-only events (a manager's listener;
    never a bot's, see :func:`~support.realtime.replay.is_private`).

    The fast path. A listener that has caught up (its queue is empty) can
    :meth:`go_direct`: the hub then hands each event straight to its *sink*
    (the WebSocket consumer's send to its transport), in the hub's own loop
    over its listeners, with no queue, no wake-up and no task per listener.
    When the sink cannot finish a send at once (the server holds it back, the
    client reads slowly) or the credential is revoked, the listener leaves the
    fast path: ``floor`` becomes the last position it was handed, later events
    queue here again, and its *on_leave* callback starts what drains the
    queue (the consumer's pump). So each event reaches it once, in order.
    """

    # Thousands of these per worker, most of them idle: no __dict__, and the
    # queue and the wake-up made only when first needed (about 1.3 KiB each).
    __slots__ = ("_hub", "_last", "_on_leave", "_queue", "_ready", "_sink", "credential",
                 "floor", "overflowed", "private", "revoked", "wants_events")  # fmt: skip

    def __init__(
        self, hub: Hub, floor: int, actor: Actor | None = None, *, events: bool = True
    ) -> None:
        self.floor = floor
        self.credential = None if actor is None else actor.credential
        self.private = is_private(self.credential)
        self.wants_events = events
        self.overflowed = False
        #: Set when the credential is revoked: close the connection.
        self.revoked = False
        self._hub = hub
        self._queue: deque[LiveEvent] | None = None
        self._ready: asyncio.Event | None = None
        #: The fast path's sink and leave callback (see :meth:`go_direct`), and the
        #: last position handed to the sink.
        self._sink: Callable[[LiveEvent], bool] | None = None
        self._on_leave: Callable[[], None] | None = None
        self._last = floor

    @property
    def direct(self) -> bool:
        """Whether the hub hands events straight to this listener's sink (:meth:`go_direct`)."""
        return self._sink is not None

    def go_direct(
        self, last: int, sink: Callable[[LiveEvent], bool], on_leave: Callable[[], None]
    ) -> bool:
        """Take the fast path from here, if nothing waits: ``False`` (nothing changes) otherwise.

        *last*: the position the listener has sent up to (events at or before
        it, which its replay read ahead of the hub, are skipped). *sink* sends
        one event at once: ``True`` when it did, ``False`` when it took the
        event but could not finish (the listener is then behind). *on_leave*
        is called, once, when the listener leaves the fast path.
        """
        if self._queue or self.overflowed or self.revoked or not self.wants_events:
            return False
        self._sink, self._on_leave, self._last = sink, on_leave, last
        if self._ready is not None:
            self._ready.clear()
        return True

    def _leave(self, floor: int) -> None:
        """Off the fast path: events after *floor* queue here, for *on_leave*'s reader."""
        self.floor = floor
        self._sink = None
        on_leave, self._on_leave = self._on_leave, None
        if on_leave is not None:
            on_leave()

    def push(self, event: LiveEvent) -> None:
        sink = self._sink
        if sink is not None:
            if event.position <= self._last:
                return  # the listener's replay, which reads ahead of the hub, sent it
            floor, self._last = self._last, event.position
            try:
                if sink(event):
                    return
            except Exception:
                # Queued instead: the reader that drains the queue meets the failure
                # on its own send, and closes the connection as it would.
                logger.exception("A live event could not be handed to its listener.")
                self._leave(floor)
            else:
                self._leave(event.position)  # the sink has it, and finishes sending it
                return
        if self._queue is None:
            self._queue = deque()
        if len(self._queue) >= SUBSCRIBER_LIMIT:
            self.overflowed = True
            self._queue = None
        else:
            self._queue.append(event)
        if self._ready is not None:
            self._ready.set()

    def revoke(self) -> None:
        self.revoked = True
        if self._ready is not None:
            self._ready.set()
        if self._sink is not None:
            self._leave(self._last)  # its reader sees ``revoked`` and ends the stream

    async def wait(self, timeout: float | None = None) -> list[LiveEvent]:
        """The pending events, waiting up to *timeout* seconds for one (``[]`` on timeout)."""
        if not self._queue and not self.overflowed and not self.revoked:
            if self._ready is None:
                self._ready = asyncio.Event()
            try:
                # asyncio.timeout, not wait_for: on Python 3.11, wait_for can swallow a
                # cancellation that arrives as the event is set (python/cpython#86296).
                async with asyncio.timeout(timeout):
                    await self._ready.wait()
            except TimeoutError:
                return []
        if self._ready is not None:
            self._ready.clear()
        batch, self._queue = list(self._queue or ()), None
        return batch

    def take_overflow(self) -> bool:
        """Whether events were dropped since the last call (then re-read the log)."""
        overflowed, self.overflowed = self.overflowed, False
        return overflowed

    def close(self) -> None:
        self._sink = self._on_leave = None
        self._hub.unsubscribe(self)

    async def __aenter__(self) -> Subscriber:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()


class Hub:
    def __init__(self) -> None:
        self.position = 0
        #: The newest event a wake-up announced; events up to it are committed.
        self._announced = 0
        #: A wake-up that names no event (the layer re-joined, a test): read whatever.
        self._full = False
        self._subscribers: set[Subscriber] = set()
        #: Open streams per credential in this process (``MAX_STREAMS_PER_CREDENTIAL``).
        self._streams: Counter[Credential] = Counter()
        self._relays: list[Relay] = []
        self._wake = asyncio.Event()
        self._started = asyncio.Event()
        #: Set once the first read of the log was tried; its last failure, if any.
        self._tried = asyncio.Event()
        self._failure: Exception = RuntimeError("The support hub has not read the event log yet.")
        self._layer_ok = True
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sends: set[asyncio.Future[None]] = set()

    async def start(self) -> None:
        """Start following the log (once); return when the position is known.

        While the log can't be read (the database is down), raise at once
        instead: :class:`~support.exceptions.DatabaseUnreachable`, a 503.
        """
        self.start_soon()
        if self._started.is_set():
            return
        await self._tried.wait()
        if not self._started.is_set():
            raise DatabaseUnreachable() if is_unavailable(self._failure) else self._failure

    def start_soon(self) -> None:
        """Start following the log (once), from within the event loop; do not wait."""
        if self._task is None:
            self._loop = asyncio.get_running_loop()
            # A fresh context: the task must not inherit the first caller's
            # request context, or its database calls would run (and hold a
            # connection) in that request's thread for the life of the process.
            self._task = self._loop.create_task(
                self._run(), name="support-hub", context=contextvars.Context()
            )

    def has_read_through(self, position: int) -> bool:
        """Whether *position* is where this hub is: a reader there has nothing in the log to read.

        Every event after the hub's position reaches its subscribers, so a
        reader at it (a long-poll's next poll, usually) can subscribe and wait
        without reading the log first.
        """
        return self._started.is_set() and position == self.position

    async def subscribe(self, actor: Actor | None = None) -> Subscriber:
        """A queue of every event after now, for a connection of *actor*'s.

        Raises :class:`TooManyStreams` when *actor*'s credential already holds
        ``SUPPORT_MAX_STREAMS_PER_CREDENTIAL`` subscriptions in this process.
        """
        await self.start()
        return self._add(Subscriber(self, floor=self.position, actor=actor))

    async def watch(self, actor: Actor) -> Subscriber:
        """No events, only ``revoked``: for streams that get their events elsewhere (SSE)."""
        await self.start()
        return self._add(Subscriber(self, floor=self.position, actor=actor, events=False))

    def _add(self, subscriber: Subscriber) -> Subscriber:
        credential = subscriber.credential
        if credential is not None:
            limit = support_settings.MAX_STREAMS_PER_CREDENTIAL
            if limit and self._streams[credential] >= limit:
                raise TooManyStreams()
            self._streams[credential] += 1
        self._subscribers.add(subscriber)
        return subscriber

    def relay(self, relay: Relay) -> None:
        """Hand every event and every revocation to *relay* as well, from now on (once)."""
        if relay not in self._relays:
            self._relays.append(relay)

    def unsubscribe(self, subscriber: Subscriber) -> None:
        if subscriber not in self._subscribers:
            return  # closed twice
        self._subscribers.discard(subscriber)
        credential = subscriber.credential
        if credential is not None:
            self._streams[credential] -= 1
            if self._streams[credential] <= 0:
                del self._streams[credential]

    @property
    def listener_count(self) -> int:
        return len(self._subscribers)

    def wake(self) -> None:
        """Read the log after the position now, whatever was announced."""
        self._full = True
        self._wake.set()

    def _announce(self, position: int | None) -> None:
        """A wake-up for the event at *position*: none if the hub read it or will."""
        if position is None:
            self.wake()
        elif position > self._announced and position > self.position:
            self._announced = position
            self._wake.set()

    def revoke(self, credentials: set[Credential]) -> None:
        """Close this process's connections that use one of *credentials*."""
        forget_here()  # and make this worker look every credential up again
        for subscriber in list(self._subscribers):
            if subscriber.credential in credentials:
                subscriber.revoke()
        for relay in self._relays:
            relay.revoke(credentials)

    def on_message(self, message: dict[str, object]) -> None:
        if message.get("type") == events.REVOKED_MESSAGE_TYPE:
            bot_key = message.get("bot_key")
            if isinstance(bot_key, int):
                self.revoke({Credential("bot", bot_key)})
        else:
            # This process's own changes woke it already (send_soon): the
            # layer's echo of that wake-up needs no read of the log.
            self._announce(parse_position(str(message.get("event_id", ""))))

    async def recheck_credentials(self) -> None:
        """Re-check every credential with an open connection here, in one go.

        Revoked keys are also broadcast (:meth:`revoke`); this catches what
        no broadcast reports (a manager deactivated or stripped of the
        permission) and a broadcast lost with the channel layer.
        """
        credentials = {s.credential for s in self._subscribers if s.credential is not None}
        if credentials:
            revoked = await revoked_credentials_async(credentials)
            if revoked:
                self.revoke(revoked)

    def send_soon(self, message: dict[str, Any]) -> bool:
        """From any thread: send *message* to the layer group from this hub's loop, later.

        ``False`` when the loop is gone; the caller then sends it itself. A
        wake-up for an event also wakes this process's hub at once.
        """
        loop = self._loop
        if loop is None or loop.is_closed():
            return False
        try:
            loop.call_soon_threadsafe(self._send, message)
        except RuntimeError:  # the loop closed meanwhile
            return False
        return True

    def _send(self, message: dict[str, Any]) -> None:
        if message.get("type") == events.CHANNEL_MESSAGE_TYPE:
            self._announce(parse_position(str(message.get("event_id", ""))))
        layer = get_channel_layer()
        if layer is None:
            return
        task = asyncio.ensure_future(layer.group_send(support_settings.CHANNEL_GROUP, message))
        self._sends.add(task)  # a reference, until it is done

        def sent(task: asyncio.Future[None]) -> None:
            self._sends.discard(task)
            if not task.cancelled() and task.exception() is not None:
                logger.warning(
                    "Could not publish %s (%s); readers will get it from the log.",
                    message,
                    task.exception(),
                )

        task.add_done_callback(sent)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                self.position = await current_position_async()
                break
            except Exception as error:
                _log_failure("The support hub cannot read the event log; retrying.", error)
                self._failure = error
                self._tried.set()
                await asyncio.sleep(DEGRADED_POLL_INTERVAL)
        self._started.set()
        self._tried.set()
        events.send_in_background(self.send_soon)
        listener = asyncio.create_task(self._listen(), name="support-hub-layer")
        auditor = asyncio.create_task(self._recheck_periodically(), name="support-hub-audit")
        try:
            while True:
                interval = (
                    support_settings.HUB_POLL_INTERVAL
                    if self._layer_ok
                    else min(DEGRADED_POLL_INTERVAL, support_settings.HUB_POLL_INTERVAL)
                )
                # Not wait_for: on Python 3.11 it can swallow the cancellation that
                # stop() sends when a wake-up lands at the same moment, and the hub
                # then runs on with stop() waiting for it forever.
                timed_out = False
                try:
                    async with asyncio.timeout(interval):
                        await self._wake.wait()
                except TimeoutError:
                    timed_out = True  # the safety net's round: read whatever was announced
                self._wake.clear()
                full, self._full = self._full or timed_out, False
                try:
                    await self._catch_up(full)
                except Exception as error:
                    _log_failure("The support hub could not read the event log.", error)
                    await asyncio.sleep(DEGRADED_POLL_INTERVAL)
                    if self._announced > self.position:
                        # Its wake-up was spent on the failed read, and the layer's
                        # echo of it does not wake the hub again: retry now.
                        self._wake.set()
        finally:
            events.send_in_background(self.send_soon, stop=True)
            listener.cancel()
            auditor.cancel()

    async def _recheck_periodically(self) -> None:
        while True:
            await asyncio.sleep(support_settings.CREDENTIAL_RECHECK_INTERVAL)
            try:
                await self.recheck_credentials()
            except Exception as error:
                _log_failure("The support hub could not re-check credentials.", error)

    def _listened(self) -> bool:
        """Whether anyone here is owed events. A relay's listeners count through their
        watches: an SSE stream holds one (:meth:`watch`) for as long as it is open, so a
        relay left registered after the last stream closed costs no read."""
        return bool(self._subscribers)

    async def _catch_up(self, full: bool) -> None:
        """After a wake-up: read the log if it may hold an event a listener is owed.

        Not *full* (every wake-up named its event): nothing to read when the
        hub has read up to the newest one announced. With nobody listening,
        no rows are read: the position moves to the newest event announced,
        or on a *full* round to the head of the log (the announcements may
        have been lost with the channel layer). A listener's own replay
        starts from its cursor, and its live events after this position.
        """
        if not self._listened():
            if not full:
                self.position = max(self.position, self._announced)
                return
            head = await current_position_async()
            if not self._listened():
                self.position = max(self.position, head)
                return
            # A listener arrived during the read: it is owed what follows
            # the position it subscribed at, so read from there.
        elif not full and self._announced <= self.position:
            return
        await self._dispatch_new()

    async def _dispatch_new(self) -> None:
        async with contextlib.aclosing(replay(self.position)) as chunks:
            async for chunk in chunks:
                if isinstance(chunk, Reset):
                    # This process slept past the retention window; nobody can be
                    # waiting for what was trimmed, so carry on from the present.
                    self.position = chunk.position
                    continue
                for event in chunk:
                    self._dispatch(event)

    def _dispatch(self, event: LiveEvent) -> None:
        self.position = event.position
        for subscriber in list(self._subscribers):
            # The one JSON text for all; a managers-only event skips bots' listeners.
            if subscriber.wants_events and event.reaches(subscriber.private):
                subscriber.push(event)
        for relay in self._relays:
            relay.push(event)

    async def _listen(self) -> None:
        """Wake the hub on every publication to the channel-layer group."""
        layer = get_channel_layer()
        if layer is None:
            return
        group = support_settings.CHANNEL_GROUP
        while True:
            try:
                channel = await layer.new_channel()
                await layer.group_add(group, channel)
                self._layer_ok = True
                self.wake()  # anything published while we were away
                joined = asyncio.get_running_loop().time()
                while True:
                    self.on_message(await layer.receive(channel))
                    if asyncio.get_running_loop().time() - joined > GROUP_REFRESH:
                        await layer.group_add(group, channel)
                        joined = asyncio.get_running_loop().time()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if self._layer_ok:
                    logger.warning(
                        "Channel layer unavailable (%s); reading the event log every %.1fs.",
                        error,
                        DEGRADED_POLL_INTERVAL,
                    )
                self._layer_ok = False
                await asyncio.sleep(DEGRADED_POLL_INTERVAL)


def _log_failure(message: str, error: Exception) -> None:
    """A bug with its traceback; a database that can't serve now at debug level only.

    During an outage the hub retries every :data:`DEGRADED_POLL_INTERVAL`;
    :mod:`support.db` logs the outage's start and end once each.
    """
    if is_unavailable(error):
        logger.debug("%s (%s)", message, error)
    else:
        logger.exception(message)


revoked_credentials_async = pooled(revoked_credentials)

_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub] = weakref.WeakKeyDictionary()


def with_hub(application: Any) -> Any:
    """Wrap an ASGI *application* so the process's hub starts with its first request.

    Then a change a request makes publishes its wake-up through the hub's
    loop (:meth:`Hub.send_soon`) even before anyone listens in this process,
    instead of waiting for the channel layer in the request.
    """

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> Any:
        get_hub().start_soon()
        return await application(scope, receive, send)

    return app


def get_hub() -> Hub:
    """This event loop's hub (ASGI servers run one loop per process)."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        hub = _hubs[loop] = Hub()
    return hub

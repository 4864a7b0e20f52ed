"""Reading the log: the replay in batches, the reset, the subscribe-then-read seam."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from support import events, services
from support.actors import Actor
from support.models import BotKey, Event
from support.realtime import replay as replay_module
from support.realtime.hub import Hub, Subscriber
from support.realtime.replay import Chunk, LiveEvent, Reset, follow, replay, reset_if_expired
from tests.test_realtime_websocket import setup_world

pytestmark = pytest.mark.django_db(transaction=True)


async def collect(chunks: Any) -> list[Chunk]:
    return [chunk async for chunk in chunks]


def positions(chunks: list[Chunk]) -> list[int | str]:
    """Each event's position, and ``"reset@<n>"`` for a reset."""
    return [
        f"reset@{chunk.position}" if isinstance(chunk, Reset) else event.position
        for chunk in chunks
        for event in ([chunk] if isinstance(chunk, Reset) else chunk)
    ]


@sync_to_async
def post(ticket_id: int, text: str) -> int:
    bot = Actor.for_bot(BotKey.objects.get())
    services.post_message(bot, ticket_id, text=text)
    return events.current_position()


@sync_to_async
def expire_everything() -> int:
    Event.objects.update(created_at=timezone.now() - timedelta(days=30))
    events.trim()
    return events.trimmed_through()


def subscriber_at(floor: int) -> Subscriber:
    """A subscriber no hub feeds: the test pushes its live events by hand."""
    return Subscriber(Hub(), floor=floor)


def live(position: int) -> LiveEvent:
    return LiveEvent(position, "ticket.updated", f'{{"event_id":"support:{position}"}}')


async def test_replay_reads_in_batches_up_to_the_head(monkeypatch):
    world = await setup_world()
    logged = await sync_to_async(lambda: list(Event.objects.values_list("id", flat=True)))()
    monkeypatch.setattr(replay_module, "BATCH", 2)
    chunks = await collect(replay(0))
    assert [len(chunk) for chunk in chunks if not isinstance(chunk, Reset)] == [
        *[2] * (len(logged) // 2),
        *[1] * (len(logged) % 2),
    ]
    assert positions(chunks) == sorted(logged)
    assert await collect(replay(world["cursor"])) == []


async def test_replay_of_an_expired_cursor_resets_to_the_head():
    world = await setup_world()
    head = await expire_everything()
    assert head == world["cursor"]
    assert await collect(replay(1)) == [Reset(head)]
    assert await reset_if_expired(1) == Reset(head)
    assert await reset_if_expired(head) is None


def test_reset_frame_is_the_stream_reset_event():
    assert Reset(7).cursor == "support:7"
    assert Reset(7).json == '{"type":"stream.reset","event_id":"support:7"}'


async def test_follow_drops_the_queued_copy_of_an_event_it_read_at_the_seam():
    world = await setup_world()
    start = world["cursor"]
    subscriber = subscriber_at(start)
    # Committed after the subscription, before the read: both read and queued.
    seam = await post(world["queued"], "at the seam")
    subscriber.push(live(seam))
    feed = follow(subscriber, start)
    assert positions([await anext(feed)]) == [seam]
    subscriber.push(live(seam + 1))  # then live only
    assert positions([await anext(feed)]) == [seam + 1]
    subscriber.revoke()
    assert await collect(feed) == []  # a revoked credential ends the feed


async def test_follow_without_a_cursor_is_live_only():
    world = await setup_world()
    subscriber = subscriber_at(world["cursor"])
    feed = follow(subscriber, None, timeout=0.2)
    subscriber.push(live(world["cursor"] + 1))
    assert positions(await collect(feed)) == [world["cursor"] + 1]  # no replay, then the timeout


async def test_follow_re_reads_the_log_after_an_overflow(monkeypatch):
    world = await setup_world()
    monkeypatch.setattr("support.realtime.hub.SUBSCRIBER_LIMIT", 1)
    subscriber = subscriber_at(world["cursor"])
    first = await post(world["queued"], "one")
    second = await post(world["queued"], "two")
    subscriber.push(live(first))
    subscriber.push(live(second))  # over the limit: dropped, marked overflowed
    feed = follow(subscriber, None, timeout=0.5)
    assert positions(await collect(feed)) == [first, second]


async def test_follow_resets_an_expired_cursor_then_goes_live():
    world = await setup_world()
    head = await expire_everything()
    subscriber = subscriber_at(head)
    subscriber.push(live(head + 1))
    assert positions(await collect(follow(subscriber, 1, timeout=0.2))) == [
        f"reset@{head}",
        head + 1,
    ]
    assert world["cursor"] == head


async def test_follow_with_a_timeout_ends_empty_when_nothing_commits():
    world = await setup_world()
    subscriber = subscriber_at(world["cursor"])
    assert await collect(follow(subscriber, world["cursor"], timeout=0.1)) == []
    assert not subscriber.revoked

"""The per-process hub: one log read per wake-up, one JSON text per event."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async

from support import services
from support.actors import Actor
from support.models import BotKey
from support.realtime import hub as hub_module
from tests.test_realtime_websocket import setup_world

pytestmark = pytest.mark.django_db(transaction=True)


async def test_fan_out_reads_once_and_serialises_once(stop_hub, monkeypatch):
    world = await setup_world()
    reads: list[int] = []
    original = hub_module.read_log

    def counting_read(after: int, limit: int = hub_module.BATCH) -> list[hub_module.LiveEvent]:
        reads.append(after)
        return original(after, limit)

    monkeypatch.setattr(hub_module, "read_log_async", sync_to_async(counting_read))
    hub = hub_module.get_hub()
    subscribers = [await hub.subscribe() for _ in range(50)]
    reads.clear()

    bot = Actor.for_bot(await sync_to_async(BotKey.objects.get)())
    await sync_to_async(services.post_message)(bot, world["queued"], text="to everyone")
    batches = [await subscriber.wait(timeout=5) for subscriber in subscribers]

    assert len(reads) <= 2  # one read per wake-up, however many listeners
    first = batches[0][0]
    assert first.type == "ticket.message.new"
    assert all(batch == [first] for batch in batches)
    assert all(batch[0].json is first.json for batch in batches)  # the same string object
    for subscriber in subscribers:
        subscriber.close()
    assert hub.listener_count == 0


async def test_slow_listener_overflows_and_is_told_to_catch_up(stop_hub, monkeypatch):
    world = await setup_world()
    monkeypatch.setattr(hub_module, "SUBSCRIBER_LIMIT", 2)
    hub = hub_module.get_hub()
    async with await hub.subscribe() as subscriber:
        bot = Actor.for_bot(await sync_to_async(BotKey.objects.get)())
        for i in range(3):
            await sync_to_async(services.post_message)(bot, world["queued"], text=f"m{i}")
        hub.wake()
        for _ in range(50):  # the listener reads nothing meanwhile: it is slow
            if subscriber.overflowed:
                break
            await asyncio.sleep(0.1)
        assert subscriber.take_overflow()
        assert await subscriber.wait(timeout=0) == []  # dropped: re-read the log instead
        assert not subscriber.take_overflow()


async def test_hub_keeps_delivering_when_the_channel_layer_is_down(stop_hub, settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "no.such.Layer"}}
    settings.SUPPORT_HUB_POLL_INTERVAL = 0.2
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    try:
        world = await setup_world()
        hub = hub_module.get_hub()
        async with await hub.subscribe() as subscriber:
            bot = Actor.for_bot(await sync_to_async(BotKey.objects.get)())
            await sync_to_async(services.resolve)(bot, world["queued"])
            batch = await subscriber.wait(timeout=5)
            assert [event.type for event in batch] == ["ticket.resolved"]
    finally:
        channel_layers.backends.clear()

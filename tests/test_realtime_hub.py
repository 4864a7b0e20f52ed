"""The per-process hub: one log read per wake-up, one JSON text per event."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

from support import services
from support.actors import Actor, Credential
from support.models import BotKey
from support.realtime import hub as hub_module
from support.realtime import replay as replay_module
from tests.test_realtime_websocket import setup_world

pytestmark = pytest.mark.django_db(transaction=True)


async def test_fan_out_reads_once_and_serialises_once(stop_hub, monkeypatch):
    world = await setup_world()
    reads: list[int] = []
    original = replay_module.read_log

    def counting_read(
        after: int, limit: int = replay_module.BATCH
    ) -> list[replay_module.LiveEvent]:
        reads.append(after)
        return original(after, limit)

    monkeypatch.setattr(replay_module, "read_log_async", sync_to_async(counting_read))
    hub = hub_module.get_hub()
    subscribers = [await hub.subscribe() for _ in range(50)]
    reads.clear()

    bot = Actor.for_bot(await sync_to_async(BotKey.objects.get)())
    await sync_to_async(services.post_message)(bot, world["queued"], text="to everyone")
    batches = [await subscriber.wait(timeout=5) for subscriber in subscribers]

    # One read per wake-up, however many listeners: the change's own, the
    # layer's if it lands while that read runs, and the hub's timer.
    assert len(reads) <= 3
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


async def test_credentials_are_rechecked_once_per_credential_not_per_connection(
    stop_hub, monkeypatch
):
    world = await setup_world()
    from django.contrib.auth.models import Permission, User

    alice = await sync_to_async(User.objects.get)(username="alice")
    bob = await sync_to_async(User.objects.get)(username="bob")
    key = await sync_to_async(BotKey.objects.get)()
    calls: list[set[Credential]] = []
    original = hub_module.revoked_credentials_async

    async def counting(credentials: set[Credential]) -> set[Credential]:
        calls.append(set(credentials))
        return await original(credentials)

    monkeypatch.setattr(hub_module, "revoked_credentials_async", counting)
    hub = hub_module.get_hub()
    alices = [await hub.subscribe(Actor.for_manager(alice)) for _ in range(30)]
    bobs = [await hub.subscribe(Actor.for_manager(bob)) for _ in range(5)]
    bots = [await hub.subscribe(Actor.for_bot(key)) for _ in range(30)]
    sse_watch = await hub.watch(Actor.for_manager(alice))

    await hub.recheck_credentials()
    assert calls == [{("manager", alice.pk), ("manager", bob.pk), ("bot", key.pk)}]
    assert not any(s.revoked for s in [*alices, *bobs, *bots, sse_watch])

    permission = await sync_to_async(Permission.objects.get)(codename="manage_tickets")
    await sync_to_async(alice.user_permissions.remove)(permission)
    await hub.recheck_credentials()
    assert len(calls) == 2
    assert all(s.revoked for s in [*alices, sse_watch])
    assert not any(s.revoked for s in [*bobs, *bots])
    assert world["alice_id"] == alice.pk


def test_revoked_credentials_costs_queries_per_credential_kind(db, django_assert_num_queries):
    from django.contrib.auth.models import User

    from support.botkeys import create_bot_key
    from support.credentials import revoked_credentials
    from support.services import revoke_bot_key
    from tests.conftest import make_manager

    alice = make_manager("alice")
    eve = User.objects.create_user("eve")
    keys = [create_bot_key(f"bot {n}")[0] for n in range(3)]
    revoke_bot_key(keys[1])
    wanted = {
        Credential("manager", alice.pk),
        Credential("manager", eve.pk),
        *(Credential("bot", key.pk) for key in keys),
    }
    # bot keys: 1; users: 1; Django's permission check per active user: 2 each.
    with django_assert_num_queries(2 + 2 * 2):
        revoked = revoked_credentials(wanted)
    assert revoked == {("manager", eve.pk), ("bot", keys[1].pk)}
    assert revoked_credentials(set()) == set()


async def test_a_relay_gets_every_event_and_every_revocation(stop_hub):
    world = await setup_world()
    pushed: list[int] = []
    revoked: list[set[Credential]] = []

    class Recorder:
        def push(self, event: replay_module.LiveEvent) -> None:
            pushed.append(event.position)

        def revoke(self, credentials: set[Credential]) -> None:
            revoked.append(credentials)

    recorder = Recorder()
    hub = hub_module.get_hub()
    hub.relay(recorder)
    hub.relay(recorder)  # once, however often it is handed over
    await hub.start()
    async with await hub.subscribe() as subscriber:
        bot = Actor.for_bot(await sync_to_async(BotKey.objects.get)())
        await sync_to_async(services.resolve)(bot, world["queued"])
        batch = await subscriber.wait(timeout=5)
    assert pushed == [event.position for event in batch] == [world["cursor"] + 1]
    hub.on_message({"type": "support.revoked", "bot_key": 7})
    assert revoked == [{("bot", 7)}]


async def test_a_change_does_not_wait_for_its_publication(stop_hub, monkeypatch, caplog):
    """With a hub running, the wake-up is sent from its loop; the change returns first."""
    world = await setup_world()
    hub = hub_module.get_hub()
    await hub.start()
    layer = get_channel_layer()
    assert layer is not None
    released = asyncio.Event()
    sent: list[dict[str, object]] = []

    async def stuck_group_send(group: str, message: dict[str, object]) -> None:
        await released.wait()  # a channel layer that has not answered yet
        sent.append(message)
        raise ConnectionError("the layer went away")

    monkeypatch.setattr(layer, "group_send", stuck_group_send)
    async with await hub.subscribe() as subscriber:
        bot = Actor.for_bot(await sync_to_async(BotKey.objects.get)())
        post = sync_to_async(services.post_message)(bot, world["queued"], text="no wait")
        try:
            # Returns although the layer has not taken the wake-up...
            await asyncio.wait_for(post, 10)
            # ...and this process's listeners get the event anyway.
            [event] = await subscriber.wait(timeout=5)
            assert event.type == "ticket.message.new"
            assert sent == []
        finally:
            released.set()
    for _ in range(50):
        if "Could not publish" in caplog.text:
            break
        await asyncio.sleep(0.02)
    assert sent == [{"type": "support.event", "event_id": f"support:{event.position}"}]
    assert "Could not publish" in caplog.text  # a failure is still logged, by the hub

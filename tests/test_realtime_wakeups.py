"""The hub's wake-ups: one read per new event with a listener, none without one."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

from support import events, services
from support.actors import Actor
from support.cursors import format_cursor
from support.models import BotKey
from support.realtime import hub as hub_module
from support.realtime import replay as replay_module
from support.realtime.replay import follow
from tests.test_realtime_websocket import setup_world

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch, settings: Any) -> list[str]:
    """Every read of the log by the hub: ``rows after N`` or ``head``; no timer round."""
    settings.SUPPORT_HUB_POLL_INTERVAL = 60
    seen: list[str] = []

    def counted(name: str, original: Callable[..., Awaitable[Any]]) -> Callable[..., Any]:
        async def read(*args: Any) -> Any:
            seen.append(name if not args else f"{name} after {args[0]}")
            return await original(*args)

        return read

    monkeypatch.setattr(
        replay_module, "read_log_async", counted("rows", replay_module.read_log_async)
    )
    monkeypatch.setattr(
        hub_module, "current_position_async", counted("head", replay_module.current_position_async)
    )
    return seen


async def settle() -> None:
    """Let the layer's echoes and the hub's wake-ups run out."""
    for _ in range(10):
        await asyncio.sleep(0.02)


async def post(world: dict[str, Any], text: str) -> None:
    bot = Actor.for_bot(await sync_to_async(BotKey.objects.get)())
    await sync_to_async(services.post_message)(bot, world["queued"], text=text)


@pytest.mark.parametrize("after_sse", [False, True], ids=["fresh", "after-an-sse-stream"])
async def test_posts_with_no_listener_read_nothing(stop_hub, reads, after_sse):
    from support.realtime.sse import EVENTSTREAM_RELAY

    world = await setup_world()
    hub = hub_module.get_hub()
    if after_sse:  # an SSE stream registered the relay, and has closed since
        hub.relay(EVENTSTREAM_RELAY)
    await hub.start()
    await settle()  # the hub's first join of the layer group asks for the head once
    reads.clear()
    for n in range(5):
        await post(world, f"nobody listens {n}")
    await settle()
    assert reads == []
    assert hub.position == world["cursor"] + 5  # from the wake-ups' event ids


async def test_one_read_per_post_with_a_listener(stop_hub, reads):
    world = await setup_world()
    hub = hub_module.get_hub()
    async with await hub.subscribe() as subscriber:
        await settle()
        reads.clear()
        for n in range(5):
            await post(world, f"to you {n}")
            [event] = await subscriber.wait(timeout=5)
            assert event.position == world["cursor"] + 1 + n
            await settle()  # the layer's echo of the same wake-up arrives here
        # The change's own wake-up reads; its echo from the layer does not.
        assert reads == [f"rows after {world['cursor'] + n}" for n in range(5)]


async def test_a_wake_up_for_an_event_already_read_reads_nothing(stop_hub, reads):
    world = await setup_world()
    hub = hub_module.get_hub()
    async with await hub.subscribe() as subscriber:
        await post(world, "read once")
        [event] = await subscriber.wait(timeout=5)
        await settle()
        reads.clear()
        for position in (event.position, event.position - 1):
            wake_up: dict[str, Any] = {
                "type": events.CHANNEL_MESSAGE_TYPE,
                "event_id": format_cursor(position),
            }
            hub.on_message(wake_up)  # the layer's
            hub.send_soon(wake_up)  # this process's own
        await settle()
        assert reads == []
        # A wake-up that names no event still reads.
        hub.on_message({"type": events.CHANNEL_MESSAGE_TYPE})
        await settle()
        assert reads == [f"rows after {event.position}"]
        assert await subscriber.wait(timeout=0) == []


async def test_a_wake_up_for_a_newer_event_reads_it(stop_hub, reads):
    """An event committed elsewhere whose wake-up comes from the layer alone."""
    world = await setup_world()
    hub = hub_module.get_hub()
    async with await hub.subscribe() as subscriber:
        await settle()
        reads.clear()
        events.send_in_background(hub.send_soon, stop=True)  # as if another process posted
        layer = get_channel_layer()
        assert layer is not None
        await post(world, "from elsewhere")
        await settle()
        events.send_in_background(hub.send_soon)
        [event] = await subscriber.wait(timeout=5)
        assert event.position == world["cursor"] + 1
        assert reads == [f"rows after {world['cursor']}"]


async def test_a_listener_after_silent_posts_gets_them_all_in_order(stop_hub, reads):
    world = await setup_world()
    hub = hub_module.get_hub()
    await hub.start()
    await settle()
    reads.clear()
    for n in range(3):
        await post(world, f"before anyone {n}")
    await settle()
    assert reads == []
    got: list[int] = []
    async with await hub.subscribe() as late, await hub.subscribe() as from_now:
        assert late.floor == from_now.floor == world["cursor"] + 3
        stream = follow(late, world["cursor"], timeout=3)
        chunk = await anext(stream)
        assert not isinstance(chunk, replay_module.Reset)
        got += [event.position for event in chunk]
        for n in range(2):
            await post(world, f"after {n}")
        while len(got) < 5:
            chunk = await anext(stream)
            assert not isinstance(chunk, replay_module.Reset)
            got += [event.position for event in chunk]
        await stream.aclose()
        assert got == [world["cursor"] + 1 + n for n in range(5)]
        # A listener "from now" gets only what followed its subscription.
        live = await from_now.wait(timeout=5)
        while len(live) < 2:
            live += await from_now.wait(timeout=5)
        assert [event.position for event in live] == [world["cursor"] + 4, world["cursor"] + 5]


async def test_the_timer_moves_an_idle_hub_to_the_head(stop_hub, reads, settings):
    """Wake-ups lost with the channel layer: the timer's round asks the head, no rows."""
    world = await setup_world()
    hub = hub_module.get_hub()
    await hub.start()
    events.send_in_background(hub.send_soon, stop=True)
    layer = get_channel_layer()
    assert layer is not None

    async def lost(group: str, message: dict[str, object]) -> None:
        return None

    original = layer.group_send
    layer.group_send = lost
    try:
        await post(world, "lost wake-up")
        await settle()
        assert hub.position == world["cursor"]
        reads.clear()
        settings.SUPPORT_HUB_POLL_INTERVAL = 0.05
        hub.wake()  # the hub takes the shorter interval from its next wait
        for _ in range(50):
            if hub.position == world["cursor"] + 1:
                break
            await asyncio.sleep(0.02)
        assert hub.position == world["cursor"] + 1
        assert reads
        assert set(reads) == {"head"}
    finally:
        layer.group_send = original
        events.send_in_background(hub.send_soon)


async def test_a_failed_read_is_retried_without_waiting_for_the_timer(stop_hub, reads, monkeypatch):
    """The echo of a wake-up spent on a failed read wakes nothing: the hub retries itself."""
    world = await setup_world()
    monkeypatch.setattr(hub_module, "DEGRADED_POLL_INTERVAL", 0.05)
    hub = hub_module.get_hub()
    original = replay_module.read_log_async
    failures = [ConnectionError("the database went away")]

    async def failing_once(*args: Any) -> Any:
        if failures:
            raise failures.pop()
        return await original(*args)

    async with await hub.subscribe() as subscriber:
        await settle()
        monkeypatch.setattr(replay_module, "read_log_async", failing_once)
        await post(world, "after the blip")
        [event] = await subscriber.wait(timeout=5)  # the timer's round is a minute away
        assert event.position == world["cursor"] + 1
        assert failures == []

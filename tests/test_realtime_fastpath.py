"""The hub's fast path: caught-up listeners get each event from the hub's loop, no task each.

A listener that falls behind (its send held back, its sink failing, its
credential revoked) leaves the fast path for its own queue and pump, and
still gets every event once and in order; once caught up it takes the fast
path again.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Coroutine
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from support import services
from support.actors import Actor, Credential
from support.models import BotKey
from support.realtime import consumer as consumer_module
from support.realtime.backlog import WriteBacklog
from support.realtime.hub import Hub, Subscriber, get_hub
from support.realtime.replay import LiveEvent, follow
from tests.test_realtime_websocket import application, connect, setup_world

__all__ = ["application"]  # a fixture, used by name


def event(position: int, managers_only: bool = False) -> LiveEvent:
    return LiveEvent(position, "ticket.assigned", f'{{"n":{position}}}', managers_only)


class Sink:
    """A fast-path sink that records what it is handed; *refuse* makes it fall behind."""

    def __init__(self, refuse: set[int] | None = None) -> None:
        self.sent: list[int] = []
        self.refuse = refuse or set()
        self.left = 0

    def __call__(self, live: LiveEvent) -> bool:
        self.sent.append(live.position)
        return live.position not in self.refuse

    def leave(self) -> None:
        self.left += 1


def direct_subscriber(hub: Hub, sink: Sink, *, last: int = 0, manager: bool = True) -> Subscriber:
    subscriber = Subscriber(hub, floor=0)
    subscriber.private = manager
    assert subscriber.go_direct(last, sink, sink.leave)
    hub._subscribers.add(subscriber)
    return subscriber


async def test_a_caught_up_listener_gets_each_event_from_the_hub_loop_with_no_task() -> None:
    hub = Hub()
    sinks = [Sink() for _ in range(20)]
    subscribers = [direct_subscriber(hub, sink) for sink in sinks]
    tasks = len(asyncio.all_tasks())
    for position in range(1, 6):
        hub._dispatch(event(position))
    assert all(sink.sent == [1, 2, 3, 4, 5] for sink in sinks)
    assert len(asyncio.all_tasks()) == tasks  # no task, no wake-up per listener
    idle = [s.direct and not s._queue and not (s._ready and s._ready.is_set()) for s in subscribers]
    assert all(idle)


async def test_the_fast_path_keeps_managers_only_events_from_bots() -> None:
    hub = Hub()
    manager, bot = Sink(), Sink()
    direct_subscriber(hub, manager)
    direct_subscriber(hub, bot, manager=False)
    for live in (event(1), event(2, managers_only=True), event(3)):
        hub._dispatch(live)
    assert manager.sent == [1, 2, 3]
    assert bot.sent == [1, 3]


async def test_events_the_replay_sent_ahead_of_the_hub_are_not_sent_again() -> None:
    hub = Hub()
    sink = Sink()
    direct_subscriber(hub, sink, last=5)  # its replay read up to 5; the hub is at 3
    for position in (4, 5, 6, 7):
        hub._dispatch(event(position))
    assert sink.sent == [6, 7]


async def test_a_listener_with_events_waiting_does_not_take_the_fast_path() -> None:
    hub = Hub()
    waiting = Subscriber(hub, floor=0)
    waiting.push(event(1))
    assert not waiting.go_direct(1, Sink(), lambda: None)
    overflowed = Subscriber(hub, floor=0)
    overflowed.overflowed = True
    assert not overflowed.go_direct(0, Sink(), lambda: None)
    revoked = Subscriber(hub, floor=0)
    revoked.revoke()
    assert not revoked.go_direct(0, Sink(), lambda: None)
    watch = Subscriber(hub, floor=0, events=False)
    assert not watch.go_direct(0, Sink(), lambda: None)


async def test_a_listener_that_falls_behind_mid_burst_gets_the_rest_in_order_once() -> None:
    hub = Hub()
    sink = Sink(refuse={3})  # the send of 3 is held back: the sink finishes it later
    subscriber = direct_subscriber(hub, sink)
    for position in range(1, 8):
        hub._dispatch(event(position))
    assert sink.sent == [1, 2, 3]
    assert sink.left == 1
    assert not subscriber.direct
    assert subscriber.floor == 3
    # Its reader drains the queue from there, and hands back once caught up.
    got: list[int] = []
    handed: list[int] = []

    def handover(last: int) -> bool:
        handed.append(last)
        return subscriber.go_direct(last, sink, sink.leave)

    async for chunk in follow(subscriber, None, handover=handover):
        assert isinstance(chunk, list)
        got += [live.position for live in chunk]
    assert got == [4, 5, 6, 7]
    assert handed == [3, 7]  # refused at first (events waiting), taken once drained
    assert subscriber.direct
    hub._dispatch(event(8))
    assert sink.sent == [1, 2, 3, 8]


async def test_a_sink_that_fails_leaves_the_event_queued_for_its_reader() -> None:
    hub = Hub()
    left: list[int] = []
    subscriber = Subscriber(hub, floor=0)
    hub._subscribers.add(subscriber)

    def broken(live: LiveEvent) -> bool:
        raise RuntimeError("gone")

    assert subscriber.go_direct(1, broken, lambda: left.append(subscriber.floor))
    hub._dispatch(event(2))
    hub._dispatch(event(3))
    assert left == [1]
    assert [live.position for live in await subscriber.wait(timeout=1)] == [2, 3]


async def test_a_revocation_takes_a_listener_off_the_fast_path_at_once() -> None:
    hub = Hub()
    sink = Sink()
    subscriber = Subscriber(hub, floor=0, actor=None)
    subscriber.credential = Credential("bot", 7)
    hub._subscribers.add(subscriber)
    assert subscriber.go_direct(0, sink, sink.leave)
    hub.revoke({Credential("bot", 7)})
    assert sink.left == 1
    assert subscriber.revoked
    assert not subscriber.direct
    hub._dispatch(event(1))
    assert sink.sent == []
    assert [chunk async for chunk in follow(subscriber, None)] == []  # the stream ends


async def test_a_closed_listener_gets_nothing_more() -> None:
    hub = Hub()
    sink = Sink()
    subscriber = direct_subscriber(hub, sink)
    subscriber.close()
    assert not subscriber.direct
    hub._dispatch(event(1))
    assert sink.sent == []


async def test_started_runs_a_send_that_does_not_wait_at_once_and_finishes_one_that_does() -> None:
    sent: list[str] = []

    async def quick() -> None:
        sent.append("quick")

    assert consumer_module.started(quick()) is None
    assert sent == ["quick"]

    gate: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def held() -> None:
        sent.append(await gate)

    rest = consumer_module.started(held())
    assert rest is not None
    assert sent == ["quick"]
    asyncio.get_running_loop().call_soon(gate.set_result, "held")
    await rest
    assert sent == ["quick", "held"]

    stuck: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def never() -> None:
        await stuck

    rest = consumer_module.started(never())
    assert rest is not None
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await rest
    assert stuck.cancelled()


@pytest.mark.django_db(transaction=True)
async def test_a_websocket_held_back_mid_burst_catches_up_and_returns_to_the_fast_path(
    application: Any, stop_hub: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = await setup_world()
    gate = asyncio.Event()
    calls = 0
    real = consumer_module.started

    def hold_the_second(coroutine: Coroutine[Any, Any, None]) -> Awaitable[None] | None:
        nonlocal calls
        calls += 1
        if calls != 2:
            return real(coroutine)

        async def later() -> None:
            await gate.wait()
            await coroutine

        return later()

    monkeypatch.setattr(consumer_module, "started", hold_the_second)
    ws = connect(application, authorization=f"Token {world['alice']}")
    assert (await ws.connect())[0]
    hub = get_hub()
    for _ in range(50):
        if hub.listener_count:
            break
        await asyncio.sleep(0.05)
    (subscriber,) = hub._subscribers
    assert subscriber.direct

    bot = Actor.for_bot(await sync_to_async(BotKey.objects.get)())
    post = sync_to_async(services.post_message)
    texts = [f"m{i}" for i in range(6)]
    for text in texts[:4]:
        await post(bot, world["queued"], text=text)
    for _ in range(100):  # the second send is held: the connection is behind
        if not subscriber.direct and hub.position >= subscriber.floor and subscriber._queue:
            break
        await asyncio.sleep(0.02)
    assert not subscriber.direct
    gate.set()
    for text in texts[4:]:
        await post(bot, world["queued"], text=text)

    positions, received = [], []
    while len(received) < len(texts):
        frame = json.loads(await ws.receive_from(timeout=5))
        positions.append(int(frame["event_id"].rsplit(":", 1)[1]))
        if frame["type"] == "ticket.message.new":
            received.append(frame["message"]["text"])
    assert received == texts
    assert positions == sorted(set(positions))  # each once, in order
    assert await ws.receive_nothing(timeout=0.3)
    for _ in range(50):
        if subscriber.direct:
            break
        await asyncio.sleep(0.02)
    assert subscriber.direct  # caught up: back on the fast path
    await ws.disconnect()


async def _listening(application: Any, token: str) -> Any:
    ws = connect(application, authorization=f"Token {token}")
    assert (await ws.connect())[0]
    hub = get_hub()
    for _ in range(50):
        if hub.listener_count:
            break
        await asyncio.sleep(0.05)
    (subscriber,) = hub._subscribers
    assert subscriber.direct
    return ws


@pytest.mark.django_db(transaction=True)
async def test_a_fast_path_send_held_past_the_slow_client_timeout_closes_the_stream(
    application: Any, stop_hub: None, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    settings.SUPPORT_SLOW_CLIENT_TIMEOUT = 0.3
    world = await setup_world()
    never = asyncio.Event()

    def hold(coroutine: Coroutine[Any, Any, None]) -> Awaitable[None] | None:
        coroutine.close()

        async def stuck() -> None:
            await never.wait()

        return stuck()

    monkeypatch.setattr(consumer_module, "started", hold)
    ws = await _listening(application, world["alice"])
    bot = Actor.for_bot(await sync_to_async(BotKey.objects.get)())
    await sync_to_async(services.post_message)(bot, world["queued"], text="unread")
    closed = await ws.receive_output(timeout=5)
    assert closed == {"type": "websocket.close", "code": consumer_module.CLOSE_SLOW_READER}
    assert get_hub().listener_count == 0


class FullBacklog:
    """A client that has not read what it was sent: past ``SUPPORT_MAX_CLIENT_BACKLOG``."""

    aborted = 0

    def too_full(self) -> bool:
        return True

    def abort_later(self) -> None:
        FullBacklog.aborted += 1


@pytest.mark.django_db(transaction=True)
async def test_a_client_behind_on_the_fast_path_is_cut_off_at_the_backlog_bound(
    application: Any, stop_hub: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = await setup_world()
    monkeypatch.setattr(WriteBacklog, "of", classmethod(lambda cls, s: FullBacklog()))
    ws = await _listening(application, world["alice"])
    bot = Actor.for_bot(await sync_to_async(BotKey.objects.get)())
    await sync_to_async(services.post_message)(bot, world["queued"], text="too much")
    frame = json.loads(await ws.receive_from(timeout=5))  # sent, then found past the bound
    assert frame["type"] == "ticket.message.new"
    closed = await ws.receive_output(timeout=5)
    assert closed == {"type": "websocket.close", "code": consumer_module.CLOSE_SLOW_READER}
    assert FullBacklog.aborted == 1
    assert get_hub().listener_count == 0

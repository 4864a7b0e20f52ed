# mypy: disable-error-code="no-untyped-call"
"""A note never reaches a bot, on any transport; a manager's streams carry it.

After a note (and an event for everyone after it), every output a bot can
read is checked, in process through the ASGI application as a server calls
it: ``GET events/`` (the REST list and a waiting long-poll), SSE, WebSocket,
each replayed from an old cursor and live while connected, and the hub's
fan-out itself. A manager reading the same outputs gets the note.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from asgiref.testing import ApplicationCommunicator
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User

import support
from support import events, notes, services
from support.actors import Actor
from support.models import BotKey
from support.realtime.hub import get_hub
from tests.test_realtime_http import Client
from tests.test_realtime_websocket import connect, setup_world
from tests.test_stream_threads import http_scope

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "the user is a VIP: refund without asking"


@pytest.fixture
async def world(stop_hub: None) -> dict[str, Any]:
    world: dict[str, Any] = await setup_world()
    world["manager"] = f"Token {world['alice']}"
    world["bot"] = f"Api-Key {world['bot_key']}"
    return world


@sync_to_async
def write_note_then_public(world: dict[str, Any]) -> tuple[str, str]:
    """A manager's note, then a user's message (for everyone): their cursors."""
    alice = User.objects.get(pk=world["alice_id"])
    notes.add_note(Actor.for_manager(alice), world["queued"], text=SECRET)
    note = events.current_position()
    services.post_message(Actor.for_bot(BotKey.objects.get()), world["queued"], text="after it")
    return f"support:{note}", f"support:{events.current_position()}"


def assert_no_note(received: list[dict[str, Any]], note: str, public: str) -> None:
    assert public in [e["event_id"] for e in received]
    assert all(e["type"] != "ticket.note.new" and e["event_id"] != note for e in received)
    assert SECRET not in json.dumps(received)


def assert_has_note(received: list[dict[str, Any]], note: str, public: str) -> None:
    ids = [e["event_id"] for e in received]
    assert ids.index(note) < ids.index(public)
    [event] = [e for e in received if e["event_id"] == note]
    assert event["type"] == "ticket.note.new"
    assert event["note"]["text"] == SECRET


# -- GET events/: the REST list and the long-poll ---------------------------------------


@pytest.mark.parametrize("after", ["support:0", "old"])
async def test_the_events_list_from_an_old_cursor(world, after):
    after = f"support:{world['cursor']}" if after == "old" else after
    note, public = await write_note_then_public(world)
    bot = (await Client(world["bot"]).get(f"/support/events/?after={after}&timeout=0")).json()
    manager = await Client(world["manager"]).get(f"/support/events/?after={after}&timeout=0")
    assert_no_note(bot["events"], note, public)
    assert bot["cursor"] == public
    assert_has_note(manager.json()["events"], note, public)
    # Everything else is the same, byte for byte.
    assert bot["events"] == [e for e in manager.json()["events"] if e["event_id"] != note]


async def test_a_waiting_long_poll_of_a_bot_is_not_woken_by_a_note(world):
    after = f"support:{world['cursor']}"
    bot = asyncio.ensure_future(
        Client(world["bot"]).get(f"/support/events/?after={after}&timeout=10")
    )
    manager = asyncio.ensure_future(
        Client(world["manager"]).get(f"/support/events/?after={after}&timeout=10")
    )
    await asyncio.sleep(0.3)
    alice = await sync_to_async(User.objects.get)(pk=world["alice_id"])
    await sync_to_async(notes.add_note)(Actor.for_manager(alice), world["queued"], text=SECRET)
    answered = (await manager).json()
    assert [e["type"] for e in answered["events"]] == ["ticket.note.new"]
    await asyncio.sleep(0.5)
    assert not bot.done()  # nothing for it yet
    key = await sync_to_async(BotKey.objects.get)()
    await sync_to_async(services.resolve)(Actor.for_bot(key), world["queued"])
    body = (await bot).json()
    assert [e["type"] for e in body["events"]] == ["ticket.resolved"]
    assert SECRET not in json.dumps(body)


async def test_a_bot_given_a_cursor_at_a_note_goes_on_after_it(world):
    note, public = await write_note_then_public(world)
    body = (await Client(world["bot"]).get(f"/support/events/?after={note}&timeout=0")).json()
    assert [e["event_id"] for e in body["events"]] == [public]


async def test_a_bot_whose_only_news_is_a_note_gets_nothing_and_keeps_its_cursor(world):
    after = f"support:{world['cursor']}"
    alice = await sync_to_async(User.objects.get)(pk=world["alice_id"])
    await sync_to_async(notes.add_note)(Actor.for_manager(alice), world["queued"], text=SECRET)
    body = (await Client(world["bot"]).get(f"/support/events/?after={after}&timeout=0")).json()
    assert body == {"events": [], "cursor": after}


# -- SSE ------------------------------------------------------------------------------------


def sse_blocks(text: str) -> list[dict[str, str]]:
    blocks = []
    for raw in text.split("\n\n"):
        fields = {}
        for line in raw.split("\n"):
            if line and not line.startswith(":"):
                name, _sep, value = line.partition(":")
                fields[name] = value.removeprefix(" ")
        if fields.get("event") not in (None, "stream-open", "keep-alive"):
            blocks.append(fields)
    return blocks


class SseStream:
    """One SSE stream through the ASGI application, read as a server would send it."""

    def __init__(self, credential: str, after: str | None) -> None:
        query = "" if after is None else f"after={after}"
        self.app = ApplicationCommunicator(
            support.get_asgi_application(), http_scope("/support/events/stream/", query, credential)
        )
        self.text = ""

    async def open(self) -> None:
        await self.app.send_input({"type": "http.request", "body": b"", "more_body": False})
        start = await self.app.receive_output(timeout=5)
        assert start["type"] == "http.response.start"
        assert start["status"] == 200
        while "event: stream-open" not in self.text:
            self.text += (await self.app.receive_output(timeout=5)).get("body", b"").decode()

    async def until(self, event_id: str) -> list[dict[str, Any]]:
        """The events received once *event_id* is among them (each data checked against id)."""
        async with asyncio.timeout(10):
            while f"id: {event_id}\n" not in self.text:
                self.text += (await self.app.receive_output(timeout=10)).get("body", b"").decode()
        received = []
        for block in sse_blocks(self.text):
            data = json.loads(block["data"])
            assert block["id"] == data["event_id"]  # the one cursor, on a bot's stream too
            assert block["event"] == data["type"]
            received.append(data)
        return received

    async def close(self) -> None:
        await self.app.send_input({"type": "http.disconnect"})
        await self.app.wait(timeout=5)


@pytest.mark.parametrize("after", ["support:0", "old"])
async def test_sse_replayed_from_an_old_cursor(world, after):
    after = f"support:{world['cursor']}" if after == "old" else after
    note, public = await write_note_then_public(world)
    for credential, check in ((world["bot"], assert_no_note), (world["manager"], assert_has_note)):
        stream = SseStream(credential, after)
        await stream.open()
        check(await stream.until(public), note, public)
        await stream.close()


async def test_sse_live_while_connected(world):
    bot, manager = SseStream(world["bot"], None), SseStream(world["manager"], None)
    await bot.open()
    await manager.open()
    note, public = await write_note_then_public(world)
    bot_events = await bot.until(public)
    assert_no_note(bot_events, note, public)
    assert [e["event_id"] for e in bot_events] == [public]
    assert_has_note(await manager.until(public), note, public)
    assert "ticket.note.new" not in bot.text
    assert SECRET not in bot.text
    await bot.close()
    await manager.close()


# -- WebSocket ------------------------------------------------------------------------------


async def ws_until(ws: WebsocketCommunicator, event_id: str) -> list[dict[str, Any]]:
    received: list[dict[str, Any]] = []
    while not received or received[-1].get("event_id") != event_id:
        received.append(json.loads(await ws.receive_from(timeout=5)))
    return received


@pytest.mark.parametrize("after", ["support:0", "old"])
async def test_websocket_replayed_from_an_old_cursor(world, after):
    after = f"support:{world['cursor']}" if after == "old" else after
    note, public = await write_note_then_public(world)
    app = support.get_asgi_application()
    for credential, check in ((world["bot"], assert_no_note), (world["manager"], assert_has_note)):
        ws = connect(app, f"/ws/support/?after={after}", authorization=credential)
        assert (await ws.connect())[0]
        check(await ws_until(ws, public), note, public)
        assert await ws.receive_nothing(timeout=0.3)
        await ws.disconnect()


async def test_websocket_live_while_connected(world):
    app = support.get_asgi_application()
    bot = connect(app, authorization=world["bot"])
    manager = connect(app, authorization=world["manager"])
    assert (await bot.connect())[0]
    assert (await manager.connect())[0]
    note, public = await write_note_then_public(world)
    bot_events = await ws_until(bot, public)
    assert [e["event_id"] for e in bot_events] == [public]
    assert_has_note(await ws_until(manager, public), note, public)
    assert await bot.receive_nothing(timeout=0.3)
    await bot.disconnect()
    await manager.disconnect()


# -- the hub's fan-out --------------------------------------------------------------------------


async def test_the_hubs_fan_out_skips_bots_listeners(world):
    key = await sync_to_async(BotKey.objects.get)()
    alice = await sync_to_async(User.objects.get)(pk=world["alice_id"])
    hub = get_hub()
    bots = [await hub.subscribe(Actor.for_bot(key)) for _ in range(3)]
    managers = [await hub.subscribe(Actor.for_manager(alice)) for _ in range(3)]
    note, public = await write_note_then_public(world)
    shown = []
    for subscriber in bots:
        live = await subscriber.wait(timeout=5)
        assert [f"support:{e.position}" for e in live] == [public]
        shown.append(live[0])
    for subscriber in managers:
        live = await subscriber.wait(timeout=5)
        while len(live) < 2:
            live += await subscriber.wait(timeout=5)
        assert [f"support:{e.position}" for e in live] == [note, public]
        assert live[0].managers_only
        assert SECRET in live[0].json
        shown.append(live[1])
    # One JSON text per event, whoever gets it: the filter is a check, not a copy.
    assert all(event.json is shown[0].json for event in shown)
    for subscriber in (*bots, *managers):
        subscriber.close()


async def test_a_revoked_bots_sse_stream_on_its_channel_ends_at_once(world):
    """Bots' streams read their own channel: a revocation kicks them there."""
    from support.services import revoke_bot_key

    stream = SseStream(world["bot"], None)
    await stream.open()
    await sync_to_async(lambda: revoke_bot_key(BotKey.objects.get()))()
    async with asyncio.timeout(5):
        while "event: stream-error" not in stream.text:
            stream.text += (await stream.app.receive_output(timeout=5)).get("body", b"").decode()
    assert '"forbidden"' in stream.text
    await stream.close()

"""The WebSocket protocol, in process: commands, acks, errors, replay, refusals."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User

from support import events, services
from support.actors import Actor
from support.botkeys import create_bot_key
from support.models import BotKey, Event, Message, Ticket
from tests.conftest import make_manager

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def application() -> Any:
    from support import get_asgi_application

    return get_asgi_application()


@sync_to_async
def setup_world() -> dict[str, Any]:
    from rest_framework.authtoken.models import Token

    from tests.zz_users.models import MyTelegramUser

    alice = make_manager("alice")
    bob = make_manager("bob")
    eve = User.objects.create_user("eve", password="pw")
    key, raw_key = create_bot_key("bot")
    MyTelegramUser.objects.create(telegram_id=4)
    bot = Actor.for_bot(key)
    queued = services.open_ticket(bot, user_id=4, title="have a prob", text="hello")
    others = services.open_ticket(bot, user_id=4, title="bob's", text="hello")
    services.assign(Actor.for_manager(bob), others.pk)
    resolved = services.open_ticket(bot, user_id=4, title="done", text="hello")
    services.resolve(bot, resolved.pk)
    return {
        "alice": Token.objects.create(user=alice).key,
        "eve": Token.objects.create(user=eve).key,
        "bot_key": raw_key,
        "alice_id": alice.pk,
        "queued": queued.pk,
        "others": others.pk,
        "resolved": resolved.pk,
        "cursor": events.current_position(),
    }


@sync_to_async
def strip_permission(user_id: int) -> None:
    """Take ``support.manage_tickets`` away from a manager."""
    from django.contrib.auth.models import Permission

    user = User.objects.get(pk=user_id)
    user.user_permissions.remove(Permission.objects.get(codename="manage_tickets"))


def connect(application: Any, path: str = "/ws/support/", **headers: str) -> WebsocketCommunicator:
    raw = [
        (name.lower().replace("_", "-").encode(), value.encode()) for name, value in headers.items()
    ]
    return WebsocketCommunicator(application, path, headers=[(b"host", b"testserver"), *raw])


@sync_to_async
def snapshot() -> tuple[Any, ...]:
    return (
        list(Ticket.objects.order_by("id").values()),
        list(Message.objects.order_by("id").values()),
        list(Event.objects.order_by("id").values_list("id", flat=True)),
    )


async def receive(communicator: WebsocketCommunicator) -> dict[str, Any]:
    frame: dict[str, Any] = json.loads(await communicator.receive_from(timeout=5))
    return frame


async def test_1x_commands_and_events(application, stop_hub, v1_examples):
    world = await setup_world()
    ws = connect(application, authorization=f"Token {world['alice']}")
    connected, _ = await ws.connect()
    assert connected

    await ws.send_json_to({"type": "ticket.assign", "ticket_id": world["queued"]})
    assigned = await receive(ws)
    v1_assigned = v1_examples["websocket_server_to_client"][1]
    assert assigned.keys() - {"event_id"} == v1_assigned.keys()
    assert assigned == {
        "type": "ticket.assigned",
        "id": world["queued"],
        "support_manager": world["alice_id"],
        "event_id": f"support:{world['cursor'] + 1}",
    }

    await ws.send_json_to(
        {"type": "ticket.message.new", "ticket_id": world["queued"], "text": "The is some text"}
    )
    message = await receive(ws)
    v1_message = v1_examples["websocket_server_to_client"][2]
    assert message["type"] == "ticket.message.new"
    assert list(message["message"])[:6] == list(v1_message["message"])
    assert message["message"]["sender"] == "supp"
    assert message["message"]["text"] == "The is some text"
    assert await ws.receive_nothing(timeout=0.3)  # no ack without a request_id
    await ws.disconnect()


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        ({"type": "ticket.resolve", "ticket_id": "Q", "request_id": "r1"}, ("ack", "ticket")),
        ({"type": "ticket.reopen", "ticket_id": "R", "request_id": 9}, ("ack", "ticket")),
        ({"type": "ticket.unassign", "ticket_id": "Q", "request_id": "r"}, ("ack", "ticket")),
        (
            {"type": "ticket.message.new", "ticket_id": "Q", "text": "hi", "request_id": "m"},
            ("ack", "message"),
        ),
        (
            {"type": "ticket.messages.viewed", "ticket_id": "Q", "up_to": 10**6, "request_id": "v"},
            ("ack", "ticket"),
        ),
    ],
)
async def test_commands_are_acknowledged_with_their_result(application, stop_hub, frame, expected):
    world = await setup_world()
    ids = {"Q": world["queued"], "R": world["resolved"]}
    frame = {**frame, "ticket_id": ids[frame["ticket_id"]]}
    ws = connect(application, authorization=f"Token {world['alice']}")
    await ws.connect()
    await ws.send_json_to(frame)
    while True:
        answer = await receive(ws)
        if answer["type"] == "ack":
            break
    assert answer["request_id"] == frame["request_id"]
    if expected[1] == "message":
        assert answer["data"]["text"] == "hi"
        assert answer["data"]["sender"] == "supp"
    else:
        assert answer["data"]["id"] == frame["ticket_id"]
    await ws.disconnect()


LONG = "x" * 4097
# (frame, code, side); "Q", "O", "R" name the queued, another's and the resolved ticket.
BAD_FRAMES: list[tuple[str, Any, str, str]] = [
    ("malformed JSON", "{oops", "bad_json", "manager"),
    ("JSON array", "[1, 2]", "bad_json", "manager"),
    ("JSON string", '"ticket.assign"', "bad_json", "manager"),
    ("JSON nested too deeply", "[" * 5000 + "]" * 5000, "bad_json", "manager"),
    ("binary frame", b"\x00\x01", "bad_json", "manager"),
    (
        "oversized frame",
        json.dumps({"type": "ticket.assign", "pad": "x" * 70_000}),
        "frame_too_large",
        "manager",
    ),
    ("no type", {"ticket_id": "Q"}, "invalid", "manager"),
    ("type not a string", {"type": 5, "ticket_id": "Q"}, "invalid", "manager"),
    ("unknown type", {"type": "ticket.delete", "ticket_id": "Q"}, "unknown_type", "manager"),
    ("missing ticket_id", {"type": "ticket.assign"}, "invalid", "manager"),
    ("ticket_id as string", {"type": "ticket.assign", "ticket_id": "12"}, "invalid", "manager"),
    ("ticket_id as bool", {"type": "ticket.assign", "ticket_id": True}, "invalid", "manager"),
    ("missing text", {"type": "ticket.message.new", "ticket_id": "Q"}, "invalid", "manager"),
    (
        "text as number",
        {"type": "ticket.message.new", "ticket_id": "Q", "text": 5},
        "invalid",
        "manager",
    ),
    (
        "empty text",
        {"type": "ticket.message.new", "ticket_id": "Q", "text": ""},
        "invalid",
        "manager",
    ),
    (
        "4097-char text",
        {"type": "ticket.message.new", "ticket_id": "Q", "text": LONG},
        "invalid",
        "manager",
    ),
    (
        "up_to as string",
        {"type": "ticket.messages.viewed", "ticket_id": "Q", "up_to": "1"},
        "invalid",
        "manager",
    ),
    (
        "unknown field",
        {"type": "ticket.assign", "ticket_id": "Q", "manager": 1},
        "invalid",
        "manager",
    ),
    (
        "request_id as object",
        {"type": "ticket.assign", "ticket_id": "Q", "request_id": {}},
        "invalid",
        "manager",
    ),
    ("unknown ticket", {"type": "ticket.assign", "ticket_id": 999_999}, "not_found", "manager"),
    ("bot assigns", {"type": "ticket.assign", "ticket_id": "Q"}, "permission_denied", "bot"),
    (
        "another's ticket",
        {"type": "ticket.assign", "ticket_id": "O"},
        "already_assigned",
        "manager",
    ),
    (
        "reply on another's ticket",
        {"type": "ticket.message.new", "ticket_id": "O", "text": "x"},
        "assigned_to_other",
        "manager",
    ),
    (
        "message on resolved ticket",
        {"type": "ticket.message.new", "ticket_id": "R", "text": "x"},
        "ticket_resolved",
        "bot",
    ),
    (
        "assign resolved ticket",
        {"type": "ticket.assign", "ticket_id": "R"},
        "ticket_resolved",
        "manager",
    ),
]


@pytest.mark.parametrize(
    ("frame", "code", "side"),
    [case[1:] for case in BAD_FRAMES],
    ids=[case[0] for case in BAD_FRAMES],
)
async def test_bad_frames_get_an_error_and_change_nothing(application, stop_hub, frame, code, side):
    world = await setup_world()
    ids = {"Q": world["queued"], "O": world["others"], "R": world["resolved"]}
    if isinstance(frame, dict):
        frame = {**frame}
        if frame.get("ticket_id") in ids:
            frame["ticket_id"] = ids[frame["ticket_id"]]
        frame = json.dumps(frame)
    credential = f"Token {world['alice']}" if side == "manager" else f"Api-Key {world['bot_key']}"
    ws = connect(application, authorization=credential)
    await ws.connect()
    before = await snapshot()
    if isinstance(frame, bytes):
        await ws.send_to(bytes_data=frame)
    else:
        await ws.send_to(text_data=frame)
    error = await receive(ws)
    assert error["type"] == "error"
    assert error["code"] == code
    assert error["detail"]
    assert "request_id" in error
    assert await snapshot() == before
    # The connection is still open and still works.
    await ws.send_json_to({"type": "ticket.resolve", "ticket_id": ids["Q"], "request_id": "after"})
    answers = [await receive(ws), await receive(ws)]
    assert {a["type"] for a in answers} in ({"ticket.resolved", "ack"}, {"ack"})
    await ws.disconnect()


async def test_error_echoes_the_request_id(application, stop_hub):
    world = await setup_world()
    ws = connect(application, authorization=f"Token {world['alice']}")
    await ws.connect()
    await ws.send_json_to(
        {"type": "ticket.assign", "ticket_id": world["others"], "request_id": "x"}
    )
    assert await receive(ws) == {
        "type": "error",
        "request_id": "x",
        "status": 409,
        "code": "already_assigned",
        "detail": "Another manager has already taken this ticket.",
    }
    await ws.disconnect()


async def test_ping_is_answered_with_pong_and_touches_nothing(application, stop_hub):
    world = await setup_world()
    before = await snapshot()
    ws = connect(application, authorization=f"Token {world['alice']}")
    assert (await ws.connect())[0]
    await ws.send_json_to({"type": "ping", "request_id": "probe"})
    assert await receive(ws) == {"type": "pong", "request_id": "probe"}
    await ws.send_json_to({"type": "ping"})
    assert await receive(ws) == {"type": "pong", "request_id": None}
    assert await snapshot() == before
    await ws.disconnect()


async def test_replay_then_live_without_gap_or_duplicate(application, stop_hub):
    world = await setup_world()
    bot = Actor.for_bot(await sync_to_async(BotKey.objects.get)())
    ws = connect(
        application, "/ws/support/?after=support:0", authorization=f"Token {world['alice']}"
    )
    await ws.connect()
    for i in range(5):
        await sync_to_async(services.post_message)(bot, world["queued"], text=f"live {i}")
    logged = await sync_to_async(lambda: [e.cursor for e in Event.objects.order_by("id")])()
    received = [(await receive(ws))["event_id"] for _ in logged]
    assert received == logged
    assert await ws.receive_nothing(timeout=0.5)
    await ws.disconnect()


async def test_live_only_without_after(application, stop_hub):
    world = await setup_world()
    ws = connect(application, authorization=f"Api-Key {world['bot_key']}")
    await ws.connect()
    assert await ws.receive_nothing(timeout=0.3)  # no replay
    await ws.send_json_to(
        {"type": "ticket.message.new", "ticket_id": world["queued"], "text": "hi"}
    )
    event = await receive(ws)
    assert event["type"] == "ticket.message.new"
    assert event["message"]["sender"] == "user"
    await ws.disconnect()


async def test_expired_cursor_gets_stream_reset(application, stop_hub):
    world = await setup_world()

    @sync_to_async
    def expire() -> None:
        from datetime import timedelta

        from django.utils import timezone

        Event.objects.update(created_at=timezone.now() - timedelta(days=30))
        events.trim()

    await expire()
    ws = connect(
        application, "/ws/support/?after=support:1", authorization=f"Token {world['alice']}"
    )
    await ws.connect()
    assert await receive(ws) == {"type": "stream.reset", "event_id": f"support:{world['cursor']}"}
    await ws.disconnect()


@pytest.mark.parametrize("cursor", ["abc", "support:x", "-5"])
async def test_bad_cursor_is_an_error_then_close(application, stop_hub, cursor):
    world = await setup_world()
    ws = connect(
        application, f"/ws/support/?after={cursor}", authorization=f"Token {world['alice']}"
    )
    connected, _ = await ws.connect()
    assert connected
    error = await receive(ws)
    assert error["type"] == "error"
    assert error["code"] == "invalid"
    assert (await ws.receive_output(timeout=2))["type"] == "websocket.close"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"authorization": "Token nope"},
        {"authorization": "Api-Key nope.nope"},
        {"authorization": "Bearer x"},
        {"authorization": "EVE"},
    ],
    ids=["anonymous", "bad token", "bad key", "unknown scheme", "non-manager"],
)
async def test_handshake_refused_without_a_manager_or_bot(application, stop_hub, headers):
    world = await setup_world()
    if headers.get("authorization") == "EVE":
        headers = {"authorization": f"Token {world['eve']}"}
    for path in ("/ws/support/", "/ws/support/manager/"):
        ws = connect(application, path, **headers)
        connected, _code = await ws.connect()
        assert not connected


async def test_cross_origin_handshake_is_refused(application, stop_hub):
    world = await setup_world()
    ws = connect(application, authorization=f"Token {world['alice']}", origin="http://evil.example")
    connected, _ = await ws.connect()
    assert not connected
    same = connect(application, authorization=f"Token {world['alice']}", origin="http://testserver")
    connected, _ = await same.connect()
    assert connected
    await same.disconnect()


async def test_session_cookie_authenticates_a_browser(application, stop_hub, settings):
    world = await setup_world()

    @sync_to_async
    def login() -> str:
        from django.test import Client

        client = Client()
        client.force_login(User.objects.get(username="alice"))
        return client.cookies[settings.SESSION_COOKIE_NAME].value

    session = await login()
    ws = connect(
        application,
        "/ws/support/manager/",
        cookie=f"{settings.SESSION_COOKIE_NAME}={session}",
        origin="http://testserver",
    )
    connected, _ = await ws.connect()
    assert connected
    await ws.send_json_to({"type": "ticket.assign", "ticket_id": world["queued"], "request_id": 1})
    kinds = {(await receive(ws))["type"], (await receive(ws))["type"]}
    assert kinds == {"ack", "ticket.assigned"}
    await ws.disconnect()


async def test_revoking_a_key_closes_its_open_websocket_at_once(application, stop_hub):
    world = await setup_world()
    ws = connect(application, authorization=f"Api-Key {world['bot_key']}")
    assert (await ws.connect())[0]
    await ws.send_json_to({"type": "ticket.resolve", "ticket_id": world["queued"], "request_id": 1})
    assert {(await receive(ws))["type"], (await receive(ws))["type"]} == {"ack", "ticket.resolved"}

    from support.services import revoke_bot_key

    await sync_to_async(lambda: revoke_bot_key(BotKey.objects.get()))()
    closed = await ws.receive_output(timeout=3)
    assert closed == {"type": "websocket.close", "code": 4401}


async def test_a_manager_who_loses_the_permission_is_closed_at_the_next_recheck(
    application, stop_hub, settings
):
    settings.SUPPORT_CREDENTIAL_RECHECK_INTERVAL = 0.2
    world = await setup_world()
    ws = connect(application, authorization=f"Token {world['alice']}")
    assert (await ws.connect())[0]

    await strip_permission(world["alice_id"])
    closed = await ws.receive_output(timeout=5)
    assert closed == {"type": "websocket.close", "code": 4401}


async def test_a_consumer_that_crashes_leaves_no_pump_or_subscription(
    application, stop_hub, monkeypatch
):
    from support.realtime.consumer import SupportConsumer
    from support.realtime.hub import get_hub

    world = await setup_world()
    ws = connect(application, authorization=f"Token {world['alice']}")
    assert (await ws.connect())[0]
    hub = get_hub()
    for _ in range(50):  # the subscription follows the accept
        if hub.listener_count:
            break
        await asyncio.sleep(0.05)
    assert hub.listener_count == 1
    # Caught up from the start: on the hub's fast path, with no pump of its own.
    (subscriber,) = hub._subscribers
    assert subscriber.direct
    assert not [
        task
        for task in asyncio.all_tasks()
        if getattr(task.get_coro(), "__qualname__", "") == "SupportConsumer._pump"
    ]

    async def crash(self: Any, text_data: str | None = None, bytes_data: Any = None) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(SupportConsumer, "receive", crash)
    await ws.send_to(text_data="{}")
    with pytest.raises(RuntimeError, match="boom"):
        await ws.receive_output(timeout=5)
    assert hub.listener_count == 0
    assert not subscriber.direct  # the hub hands it nothing more


async def test_a_connection_never_hops_to_channels_database_thread(
    application, stop_hub, monkeypatch
):
    """Channels closes its DB thread's stale connections around every message (a thread hop
    each); the consumer's database work runs in support.db's pool, so it skips that."""
    import channels.consumer
    import channels.generic.websocket

    hops: list[str] = []

    async def counted() -> None:
        hops.append("aclose_old_connections")

    monkeypatch.setattr(channels.consumer, "aclose_old_connections", counted)
    monkeypatch.setattr(channels.generic.websocket, "aclose_old_connections", counted)
    world = await setup_world()
    ws = connect(application, authorization=f"Token {world['alice']}")
    assert (await ws.connect())[0]
    await ws.send_json_to({"type": "ping"})
    assert (await receive(ws))["type"] == "pong"
    await ws.send_json_to({"type": "ticket.assign", "ticket_id": world["queued"]})
    assert (await receive(ws))["type"] == "ticket.assigned"
    await ws.disconnect()
    assert hops == []

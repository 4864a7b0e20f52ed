"""End to end, against real daphne processes on loopback.

A scripted desk scenario (a bot opens a ticket, the user writes, a manager
assigns, replies, marks viewed, resolves) is watched by one manager per
transport; all three must see the same events, in the same order, with the
same JSON. Then: resuming on another transport, several workers sharing
Redis, and concurrent writers on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import websockets

from tests.harness.redis import RedisServer
from tests.harness.server import Credentials, LiveServer, running_server, server_env
from tests.live_clients import TRANSPORTS, auth, current_cursor, longpoll_events

pytestmark = pytest.mark.live

SCENARIO_TYPES = [
    "ticket.created",
    "ticket.message.new",
    "ticket.message.new",
    "ticket.assigned",
    "ticket.message.new",
    "ticket.messages.viewed",
    "ticket.resolved",
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, Credentials]]:
    """One server for the tests that only read its events (each scenario is a new ticket)."""
    with running_server(tmp_path_factory.mktemp("live")) as live:
        yield live


async def run_scenario(server: LiveServer, credentials: Credentials) -> None:
    """The desk's day in miniature, through REST and a WebSocket command."""
    bot, manager = credentials.bot_key, credentials.managers[0]
    async with httpx.AsyncClient(base_url=server.api, timeout=10) as http:
        response = await http.post(
            "tickets/",
            json={"user_id": 4242, "title": "have a prob", "text": "It fails"},
            headers=auth(bot),
        )
        assert response.status_code == 201, response.text
        ticket = response.json()["id"]
        response = await http.post(
            f"tickets/{ticket}/messages/", json={"text": "More details"}, headers=auth(bot)
        )
        assert response.status_code == 201
        response = await http.post(f"tickets/{ticket}/assign/", headers=auth(manager))
        assert response.status_code == 200
        async with websockets.connect(server.ws_url, additional_headers=auth(manager)) as ws:
            await ws.send(
                json.dumps(
                    {"type": "ticket.message.new", "ticket_id": ticket, "text": "On it",
                     "request_id": "reply"}
                )
            )  # fmt: skip
            while (frame := json.loads(await ws.recv()))["type"] != "ack":
                pass
            assert frame["data"]["text"] == "On it"
        response = await http.post(f"tickets/{ticket}/messages/viewed/", headers=auth(manager))
        assert [m["text"] for m in response.json()] == ["It fails", "More details"]
        response = await http.post(f"tickets/{ticket}/resolve/", headers=auth(manager))
        assert response.json()["resolved"] is True


async def watch_scenario(
    watcher: LiveServer, actor: LiveServer, credentials: Credentials, timeout: float = 30
) -> dict[str, list[tuple[str, str]]]:
    """One manager per transport follows *watcher* while the scenario runs on *actor*."""
    start = current_cursor(watcher, credentials.managers[0])
    watchers = {
        name: asyncio.create_task(
            TRANSPORTS[name](
                watcher, credentials.managers[i], start, len(SCENARIO_TYPES), timeout=timeout
            )
        )
        for i, name in enumerate(TRANSPORTS)
    }
    await asyncio.sleep(0.5)  # let the three connect before the first event
    await run_scenario(actor, credentials)
    return {name: await task for name, task in watchers.items()}


def assert_same_events(received: dict[str, list[tuple[str, str]]]) -> list[dict[str, Any]]:
    parsed = {name: [json.loads(text) for _, text in events] for name, events in received.items()}
    websocket = parsed["websocket"]
    assert [e["type"] for e in websocket] == SCENARIO_TYPES
    ids = [e["event_id"] for e in websocket]
    assert ids == sorted(set(ids), key=ids.index)  # no duplicates
    for name, events in parsed.items():
        assert events == websocket, name
        assert [event_id for event_id, _ in received[name]] == ids, name
    # The SSE data is byte for byte the WebSocket frame.
    assert [text for _, text in received["sse"]] == [text for _, text in received["websocket"]]
    return websocket


async def test_three_transports_see_the_same_scenario(server, v1_examples):
    live, credentials = server
    events = assert_same_events(await watch_scenario(live, live, credentials))
    v1_created, v1_assigned, v1_message = v1_examples["websocket_server_to_client"]
    created = events[0]
    assert set(v1_created) | {"event_id"} == set(created)
    assert set(v1_created["ticket"]) <= set(created["ticket"])
    assert created["ticket"]["user"]["telegram_id"] == 4242  # then the Telegram profile
    assert set(events[3]) == set(v1_assigned) | {"event_id"}
    assert events[3]["support_manager"] == credentials.manager_ids[0]
    reply = events[4]
    assert list(reply["message"])[: len(v1_message["message"])] == list(v1_message["message"])
    assert reply["message"]["sender"] == "supp"
    assert events[5]["ids"] == [events[1]["message"]["id"], events[2]["message"]["id"]]


@pytest.mark.parametrize(
    ("first", "second"),
    [("websocket", "sse"), ("sse", "longpoll"), ("longpoll", "websocket"), ("sse", "websocket")],
)
async def test_resume_on_another_transport_gets_exactly_what_was_missed(server, first, second):
    live, credentials = server
    token = credentials.managers[1]
    start = current_cursor(live, token)
    early = asyncio.create_task(TRANSPORTS[first](live, token, start, 3))
    await asyncio.sleep(0.5)
    await run_scenario(live, credentials)
    before_drop = await early  # the client drops after three events
    resumed = await TRANSPORTS[second](live, token, before_drop[-1][0], len(SCENARIO_TYPES) - 3)
    logged = await longpoll_events(live.api, token, start, len(SCENARIO_TYPES))
    combined = [json.loads(text) for _, text in before_drop + resumed]
    assert combined == [json.loads(text) for _, text in logged]
    assert [e["type"] for e in combined] == SCENARIO_TYPES


async def test_events_reach_every_transport_on_another_worker(tmp_path):
    redis = RedisServer(tmp_path).start()
    # A long safety-net poll: within the test's timeout, only a Redis wake-up
    # can carry an event from worker A to worker B.
    env = server_env(tmp_path, REDIS_URL=redis.url, SUPPORT_HUB_POLL_INTERVAL="300")
    worker_a, worker_b = LiveServer(tmp_path, env), LiveServer(tmp_path, env)
    credentials = worker_a.prepare()
    try:
        worker_a.start()
        worker_b.start()
        received = await watch_scenario(worker_b, worker_a, credentials, timeout=20)
        assert_same_events(received)
    finally:
        worker_a.stop()
        worker_b.stop()
        redis.stop()


async def test_anonymous_and_non_managers_are_refused_on_every_transport(server):
    live, credentials = server
    async with httpx.AsyncClient(base_url=live.api, timeout=10) as http:
        for path in ("events/?after=support:0&timeout=0", "events/stream/"):
            assert (await http.get(path)).status_code == 401
            refused = await http.get(path, headers=auth(credentials.non_manager))
            assert refused.status_code == 403
            assert refused.json()["code"] == "permission_denied"
    for headers in ({}, auth(credentials.non_manager)):
        with pytest.raises(websockets.InvalidStatus) as refused_ws:
            async with websockets.connect(live.ws_url, additional_headers=headers):
                pass
        assert refused_ws.value.response.status_code == 403
    with pytest.raises(websockets.InvalidStatus):
        async with websockets.connect(
            live.ws_url, additional_headers=auth(credentials.managers[0]),
            origin="http://evil.example",  # type: ignore[arg-type]
        ):  # fmt: skip
            pass


async def test_sse_stream_headers_and_keepalive_setup(server):
    live, credentials = server
    async with (
        httpx.AsyncClient(timeout=10) as http,
        http.stream(
            "GET", f"{live.api}events/stream/", headers=auth(credentials.managers[0])
        ) as response,
    ):
        assert response.status_code == 200
        assert response.headers["x-accel-buffering"] == "no"
        assert response.headers["cache-control"] == "no-cache"
        first = await response.aiter_text().__anext__()
        assert "event: stream-open" in first


EXPIRE_ALL = """
from datetime import timedelta
from django.utils import timezone
from support import events
from support.models import Event
Event.objects.update(created_at=timezone.now() - timedelta(days=30))
events.trim()
print(events.current_position())
"""


async def test_expired_cursor_resets_every_transport(tmp_path):
    live = LiveServer(tmp_path, server_env(tmp_path))
    credentials = live.prepare()
    live.start()
    try:
        await run_scenario(live, credentials)
        current = f"support:{live.manage('shell', '-c', EXPIRE_ALL).split()[-1]}"
        token = credentials.managers[0]
        reset = {"type": "stream.reset", "event_id": current}
        for transport in ("websocket", "sse"):
            ((event_id, text),) = await TRANSPORTS[transport](live, token, "support:1", 1)
            assert (event_id, json.loads(text)) == (current, reset), transport
        async with httpx.AsyncClient(base_url=live.api, timeout=10) as http:
            response = await http.get(
                "events/", params={"after": "support:1", "timeout": 0}, headers=auth(token)
            )
        assert response.status_code == 410
        assert response.json()["code"] == "cursor_expired"
    finally:
        live.stop()

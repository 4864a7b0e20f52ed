"""Long-poll and the SSE endpoint's front door, in process (streams are tested live)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.test import AsyncClient

from support import events, services
from support.actors import Actor
from support.models import BotKey
from tests.test_realtime_websocket import setup_world, strip_permission

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
async def world(stop_hub: None) -> Any:
    return await setup_world()


class Client(AsyncClient):
    """An async client that sends one credential (per request: Django's client-wide
    ``headers`` reach ASGI views as ``Http-Authorization``)."""

    def __init__(self, credential: str | None = None, **extra: str) -> None:
        super().__init__()
        self.sent = {"Authorization": credential, **extra} if credential else dict(extra)

    async def get(self, path: str, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        return await super().get(path, *args, headers=self.sent, **kwargs)

    async def post(self, path: str, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        return await super().post(path, *args, headers=self.sent, **kwargs)


async def test_no_cursor_answers_at_once_with_the_current_one(world):
    client = Client(f"Token {world['alice']}")
    response = await client.get("/support/events/")
    assert response.status_code == 200
    assert response.json() == {"events": [], "cursor": f"support:{world['cursor']}"}


async def test_waiting_events_are_returned_at_once(world):
    client = Client(f"Api-Key {world['bot_key']}")
    response = await client.get("/support/events/?after=support:0&timeout=30")
    body = response.json()
    logged = await sync_to_async(lambda: [e.envelope() for e in events.read_after(0)])()
    assert body["events"] == logged
    assert body["cursor"] == logged[-1]["event_id"]


async def test_holds_until_an_event_commits(world):
    client = Client(f"Token {world['alice']}")
    after = f"support:{world['cursor']}"
    poll = asyncio.ensure_future(client.get(f"/support/events/?after={after}&timeout=10"))
    await asyncio.sleep(0.3)
    assert not poll.done()
    bot = Actor.for_bot(await sync_to_async(BotKey.objects.get)())
    await sync_to_async(services.resolve)(bot, world["queued"])
    response = await asyncio.wait_for(poll, 5)
    body = response.json()
    assert [e["type"] for e in body["events"]] == ["ticket.resolved"]
    assert body["cursor"] == body["events"][0]["event_id"] == f"support:{world['cursor'] + 1}"


async def test_timeout_answers_empty_with_the_same_cursor(world):
    client = Client(f"Token {world['alice']}")
    after = f"support:{world['cursor']}"
    response = await client.get(f"/support/events/?after={after}&timeout=1")
    assert response.json() == {"events": [], "cursor": after}


async def test_expired_cursor_is_410(world):
    @sync_to_async
    def expire() -> None:
        from datetime import timedelta

        from django.utils import timezone

        from support.models import Event

        Event.objects.update(created_at=timezone.now() - timedelta(days=30))
        events.trim()

    await expire()
    client = Client(f"Token {world['alice']}")
    response = await client.get("/support/events/?after=support:1&timeout=0")
    assert response.status_code == 410
    assert response.json()["code"] == "cursor_expired"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?after=abc", "after"),
        ("?after=support:1&timeout=31", "timeout"),
        ("?after=support:1&timeout=-1", "timeout"),
        ("?after=support:1&timeout=soon", "timeout"),
    ],
)
async def test_bad_parameters_are_400(world, query, field):
    client = Client(f"Token {world['alice']}")
    for path in ("/support/events/", "/support/events/stream/"):
        if path.endswith("stream/") and field == "timeout":
            continue
        response = await client.get(path + query)
        assert response.status_code == 400
        assert response.json()["code"] == "invalid"
        assert field in response.json()["errors"]


async def test_bad_last_event_id_is_400(world):
    client = Client(f"Token {world['alice']}", **{"Last-Event-ID": "x"})
    response = await client.get("/support/events/stream/")
    assert response.status_code == 400
    assert "Last-Event-ID" in response.json()["errors"]


@pytest.mark.parametrize("path", ["/support/events/", "/support/events/stream/"])
@pytest.mark.parametrize(
    ("credential", "status", "code"),
    [
        (None, 401, "not_authenticated"),
        ("Token nope", 401, "not_authenticated"),
        ("Api-Key nope.nope", 401, "not_authenticated"),
        ("EVE", 403, "permission_denied"),
    ],
)
async def test_only_managers_and_bots_may_read(world, path, credential, status, code):
    if credential == "EVE":
        credential = f"Token {world['eve']}"
    client = Client(credential)
    response = await client.get(path + "?after=support:0&timeout=0")
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == code


@pytest.mark.parametrize("path", ["/support/events/", "/support/events/stream/"])
async def test_only_get(world, path):
    client = Client(f"Token {world['alice']}")
    response = await client.post(path)
    assert response.status_code == 405
    assert json.loads(response.content)["code"] == "method_not_allowed"


async def test_revoking_a_key_ends_its_waiting_long_poll_at_once(world):
    from support.services import revoke_bot_key

    client = Client(f"Api-Key {world['bot_key']}")
    after = f"support:{world['cursor']}"
    poll = asyncio.ensure_future(client.get(f"/support/events/?after={after}&timeout=20"))
    await asyncio.sleep(0.3)
    await sync_to_async(lambda: revoke_bot_key(BotKey.objects.get()))()
    response = await asyncio.wait_for(poll, 5)
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


async def test_a_manager_who_loses_the_permission_gets_401_on_a_waiting_long_poll(world, settings):
    settings.SUPPORT_CREDENTIAL_RECHECK_INTERVAL = 0.2
    client = Client(f"Token {world['alice']}")
    after = f"support:{world['cursor']}"
    poll = asyncio.ensure_future(client.get(f"/support/events/?after={after}&timeout=20"))
    await asyncio.sleep(0.3)
    await strip_permission(world["alice_id"])
    response = await asyncio.wait_for(poll, 5)
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"

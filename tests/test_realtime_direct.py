# mypy: disable-error-code="no-untyped-call"
"""``SUPPORT_DIRECT_STREAMS``: the long-poll and SSE answered in front of Django's handler.

Every request of a table is sent to :func:`support.get_asgi_application` with
the setting off and on, and the answers are compared byte for byte: the
direct path answers the successes itself (Django's handler never sees them:
``request_started`` is not sent) and hands everything else to Django.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from asgiref.testing import ApplicationCommunicator
from django.contrib.auth.models import User
from django.core.signals import request_started
from django.http import HttpRequest, HttpResponse
from django.test import override_settings
from django.urls import include, path

import support
from support import events, services
from support.actors import Actor
from support.models import BotKey
from support.realtime.hub import get_hub
from tests.test_realtime_websocket import setup_world, strip_permission
from tests.test_stream_threads import http_scope

pytestmark = pytest.mark.django_db(transaction=True)

LONGPOLL = "/support/events/"
SSE = "/support/events/stream/"


@pytest.fixture
async def world(stop_hub: None) -> dict[str, Any]:
    world = await setup_world()
    world["session"] = await sync_to_async(_signed_in_session)()
    return world


def _signed_in_session() -> str:
    from django.test import Client

    client = Client()
    client.force_login(User.objects.get(username="alice"))
    return client.cookies["sessionid"].value


@pytest.fixture
def django_requests() -> Iterator[list[str]]:
    """The paths of the requests Django's handler started."""
    seen: list[str] = []

    def started(sender: Any, scope: Any = None, **kwargs: Any) -> None:
        seen.append(scope["path"] if scope else "?")

    request_started.connect(started)
    yield seen
    request_started.disconnect(started)


def scope_for(
    path: str, query: str = "", headers: dict[str, str] | None = None, method: str = "GET"
) -> dict[str, Any]:
    scope = http_scope(path, query, "")
    scope["method"] = method
    sent = {"host": "testserver", **(headers or {})}
    scope["headers"] = [(k.lower().encode(), v.encode()) for k, v in sent.items()]
    return scope


async def requested(scope: dict[str, Any]) -> ApplicationCommunicator:
    """*scope*'s request, sent (no body) to the app as the settings now make it."""
    request = ApplicationCommunicator(support.get_asgi_application(), scope)
    await request.send_input({"type": "http.request", "body": b"", "more_body": False})
    return request


def waiting_poll(world: dict[str, Any]) -> dict[str, Any]:
    """A manager's long-poll from the present cursor, holding up to 30 s."""
    query = f"after=support:{world['cursor']}&timeout=30"
    return scope_for(LONGPOLL, query, {"authorization": f"Token {world['alice']}"})


async def answer(scope: dict[str, Any], *, direct: bool) -> dict[str, Any]:
    """Status, headers and body of *scope*'s answer (of a stream, what it sent at once)."""
    with override_settings(SUPPORT_DIRECT_STREAMS=direct):
        request = await requested(scope)
        start = await request.receive_output(timeout=10)
        body = b""
        while True:
            message = await request.receive_output(timeout=10)
            body += message.get("body", b"")
            if not message.get("more_body") or await request.receive_nothing(timeout=0.3):
                break
        await request.send_input({"type": "http.disconnect"})
        await request.wait(timeout=10)
    return {"status": start["status"], "headers": dict(start["headers"]), "body": body}


def table(world: dict[str, Any]) -> list[tuple[str, str, dict[str, str], str]]:
    """(path, query, headers, method): successes and every kind of refusal."""
    token = {"authorization": f"Token {world['alice']}"}
    bot = {"authorization": f"Api-Key {world['bot_key']}"}
    cursor = f"support:{world['cursor']}"
    return [
        (LONGPOLL, "", token, "GET"),
        (LONGPOLL, "after=support:0&timeout=0", token, "GET"),
        (LONGPOLL, "after=support:0&timeout=0", bot, "GET"),
        (LONGPOLL, f"after={cursor}&timeout=0", bot, "GET"),
        (LONGPOLL, "after=support:2&after=support:0&timeout=0&x=1", token, "GET"),
        (LONGPOLL, "after=support:0&timeout=0", {"cookie": f"sessionid={world['session']}"}, "GET"),
        (LONGPOLL, "after=abc", token, "GET"),
        (LONGPOLL, "after=abc", {**token, "accept-language": "ru"}, "GET"),
        (LONGPOLL, "after=support:1&timeout=31", token, "GET"),
        (LONGPOLL, "after=support:99999&timeout=0", token, "GET"),
        (LONGPOLL, "", {}, "GET"),
        (LONGPOLL, "", {"authorization": "Api-Key nope"}, "GET"),
        (LONGPOLL, "", {"authorization": "Token"}, "GET"),
        (LONGPOLL, "", {"authorization": f"Token {world['eve']}"}, "GET"),
        (LONGPOLL, "", {**bot, "x-support-acting-telegram-id": "5"}, "GET"),
        (LONGPOLL, "", {"cookie": "sessionid=forged"}, "GET"),
        (LONGPOLL, "", {**token, "host": "evil.example"}, "GET"),
        (LONGPOLL, "", token, "POST"),
        (LONGPOLL, "", token, "HEAD"),
        (LONGPOLL, "", {**token, "content-length": "0"}, "GET"),
        (LONGPOLL + "x/", "", token, "GET"),
        (SSE, "after=support:0", token, "GET"),
        (SSE, "after=support:0", bot, "GET"),
        (SSE, "after=abc", token, "GET"),
        (SSE, "", {**token, "last-event-id": "x"}, "GET"),
        (SSE, "", {}, "GET"),
        (SSE, "", {"authorization": f"Token {world['eve']}"}, "GET"),
        (SSE, "", token, "PUT"),
    ]


async def test_every_answer_is_the_one_django_gives(world, django_requests):
    for path_, query, headers, method in table(world):
        scope = scope_for(path_, query, headers, method)
        through_django = await answer(scope, direct=False)
        django_requests.clear()
        direct = await answer(scope, direct=True)
        where = f"{method} {path_}?{query} {headers}"
        assert direct["status"] == through_django["status"], where
        assert direct["body"] == through_django["body"], where
        for name in (b"content-type", b"cache-control", b"x-accel-buffering"):
            assert direct["headers"].get(name) == through_django["headers"].get(name), where
        served_directly = direct["status"] == 200 and method == "GET" and path_ in (LONGPOLL, SSE)
        if served_directly and "host" not in headers and "content-length" not in headers:
            assert django_requests == [], where  # Django's handler never saw it
        else:
            assert django_requests == [path_], where  # handed to Django, which answered


async def test_an_error_is_in_the_callers_language_as_django_answers_it(world):
    scope = scope_for(LONGPOLL, "after=abc", {"authorization": f"Token {world['alice']}",
                                               "accept-language": "ru"})  # fmt: skip
    body = json.loads((await answer(scope, direct=True))["body"])
    assert body["code"] == "invalid"
    assert not body["detail"].isascii()  # in Russian: LocaleMiddleware ran


async def test_a_waiting_long_poll_gets_the_next_event_and_reads_no_log_first(
    world, monkeypatch, settings
):
    from support.realtime import replay

    settings.SUPPORT_HUB_POLL_INTERVAL = 60  # no timer round of the hub's during the test

    reads: list[int] = []
    original = replay.read_log_async

    async def counted(after: int, limit: int) -> Any:
        reads.append(after)
        return await original(after, limit)

    monkeypatch.setattr(replay, "read_log_async", counted)
    hub = get_hub()
    await hub.start()
    await asyncio.sleep(0.2)  # the wake-ups of the world's changes, spent
    reads.clear()
    assert hub.has_read_through(world["cursor"])
    with override_settings(SUPPORT_DIRECT_STREAMS=True):
        poll = await requested(waiting_poll(world))
        assert await poll.receive_nothing(timeout=0.3)
        assert reads == []  # at the hub's position: nothing to read before waiting
        bot = Actor.for_bot(await sync_to_async(BotKey.objects.get)())
        await sync_to_async(services.resolve)(bot, world["queued"])
        start = await poll.receive_output(timeout=5)
        body = json.loads((await poll.receive_output(timeout=5))["body"])
        await poll.wait(timeout=5)
    assert start["status"] == 200
    assert [e["type"] for e in body["events"]] == ["ticket.resolved"]
    assert body["cursor"] == f"support:{world['cursor'] + 1}"
    assert reads == [world["cursor"]]  # the hub's one read of the new event, for everyone


async def test_a_client_that_goes_away_frees_its_long_poll_and_its_stream(world):
    hub = get_hub()
    await hub.start()
    cursor = f"support:{world['cursor']}"
    token = {"authorization": f"Token {world['alice']}"}
    with override_settings(SUPPORT_DIRECT_STREAMS=True):
        poll = await requested(waiting_poll(world))
        stream = await requested(scope_for(SSE, f"after={cursor}", token))
        assert (await stream.receive_output(timeout=5))["status"] == 200
        await asyncio.sleep(0.2)
        assert hub.listener_count == 2  # the poll's subscription, the stream's watch
        for request in (poll, stream):
            await request.send_input({"type": "http.disconnect"})
            await request.wait(timeout=5)  # ends, answering nothing more
    assert hub.listener_count == 0


async def test_revocation_ends_a_waiting_direct_long_poll_with_djangos_401(world):
    hub = get_hub()
    await hub.start()
    with override_settings(SUPPORT_DIRECT_STREAMS=True):
        poll = await requested(waiting_poll(world))
        assert await poll.receive_nothing(timeout=0.3)
        await strip_permission(world["alice_id"])
        await hub.recheck_credentials()
        start = await poll.receive_output(timeout=5)
        body = json.loads((await poll.receive_output(timeout=5))["body"])
        await poll.send_input({"type": "http.disconnect"})
        await poll.wait(timeout=5)
    assert start["status"] in (401, 403)
    assert body["code"] in ("not_authenticated", "permission_denied")


async def test_an_sse_stream_carries_live_events(world):
    hub = get_hub()
    await hub.start()
    with override_settings(SUPPORT_DIRECT_STREAMS=True):
        scope = scope_for(SSE, f"after=support:{world['cursor']}",
                          {"authorization": f"Api-Key {world['bot_key']}"})  # fmt: skip
        stream = await requested(scope)
        assert (await stream.receive_output(timeout=5))["status"] == 200
        bot = Actor.for_bot(await sync_to_async(BotKey.objects.get)())
        await sync_to_async(services.resolve)(bot, world["queued"])
        text = ""
        while "ticket.resolved" not in text:
            text += (await stream.receive_output(timeout=5))["body"].decode()
        await stream.send_input({"type": "http.disconnect"})
        await stream.wait(timeout=5)
    position = await sync_to_async(events.current_position)()
    assert f"event: ticket.resolved\nid: support:{position}\n" in text


def project_events(request: HttpRequest) -> HttpResponse:
    return HttpResponse("the project's own")


urlpatterns = [
    path("support/events/", project_events),  # the project's own view on the path
    path("support/", include("support.urls")),
]


@override_settings(ROOT_URLCONF=__name__)
async def test_a_path_the_project_serves_itself_is_left_to_django(world, django_requests):
    from support.realtime.direct import DirectStreams

    with override_settings(SUPPORT_DIRECT_STREAMS=True):
        routes = DirectStreams(None).routes()
    assert list(routes) == ["/support/events/stream/"]

"""What a careless client or an attacker tries, and what every transport answers.

Each case was once a 500, an HTML page, an unthrottled loop or a silent
stall; each must now be a clear error in the API's shape that changes
nothing. These cases run in-process, on Django's test client and on the ASGI
application; the ones that need real servers (concurrent writers, slow
readers) are in ``test_hardening_live.py``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.core.cache import BaseCache, caches
from rest_framework.test import APIClient

from support.models import Message
from tests.test_realtime_http import Client
from tests.test_realtime_websocket import application, connect, receive, setup_world, snapshot

__all__ = ["application"]  # the fixture, imported for the WebSocket tests here

BAD_STRINGS = [
    pytest.param({"text": "nul \x00 inside"}, "text", id="nul-in-text"),
    pytest.param({"text": "lone \ud800 surrogate"}, "text", id="surrogate-in-text"),
    pytest.param({"text": "ok", "idempotency_key": "k\x00"}, "idempotency_key", id="nul-in-key"),
    pytest.param({"text": "ok", "idempotency_key": "\udfff"}, "idempotency_key", id="surr-key"),
    pytest.param({"text": 12}, "text", id="text-not-a-string"),
    pytest.param({"text": "x" * 4097}, "text", id="text-too-long"),
    pytest.param({"text": "ok", "idempotency_key": "k" * 129}, "idempotency_key", id="key-long"),
    pytest.param({"text": "ok", "sender": "user"}, "sender", id="sender-not-a-ws-field"),
]


# -- the same input rules on REST and WebSocket --------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("fields", "field"), BAD_STRINGS)
async def test_websocket_refuses_what_rest_refuses(application, stop_hub, fields, field):
    world = await setup_world()
    before = await snapshot()
    ws = connect(application, authorization=f"Api-Key {world['bot_key']}")
    await ws.connect()
    frame = {"type": "ticket.message.new", "ticket_id": world["queued"], "request_id": 1}
    await ws.send_to(text_data=json.dumps({**frame, **fields}))
    answer = await receive(ws)
    assert answer["type"] == "error"
    assert (answer["status"], answer["code"]) == (400, "invalid")
    assert field in answer["errors"]
    assert await snapshot() == before
    await ws.disconnect()


@pytest.mark.django_db
@pytest.mark.parametrize(("fields", "field"), BAD_STRINGS[:-1])
def test_rest_refuses_the_same_strings(bot_client, make_ticket, fields, field):
    ticket = make_ticket()
    count = Message.objects.count()
    body = json.dumps(fields)  # escapes the lone surrogates as JSON allows
    response = bot_client.post(
        f"/support/tickets/{ticket.pk}/messages/", body, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert field in response.json()["errors"]
    assert Message.objects.count() == count


# -- throttling on every transport ---------------------------------------------


async def answer_to(ws: Any, request_id: Any) -> dict[str, Any]:
    """The answer (ack, error, pong) to *request_id*, skipping events sent meanwhile."""
    while True:
        frame = await receive(ws)
        if frame["type"] in ("ack", "error", "pong") and frame.get("request_id") == request_id:
            return frame


@pytest.mark.django_db(transaction=True)
async def test_websocket_commands_spend_the_rest_budget(
    application, stop_hub, settings, frozen_rate_clock
):
    settings.SUPPORT_THROTTLE_RATES = {"bot": "4/min", "manager": None}
    caches["default"].clear()
    world = await setup_world()
    from rest_framework.test import APIClient

    rest = APIClient()
    rest.credentials(HTTP_AUTHORIZATION=f"Api-Key {world['bot_key']}")
    for _ in range(2):
        response = await sync_to_async(rest.get)("/support/tickets/")
        assert response.status_code == 200

    ws = connect(application, authorization=f"Api-Key {world['bot_key']}")
    await ws.connect()
    frame = {"type": "ticket.message.new", "ticket_id": world["queued"], "text": "spam"}
    answers = []
    for number in range(5):
        await ws.send_json_to({**frame, "request_id": number})
        answers.append(await answer_to(ws, number))
    assert [a["type"] for a in answers] == ["ack", "ack", "error", "error", "error"]
    refusal = answers[2]
    assert (refusal["status"], refusal["code"], refusal["request_id"]) == (429, "rate_limited", 2)
    assert 0 < refusal["retry_after"] <= 60
    assert await sync_to_async(Message.objects.filter(text="spam").count)() == 2
    # The budget is one: REST is refused too now.
    response = await sync_to_async(rest.get)("/support/tickets/")
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 60
    # Pings cost nothing and still work.
    await ws.send_json_to({"type": "ping", "request_id": "p"})
    assert await answer_to(ws, "p") == {"type": "pong", "request_id": "p"}
    await ws.disconnect()


# -- errors are always the JSON shape --------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("debug", [False, True])
def test_body_over_the_upload_limit_is_json_413(bot_client, make_ticket, settings, debug):
    settings.DEBUG = debug
    ticket = make_ticket()
    body = json.dumps({"text": "x" * (10 * 1024 * 1024)})
    response = bot_client.post(
        f"/support/tickets/{ticket.pk}/messages/", body, content_type="application/json"
    )
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert Message.objects.filter(ticket=ticket).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("debug", [False, True])
def test_a_bug_is_a_json_500_with_the_logged_request_id(
    bot_client, make_ticket, settings, monkeypatch, caplog, debug
):
    settings.DEBUG = debug
    ticket = make_ticket()

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("support.services.post_message", broken)
    with caplog.at_level(logging.ERROR, logger="support.errors"):
        response = bot_client.post(
            f"/support/tickets/{ticket.pk}/messages/", {"text": "hi"}, format="json"
        )
    assert response.status_code == 500
    body = response.json()
    assert body["code"] == "server_error"
    assert "boom" not in json.dumps(body)
    assert response["X-Request-ID"] == body["request_id"]
    assert body["request_id"] in caplog.text
    assert "boom" in caplog.text

    # A client's own request id is kept, so its logs and ours line up.
    response = bot_client.post(
        f"/support/tickets/{ticket.pk}/messages/",
        {"text": "hi"},
        format="json",
        HTTP_X_REQUEST_ID="bot-42.7",
    )
    assert response.json()["request_id"] == "bot-42.7"


@pytest.mark.django_db(transaction=True)
async def test_a_bug_in_a_websocket_command_is_an_error_frame(
    application, stop_hub, monkeypatch, caplog
):
    world = await setup_world()
    monkeypatch.setattr("support.services.assign", lambda *a, **k: 1 / 0)
    ws = connect(application, authorization=f"Token {world['alice']}")
    await ws.connect()
    with caplog.at_level(logging.ERROR, logger="support.errors"):
        await ws.send_json_to(
            {"type": "ticket.assign", "ticket_id": world["queued"], "request_id": 7}
        )
        answer = await receive(ws)
    assert (answer["type"], answer["status"], answer["code"]) == ("error", 500, "server_error")
    assert answer["request_id"] == 7
    assert answer["log_id"] in caplog.text
    assert "ZeroDivisionError" in caplog.text
    # The connection is still good.
    await ws.send_json_to({"type": "ping"})
    assert (await receive(ws))["type"] == "pong"
    await ws.disconnect()


# -- cursors from the future -------------------------------------------------------

FUTURE = "support:99999999"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("path", "headers"),
    [
        pytest.param(f"/support/events/?after={FUTURE}&timeout=5", {}, id="long-poll"),
        pytest.param(f"/support/events/stream/?after={FUTURE}", {}, id="sse-after"),
        pytest.param("/support/events/stream/", {"Last-Event-ID": FUTURE}, id="sse-header"),
    ],
)
async def test_http_transports_refuse_a_cursor_beyond_the_head(stop_hub, path, headers):
    world = await setup_world()
    client = Client(f"Token {world['alice']}", **headers)
    response = await asyncio.wait_for(client.get(path), 5)  # refused, not held
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_cursor"
    # The head itself is a fine cursor: nothing new yet.
    response = await client.get(f"/support/events/?after=support:{world['cursor']}&timeout=0")
    assert response.json() == {"events": [], "cursor": f"support:{world['cursor']}"}


@pytest.mark.django_db(transaction=True)
async def test_websocket_refuses_a_cursor_beyond_the_head(application, stop_hub):
    world = await setup_world()
    ws = connect(
        application, f"/ws/support/?after={FUTURE}", authorization=f"Token {world['alice']}"
    )
    await ws.connect()
    answer = await receive(ws)
    assert (answer["type"], answer["status"], answer["code"]) == ("error", 400, "invalid_cursor")
    assert (await ws.receive_output(5))["code"] == 4400  # docs/events.md's close codes


# -- open streams per credential --------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_streams_per_credential_are_capped_on_every_transport(
    application, stop_hub, settings
):
    settings.SUPPORT_MAX_STREAMS_PER_CREDENTIAL = 2
    world = await setup_world()
    token = f"Token {world['alice']}"
    after = f"support:{world['cursor']}"
    held = [connect(application, authorization=token) for _ in range(2)]
    for ws in held:
        assert (await ws.connect())[0]
    await ws.send_json_to({"type": "ping", "request_id": 1})
    assert (await receive(ws))["type"] == "pong"

    third = connect(application, authorization=token)
    await third.connect()
    answer = await receive(third)
    assert (answer["status"], answer["code"]) == (429, "too_many_streams")
    assert (await third.receive_output(5))["code"] == 4429  # docs/events.md's close codes

    client = Client(token)
    for path in (f"/support/events/?after={after}&timeout=5", "/support/events/stream/"):
        response = await asyncio.wait_for(client.get(path), 5)
        assert response.status_code == 429, path
        assert response.json()["code"] == "too_many_streams"
    # A long-poll that need not wait holds no stream, so it still answers.
    response = await client.get(f"/support/events/?after={after}&timeout=0")
    assert response.status_code == 200
    # Other credentials are not affected.
    other = connect(application, authorization=f"Api-Key {world['bot_key']}")
    assert (await other.connect())[0]
    await other.send_json_to({"type": "ping", "request_id": 2})
    assert (await receive(other))["type"] == "pong"

    # Closing a stream frees its place.
    await held[0].disconnect()
    await asyncio.sleep(0.05)
    again = connect(application, authorization=token)
    assert (await again.connect())[0]
    await again.send_json_to({"type": "ping", "request_id": 3})
    assert (await receive(again))["type"] == "pong"
    for ws in (held[1], other, again):
        await ws.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_stream_limit_zero_means_no_limit(application, stop_hub, settings):
    settings.SUPPORT_MAX_STREAMS_PER_CREDENTIAL = 0
    world = await setup_world()
    sockets = [connect(application, authorization=f"Token {world['alice']}") for _ in range(40)]
    for ws in sockets:
        assert (await ws.connect())[0]
    await sockets[-1].send_json_to({"type": "ping", "request_id": 1})
    assert (await receive(sockets[-1]))["type"] == "pong"
    for ws in sockets:
        await ws.disconnect()


# -- the shared cache failing -----------------------------------------------------


class BrokenCache(BaseCache):
    """A cache whose server is down: every call raises, as redis-py's does."""

    def __init__(self, location: str, params: dict[str, Any]) -> None:
        super().__init__(params)

    def _fail(self, *args: Any, **kwargs: Any) -> Any:
        raise ConnectionRefusedError("the cache server is down")

    get = set = add = delete = incr = clear = _fail


@pytest.mark.django_db
def test_a_failing_shared_cache_refuses_nothing(bot_key, make_ticket, settings, caplog):
    settings.CACHES = {
        **settings.CACHES,
        "broken": {"BACKEND": "tests.test_hardening.BrokenCache"},
    }
    settings.SUPPORT_THROTTLE_CACHE = "broken"
    settings.SUPPORT_THROTTLE_RATES = {"bot": "1/min", "manager": None}
    key, raw = bot_key
    ticket = make_ticket()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    url = f"/support/tickets/{ticket.pk}/messages/"
    with caplog.at_level(logging.WARNING, logger="support.sharedcache"):
        answers = [client.post(url, {"text": f"m{n}"}, format="json") for n in range(3)]
    assert [a.status_code for a in answers] == [201] * 3  # not limited, no 500
    assert "is failing" in caplog.text
    # Nothing is remembered without the cache: a revocation still holds at once.
    from support.services import revoke_bot_key

    revoke_bot_key(key)
    assert client.post(url, {"text": "late"}, format="json").status_code == 401

"""Reading tickets and messages: filters, pagination, auth, constant query counts."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from support import services


@pytest.fixture
def three_tickets(make_ticket, manager_actor, bot_actor):
    from tests.zz_users.models import MyTelegramUser

    MyTelegramUser.objects.create(telegram_id=777)
    queued = make_ticket("queued")
    mine = make_ticket("mine")
    services.assign(manager_actor, mine.pk)
    done = make_ticket("done", user_id=777)
    services.resolve(bot_actor, done.pk)
    return queued, mine, done


@pytest.mark.parametrize(
    ("query", "titles"),
    [
        # Without ordering, 1.2.0's: unresolved first, latest activity first.
        ("", ["mine", "queued", "done"]),
        ("?resolved=false", ["mine", "queued"]),
        ("?resolved=true", ["done"]),
        ("?user_id=777", ["done"]),
        ("?user_id=123", ["mine", "queued"]),
        ("?manager__isnull=true", ["queued", "done"]),
        ("?manager__isnull=false", ["mine"]),
        ("?manager__isnull=false&resolved=false", ["mine"]),
        ("?ordering=-id", ["done", "mine", "queued"]),
        ("?ordering=id", ["queued", "mine", "done"]),
        ("?ordering=created_at", ["queued", "mine", "done"]),
        ("?ordering=-created_at", ["done", "mine", "queued"]),
        ("?search=MIN", ["mine"]),  # part of the title, any case
        ("?search=777", ["done"]),  # a Telegram user id
        ("?search=123", ["mine", "queued"]),
        ("?search=%20", ["mine", "queued", "done"]),  # blank: no filter
        ("?search=nothing", []),
        ("?search=e&resolved=false&ordering=-id", ["mine", "queued"]),
        # An empty value is a filter not given (as in 1.x); the schema says allowEmptyValue.
        (
            "?user_id=&resolved=&manager=&manager__isnull=&search=&ordering=",
            ["mine", "queued", "done"],
        ),
        ("?ordering=-created_at,id", ["done", "mine", "queued"]),
        ("?user_id=-9223372036854775808", []),
        ("?limit=9223372036854775807&offset=0", ["mine", "queued", "done"]),
    ],
)
def test_ticket_filters(query, titles, manager_client, three_tickets):
    response = manager_client.get(f"/support/tickets/{query}")
    assert response.status_code == 200
    assert [t["title"] for t in response.json()] == titles


def test_filter_by_manager_id(manager_client, manager, three_tickets):
    body = manager_client.get(f"/support/tickets/?manager={manager.pk}").json()
    assert [t["title"] for t in body] == ["mine"]


@pytest.mark.parametrize(
    "query",
    [
        "?resolved=maybe",
        "?user_id=abc",
        "?manager=x",
        "?manager__isnull=2",
        "?limit=abc",
        "?limit=0",
        "?offset=-1",
        "?limit=-5",
        "?user_id=9223372036854775808",
        "?manager=-9223372036854775809",
        "?user_id=1.5",
        "?manager=1e300",
        "?ordering=title",
        "?ordering=unread",
        "?ordering=--id",
        "?search=" + "x" * 257,
        "?search=" + " " * 257,  # the limit counts what was sent
        "?search=%00",
        # Only digits (and a minus) are an id: the schema says integer.
        "?user_id=1.0",
        "?user_id=%201",
        "?user_id=%2B1",
        "?manager=" + "9" * 5000,
        # 64-bit, as the schema says; past it, never a database error.
        "?limit=9223372036854775808",
        "?offset=9223372036854775808",
        "?limit=" + "9" * 5000,  # was a 500: int() refuses 4,300 digits
        "?offset=" + "9" * 5000,
        "?ordering=id,",
        "?ordering=,",
    ],
)
def test_bad_query_parameters_are_400(query, manager_client, three_tickets):
    response = manager_client.get(f"/support/tickets/{query}")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert response.json()["errors"]


def test_limit_offset_paginates_as_a_plain_list(manager_client, three_tickets):
    response = manager_client.get("/support/tickets/?limit=2&offset=1")
    assert response.status_code == 200
    assert [t["title"] for t in response.json()] == ["queued", "done"]
    assert response["X-Total-Count"] == "3"
    assert 'rel="prev"' in response["Link"]
    assert 'rel="next"' not in response["Link"]


def test_messages_newest_first_as_in_1_2_and_paginated(manager_client, bot_actor, make_ticket):
    ticket = make_ticket(text="first")
    for text in ["second", "third"]:
        services.post_message(bot_actor, ticket.pk, text=text)
    url = f"/support/tickets/{ticket.pk}/messages/"
    assert [m["text"] for m in manager_client.get(url).json()] == ["third", "second", "first"]
    page = manager_client.get(url + "?limit=1&offset=2")
    assert [m["text"] for m in page.json()] == ["first"]
    assert page["X-Total-Count"] == "3"


@pytest.mark.parametrize(
    ("ordering", "texts"),
    [
        ("created_at", ["first", "second", "third"]),
        ("-created_at", ["third", "second", "first"]),
        ("id", ["first", "second", "third"]),
        ("-id", ["third", "second", "first"]),
    ],
)
def test_messages_in_another_order_on_request(
    ordering, texts, manager_client, bot_actor, make_ticket
):
    ticket = make_ticket(text="first")
    for text in ["second", "third"]:
        services.post_message(bot_actor, ticket.pk, text=text)
    url = f"/support/tickets/{ticket.pk}/messages/?ordering={ordering}"
    assert [m["text"] for m in manager_client.get(url).json()] == texts


@pytest.mark.parametrize("ordering", ["text", "sender", "-viewed", "created_at,title"])
def test_messages_refuse_an_unknown_ordering(ordering, manager_client, make_ticket):
    ticket = make_ticket()
    response = manager_client.get(f"/support/tickets/{ticket.pk}/messages/?ordering={ordering}")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "ordering" in response.json()["errors"]


def test_tickets_in_1_2_order_unread_then_unresolved_then_latest_activity(
    manager_client, bot_client, manager_actor, bot_actor, make_ticket
):
    read = make_ticket("read")  # the manager viewed its message
    services.mark_viewed(manager_actor, read.pk)
    resolved = make_ticket("resolved")
    services.resolve(bot_actor, resolved.pk)
    old = make_ticket("old")
    make_ticket("recent")
    make_ticket("busy")
    services.post_message(bot_actor, old.pk, text="old, but the latest message")
    untouched = make_ticket("silent")
    untouched.messages.all().delete()  # nothing unread; no messages: after those with some
    listed = [t["title"] for t in manager_client.get("/support/tickets/").json()]
    assert listed == ["old", "busy", "recent", "resolved", "read", "silent"]
    # For the bot, nothing is unread (no manager wrote): unresolved, then by activity.
    assert [t["title"] for t in bot_client.get("/support/tickets/").json()] == [
        "old",
        "busy",
        "recent",
        "read",
        "silent",
        "resolved",
    ]


def test_unread_is_counted_for_the_callers_side(
    manager_client, bot_client, manager_actor, make_ticket
):
    ticket = make_ticket(text="one")
    services.post_message(manager_actor, ticket.pk, text="reply 1")
    services.post_message(manager_actor, ticket.pk, text="reply 2")
    url = f"/support/tickets/{ticket.pk}/"
    assert manager_client.get(url).json()["unread"] == 1  # the user's message
    assert bot_client.get(url).json()["unread"] == 2  # the manager's replies
    listed = bot_client.get("/support/tickets/").json()[0]
    assert listed["unread"] == 2
    assert listed["last_message"]["text"] == "reply 2"


@pytest.mark.parametrize("path", ["/support/tickets/999/", "/support/tickets/999/messages/"])
def test_unknown_ticket_is_404(path, manager_client):
    response = manager_client.get(path)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize(
    "path", ["/support/tickets/", "/support/tickets/1/", "/support/tickets/1/messages/"]
)
def test_anonymous_is_401_and_non_manager_403(path, anon_client, plain_client, make_ticket):
    make_ticket()
    anonymous = anon_client.get(path)
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "not_authenticated"
    assert anonymous["WWW-Authenticate"] == "Api-Key"
    refused = plain_client.get(path)
    assert refused.status_code == 403
    assert refused.json()["code"] == "permission_denied"


@pytest.mark.parametrize(
    "header",
    ["Api-Key nope", "Api-Key abc.def", "Token 0000", "Api-Key", "Api-Key a b", "Token"],
)
def test_bad_credentials_are_401(header, anon_client, make_ticket):
    anon_client.credentials(HTTP_AUTHORIZATION=header)
    response = anon_client.get("/support/tickets/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_session_manager_can_read(client, manager, make_ticket):
    make_ticket()
    client.force_login(manager)
    assert client.get("/support/tickets/").status_code == 200


def test_inactive_manager_is_refused(manager, manager_client):
    manager.is_active = False
    manager.save()
    assert manager_client.get("/support/tickets/").status_code in (401, 403)


def test_superuser_is_a_manager(db):
    from django.contrib.auth.models import User

    from tests.conftest import token_client

    root = User.objects.create_superuser("root", password="pw")
    assert token_client(root).get("/support/tickets/").status_code == 200


@pytest.mark.parametrize("path", ["/support/tickets/", "/support/tickets/?limit=100"])
def test_ticket_list_runs_a_constant_number_of_queries(
    path, manager_client, manager_actor, bot_actor, tg_user
):
    def count_queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            response = manager_client.get(path)
        assert response.status_code == 200
        return len(ctx.captured_queries)

    def add_tickets(n: int) -> None:
        for i in range(n):
            ticket = services.open_ticket(bot_actor, user_id=tg_user.pk, title=f"t{i}", text="x")
            if i % 2:
                services.post_message(manager_actor, ticket.pk, text="reply")

    add_tickets(1)
    count_queries()  # the first request also looks the token up; later ones remember it
    one = count_queries()
    add_tickets(49)
    fifty = count_queries()
    assert one == fifty
    # token lookup + two permission queries, then the list (2) and, paginated, a count
    assert fifty <= 6


def test_message_list_runs_a_constant_number_of_queries(manager_client, bot_actor, make_ticket):
    ticket = make_ticket()
    url = f"/support/tickets/{ticket.pk}/messages/"

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            manager_client.get(url)
        return len(ctx.captured_queries)

    count()  # the first request also looks the token up; later ones remember it
    before = count()
    for i in range(49):
        services.post_message(bot_actor, ticket.pk, text=f"m{i}")
    assert count() == before


def test_schema_is_public_openapi(anon_client):
    response = anon_client.get("/support/schema/?format=json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    assert "/tickets/{id}/messages/viewed/" in document["paths"]
    assert document["servers"] == [{"url": "http://testserver/support/"}]
    schemes = document["components"]["securitySchemes"]
    assert {"botKey", "tokenAuth", "cookieAuth"} <= set(schemes)


def test_errors_speak_russian_when_asked(manager_client, other_actor, make_ticket):
    from support import services

    ticket = make_ticket()
    services.assign(other_actor, ticket.pk)
    response = manager_client.post(
        f"/support/tickets/{ticket.pk}/assign/", HTTP_ACCEPT_LANGUAGE="ru"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "already_assigned"
    assert "менеджер" in response.json()["detail"]


def test_requests_over_the_rate_are_429_with_retry_after(
    bot_client, manager_client, settings, frozen_rate_clock
):
    from django.core.cache import cache

    cache.clear()
    settings.SUPPORT_THROTTLE_RATES = {"bot": "2/min", "manager": None}
    assert bot_client.get("/support/tickets/").status_code == 200
    assert bot_client.get("/support/tickets/").status_code == 200
    limited = bot_client.get("/support/tickets/")
    assert limited.status_code == 429
    assert limited.json()["code"] == "rate_limited"
    assert 0 < int(limited["Retry-After"]) <= 60
    # Each side counts on its own, and None turns a side's limit off.
    for _ in range(5):
        assert manager_client.get("/support/tickets/").status_code == 200
    cache.clear()


@pytest.mark.parametrize(
    "path",
    [
        "/support/tickets/abc/",
        "/support/tickets/0.5/messages/",
        "/support/nope/",
        "/support/tickets/1%0A2/reopen/",
    ],
)
def test_unknown_paths_under_the_api_are_json_404(path, manager_client):
    response = manager_client.get(path)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_unknown_paths_are_json_404_for_writes_too(manager, settings):
    from rest_framework.test import APIClient

    client = APIClient(enforce_csrf_checks=True)
    client.force_login(manager)
    response = client.post("/support/tickets/null,null/assign/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"

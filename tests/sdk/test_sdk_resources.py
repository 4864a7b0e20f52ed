"""What each SDK method sends and what it returns: tickets, messages, events.poll, headers."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import respx

from support_client import (
    APIResponseValidationError,
    EventPage,
    Manager,
    Message,
    TelegramUser,
    Ticket,
    TicketResolved,
)
from support_client import _constants as C
from tests.sdk.common import (
    KEY,
    MESSAGE,
    SEED,
    TICKET,
    USER_MESSAGE,
    Api,
    body_of,
    last_request,
    query_of,
)

# --- tickets ------------------------------------------------------------------------------


async def test_tickets_list_sends_get_oldest_first_and_returns_tickets(
    api: Api, mock: respx.MockRouter
) -> None:
    route = mock.get("tickets/").respond(json=[TICKET, SEED["rest"]["GET tickets/"][0]])

    tickets = await api.run(lambda c: c.tickets.list())

    request = last_request(route)
    assert request.method == "GET"
    assert request.headers["Authorization"] == f"Api-Key {KEY}"
    assert request.url.path == "/support/tickets/"
    assert query_of(request) == {"ordering": "id"}
    assert request.content == b""
    assert [type(t) for t in tickets] == [Ticket, Ticket]
    assert [t.id for t in tickets] == [16, 2]


@pytest.mark.parametrize(
    ("kwargs", "query"),
    [
        pytest.param({"user_id": 123}, {"user_id": "123"}, id="user_id"),
        pytest.param({"resolved": True}, {"resolved": "true"}, id="resolved-true"),
        pytest.param({"resolved": False}, {"resolved": "false"}, id="resolved-false"),
        pytest.param({"manager": 7}, {"manager": "7"}, id="manager"),
        pytest.param({"manager_isnull": True}, {"manager__isnull": "true"}, id="isnull-true"),
        pytest.param({"manager_isnull": False}, {"manager__isnull": "false"}, id="isnull-false"),
        pytest.param({"limit": 10}, {"limit": "10"}, id="limit"),
        pytest.param({"offset": 20}, {"offset": "20"}, id="offset"),
        pytest.param({"limit": 0, "offset": 0}, {"limit": "0", "offset": "0"}, id="zeros"),
        pytest.param({"search": "123"}, {"search": "123"}, id="search-user-id"),
        pytest.param({"search": "Bug report"}, {"search": "Bug report"}, id="search-title"),
        pytest.param({"search": ""}, {"search": ""}, id="search-empty"),
        pytest.param(
            {"resolved": False, "manager_isnull": True, "limit": 5, "offset": 5},
            {"resolved": "false", "manager__isnull": "true", "limit": "5", "offset": "5"},
            id="combined",
        ),
    ],
)
async def test_tickets_list_sends_filters_as_query(
    api: Api, mock: respx.MockRouter, kwargs: dict[str, Any], query: dict[str, str]
) -> None:
    route = mock.get("tickets/").respond(json=[])

    assert await api.run(lambda c: c.tickets.list(**kwargs)) == []

    assert query_of(last_request(route)) == {**query, "ordering": "id"}


@pytest.mark.parametrize("ordering", ["id", "-id", "created_at", "-created_at"])
async def test_tickets_list_sends_the_ordering_asked_for(
    api: Api, mock: respx.MockRouter, ordering: str
) -> None:
    route = mock.get("tickets/").respond(json=[])

    await api.run(lambda c: c.tickets.list(search="bug", ordering=ordering))

    assert query_of(last_request(route)) == {"search": "bug", "ordering": ordering}


async def test_tickets_list_without_ordering_leaves_the_order_to_the_server(
    api: Api, mock: respx.MockRouter
) -> None:
    route = mock.get("tickets/").respond(json=[])

    await api.run(lambda c: c.tickets.list(resolved=False, ordering=None))

    assert query_of(last_request(route)) == {"resolved": "false"}


async def test_tickets_list_does_not_send_none_filters(api: Api, mock: respx.MockRouter) -> None:
    route = mock.get("tickets/").respond(json=[])

    await api.run(
        lambda c: c.tickets.list(
            user_id=None,
            resolved=None,
            manager=None,
            manager_isnull=None,
            search=None,
            ordering=None,
            limit=None,
            offset=None,
        )
    )

    assert query_of(last_request(route)) == {}


async def test_tickets_get_returns_the_ticket_with_nested_models(
    api: Api, mock: respx.MockRouter
) -> None:
    route = mock.get("tickets/16/").respond(json=TICKET)

    ticket = await api.run(lambda c: c.tickets.get(16))

    request = last_request(route)
    assert request.method == "GET"
    assert request.headers["Authorization"] == f"Api-Key {KEY}"
    assert request.url.path == "/support/tickets/16/"
    assert request.content == b""
    assert isinstance(ticket, Ticket)
    assert ticket.id == 16
    assert ticket.user == TelegramUser(telegram_id=123)
    assert ticket.support_manager == Manager(id=1, first_name="Alice", last_name="Smith")
    assert ticket.created_at == datetime(2025, 1, 22, 12, 11, 40, 273325, tzinfo=UTC)
    assert ticket.title == "I've founded some bug"
    assert ticket.resolved is False
    assert ticket.unread == 2
    assert ticket.viewed is False
    assert isinstance(ticket.last_message, Message)
    assert ticket.last_message.id == 31


async def test_tickets_create_posts_user_title_and_text(api: Api, mock: respx.MockRouter) -> None:
    route = mock.post("tickets/").respond(201, json=TICKET)

    ticket = await api.run(lambda c: c.tickets.create(user_id=123, title="Bug", text="It fails"))

    request = last_request(route)
    assert request.method == "POST"
    assert request.headers["Authorization"] == f"Api-Key {KEY}"
    assert request.url.path == "/support/tickets/"
    assert query_of(request) == {}
    assert body_of(request) == {"user_id": 123, "title": "Bug", "text": "It fails"}
    assert request.headers["Content-Type"] == "application/json"
    assert isinstance(ticket, Ticket)
    assert ticket.id == 16


async def test_tickets_create_without_text_sends_no_text(api: Api, mock: respx.MockRouter) -> None:
    route = mock.post("tickets/").respond(201, json=TICKET)

    await api.run(lambda c: c.tickets.create(user_id=123, title="Bug"))

    assert body_of(last_request(route)) == {"user_id": 123, "title": "Bug"}


@pytest.mark.parametrize(
    ("kwargs", "body"),
    [
        pytest.param({"title": "New"}, {"title": "New"}, id="title"),
        pytest.param({"resolved": True}, {"resolved": True}, id="resolved-true"),
        pytest.param({"resolved": False}, {"resolved": False}, id="resolved-false"),
        pytest.param(
            {"title": "New", "resolved": True}, {"title": "New", "resolved": True}, id="both"
        ),
        pytest.param({}, {}, id="nothing"),
    ],
)
async def test_tickets_update_patches_only_given_fields(
    api: Api, mock: respx.MockRouter, kwargs: dict[str, Any], body: dict[str, Any]
) -> None:
    route = mock.patch("tickets/16/").respond(json={**TICKET, "title": "New"})

    ticket = await api.run(lambda c: c.tickets.update(16, **kwargs))

    request = last_request(route)
    assert request.method == "PATCH"
    assert request.headers["Authorization"] == f"Api-Key {KEY}"
    assert request.url.path == "/support/tickets/16/"
    assert body_of(request) == body
    assert isinstance(ticket, Ticket)
    assert ticket.title == "New"


@pytest.mark.parametrize("action", ["assign", "unassign", "resolve", "reopen"])
async def test_ticket_actions_post_to_their_path_without_body(
    api: Api, mock: respx.MockRouter, action: str
) -> None:
    answer = {**TICKET, "resolved": action == "resolve"}
    route = mock.post(f"tickets/16/{action}/").respond(json=answer)

    ticket = await api.run(lambda c: getattr(c.tickets, action)(16))

    request = last_request(route)
    assert request.method == "POST"
    assert request.headers["Authorization"] == f"Api-Key {KEY}"
    assert request.url.path == f"/support/tickets/16/{action}/"
    assert query_of(request) == {}
    assert request.content == b""
    assert isinstance(ticket, Ticket)
    assert ticket.id == 16
    assert ticket.resolved is (action == "resolve")


# --- messages -----------------------------------------------------------------------------


async def test_messages_list_returns_messages(api: Api, mock: respx.MockRouter) -> None:
    route = mock.get("tickets/16/messages/").respond(json=[MESSAGE, USER_MESSAGE])

    messages = await api.run(lambda c: c.messages.list(16))

    request = last_request(route)
    assert request.method == "GET"
    assert request.headers["Authorization"] == f"Api-Key {KEY}"
    assert request.url.path == "/support/tickets/16/messages/"
    assert query_of(request) == {"ordering": "created_at"}
    assert [type(m) for m in messages] == [Message, Message]
    first, second = messages
    assert (first.id, first.sender, first.text, first.viewed, first.ticket, first.author) == (
        31,
        "supp",
        "some_text",
        True,
        16,
        1,
    )
    assert first.created_at == datetime(2024, 12, 29, 16, 8, 4, 267002, tzinfo=UTC)
    assert (second.sender, second.viewed, second.author) == ("user", False, None)


async def test_messages_list_sends_limit_and_offset(api: Api, mock: respx.MockRouter) -> None:
    route = mock.get("tickets/16/messages/").respond(json=[])

    await api.run(lambda c: c.messages.list(16, limit=50, offset=100))

    assert query_of(last_request(route)) == {
        "ordering": "created_at",
        "limit": "50",
        "offset": "100",
    }


@pytest.mark.parametrize(
    ("ordering", "query"),
    [
        pytest.param("-created_at", {"ordering": "-created_at"}, id="newest-first"),
        pytest.param("id", {"ordering": "id"}, id="id"),
        pytest.param("-id", {"ordering": "-id"}, id="-id"),
        pytest.param(None, {}, id="server-default"),
    ],
)
async def test_messages_list_sends_the_ordering_asked_for(
    api: Api, mock: respx.MockRouter, ordering: str | None, query: dict[str, str]
) -> None:
    route = mock.get("tickets/16/messages/").respond(json=[])

    await api.run(lambda c: c.messages.list(16, ordering=ordering))

    assert query_of(last_request(route)) == query


async def test_messages_send_posts_text_and_given_idempotency_key(
    api: Api, mock: respx.MockRouter
) -> None:
    route = mock.post("tickets/16/messages/").respond(201, json=MESSAGE)

    message = await api.run(lambda c: c.messages.send(16, "hello", idempotency_key="tg-5501"))

    request = last_request(route)
    assert request.method == "POST"
    assert request.headers["Authorization"] == f"Api-Key {KEY}"
    assert request.url.path == "/support/tickets/16/messages/"
    assert body_of(request) == {"text": "hello", "idempotency_key": "tg-5501"}
    assert isinstance(message, Message)
    assert message.id == 31


async def test_messages_send_generates_a_fresh_idempotency_key(
    api: Api, mock: respx.MockRouter
) -> None:
    route = mock.post("tickets/16/messages/").respond(201, json=MESSAGE)

    await api.run(lambda c: c.messages.send(16, "one"))
    await api.run(lambda c: c.messages.send(16, "two"))

    first, second = (body_of(call.request) for call in route.calls)
    assert first["text"] == "one"
    assert second["text"] == "two"
    assert set(first) == set(second) == {"text", "idempotency_key"}
    for key in (first["idempotency_key"], second["idempotency_key"]):
        assert isinstance(key, str)
        assert re.fullmatch(r"sdk-[0-9a-f]{32}", key)
    assert first["idempotency_key"] != second["idempotency_key"]


async def test_messages_send_retry_resends_the_same_idempotency_key(
    api: Api, mock: respx.MockRouter
) -> None:
    route = mock.post("tickets/16/messages/").mock(
        side_effect=[httpx.ReadTimeout("lost answer"), httpx.Response(200, json=MESSAGE)]
    )

    await api.run(lambda c: c.messages.send(16, "hello"))

    keys = [body_of(call.request)["idempotency_key"] for call in route.calls]
    assert len(keys) == 2
    assert keys[0] == keys[1]


@pytest.mark.parametrize(
    ("kwargs", "body"),
    [pytest.param({}, {}, id="all"), pytest.param({"up_to": 31}, {"up_to": 31}, id="up_to")],
)
async def test_messages_mark_viewed_posts_up_to_and_returns_marked_messages(
    api: Api, mock: respx.MockRouter, kwargs: dict[str, Any], body: dict[str, Any]
) -> None:
    route = mock.post("tickets/16/messages/viewed/").respond(json=[USER_MESSAGE])

    marked = await api.run(lambda c: c.messages.mark_viewed(16, **kwargs))

    request = last_request(route)
    assert request.method == "POST"
    assert request.headers["Authorization"] == f"Api-Key {KEY}"
    assert request.url.path == "/support/tickets/16/messages/viewed/"
    assert body_of(request) == body
    assert [type(m) for m in marked] == [Message]
    assert marked[0].id == 32


# --- events.poll --------------------------------------------------------------------------


async def test_events_poll_without_after_sends_only_default_timeout(
    api: Api, mock: respx.MockRouter
) -> None:
    route = mock.get("events/").respond(json={"events": [], "cursor": "support:44"})

    page = await api.run(lambda c: c.events.poll())

    request = last_request(route)
    assert request.method == "GET"
    assert request.headers["Authorization"] == f"Api-Key {KEY}"
    assert request.url.path == "/support/events/"
    assert query_of(request) == {"timeout": str(C.LONGPOLL_TIMEOUT)}
    assert isinstance(page, EventPage)
    assert page.events == []
    assert page.cursor == "support:44"


async def test_events_poll_with_after_and_timeout_returns_typed_events(
    api: Api, mock: respx.MockRouter
) -> None:
    resolved = {"type": "ticket.resolved", "id": 16, "event_id": "support:45"}
    route = mock.get("events/").respond(json={"events": [resolved], "cursor": "support:45"})

    page = await api.run(lambda c: c.events.poll("support:44", timeout=5))

    assert query_of(last_request(route)) == {"after": "support:44", "timeout": "5"}
    assert page.events == [TicketResolved(id=16, event_id="support:45")]
    assert page.cursor == "support:45"


async def test_events_poll_extends_the_read_timeout_by_the_hold_time(
    api: Api, mock: respx.MockRouter
) -> None:
    route = mock.get("events/").respond(json={"events": [], "cursor": "support:1"})

    await api.run(lambda c: c.events.poll("support:1", timeout=20))

    sent = last_request(route).extensions["timeout"]
    assert C.DEFAULT_TIMEOUT.read is not None
    assert sent["read"] == C.DEFAULT_TIMEOUT.read + 20
    assert sent["connect"] == C.DEFAULT_TIMEOUT.connect


async def test_events_poll_keeps_no_read_timeout_unbounded(
    make: Callable[..., Api], mock: respx.MockRouter
) -> None:
    route = mock.get("events/").respond(json={"events": [], "cursor": "support:1"})

    await make(timeout=httpx.Timeout(None, connect=5)).run(lambda c: c.events.poll("support:1"))

    assert last_request(route).extensions["timeout"]["read"] is None


# --- the resource base --------------------------------------------------------------------


async def test_endpoints_are_methods_of_their_client_kind(api: Api, kind: str) -> None:
    get = api.client.tickets.get

    assert inspect.iscoroutinefunction(get) is (kind == "async")
    assert get.__name__ == "get"
    assert str(inspect.signature(get)) == (
        "(ticket_id: 'int') -> support_client.types.tickets.Ticket"
    )
    assert api.client.tickets.get is get
    assert "Telegram user" in (api.client.tickets.create.__doc__ or "")


async def test_an_unexpected_answer_names_the_endpoint(api: Api, mock: respx.MockRouter) -> None:
    mock.post("tickets/16/assign/").respond(json={"id": "sixteen"})

    with pytest.raises(APIResponseValidationError, match="POST tickets/16/assign/"):
        await api.run(lambda c: c.tickets.assign(16))


# --- headers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("credential", "header"),
    [
        pytest.param({"api_key": "k1"}, "Api-Key k1", id="api_key"),
        pytest.param({"api_key": None, "token": "t1"}, "Token t1", id="token"),
    ],
)
async def test_requests_carry_the_authorization_header(
    make: Callable[..., Api], mock: respx.MockRouter, credential: dict[str, Any], header: str
) -> None:
    route = mock.get("tickets/16/").respond(json=TICKET)

    await make(**credential).run(lambda c: c.tickets.get(16))

    request = last_request(route)
    assert request.headers["Authorization"] == header
    assert request.headers["Accept"] == "application/json"


async def test_default_headers_are_sent_but_do_not_replace_authorization(
    make: Callable[..., Api], mock: respx.MockRouter
) -> None:
    route = mock.get("tickets/16/").respond(json=TICKET)
    api = make(default_headers={"X-Trace": "abc", "Authorization": "Bearer nope"})

    await api.run(lambda c: c.tickets.get(16))

    request = last_request(route)
    assert request.headers["X-Trace"] == "abc"
    assert request.headers.get_list("Authorization") == [f"Api-Key {KEY}"]


async def test_default_headers_in_any_case_do_not_add_a_second_authorization(
    make: Callable[..., Api], mock: respx.MockRouter
) -> None:
    route = mock.get("tickets/16/").respond(json=TICKET)
    api = make(default_headers={"authorization": "Bearer nope"})

    await api.run(lambda c: c.tickets.get(16))

    assert last_request(route).headers.get_list("Authorization") == [f"Api-Key {KEY}"]


async def test_requests_have_the_default_timeout(api: Api, mock: respx.MockRouter) -> None:
    route = mock.get("tickets/16/").respond(json=TICKET)

    await api.run(lambda c: c.tickets.get(16))

    assert last_request(route).extensions["timeout"] == C.DEFAULT_TIMEOUT.as_dict()

"""Unit tests of the SDK (``support_client``) against respx mocks: no server, no database.

Most tests run twice, once with ``SupportClient`` and once with
``AsyncSupportClient``, through the ``api`` / ``make`` fixtures: ``await
api.run(lambda c: c.tickets.get(16))`` calls the method and awaits it when
the client is async. Sleeps between retries are recorded, never slept.
"""

from __future__ import annotations

import copy
import email.utils
import inspect
import json
import os
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import respx

from support_client import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AsyncSupportClient,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    CursorExpiredError,
    EventPage,
    InternalServerError,
    Manager,
    Message,
    MessageNew,
    MessagesViewed,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    StreamReset,
    SupportClient,
    SupportError,
    TelegramUser,
    Ticket,
    TicketAssigned,
    TicketCreated,
    TicketReopened,
    TicketResolved,
    TicketUnassigned,
    TicketUpdated,
    UnknownEvent,
    UnprocessableEntityError,
    _base_client,
)
from support_client import _constants as C
from support_client._base_client import parse_retry_after, retry_delay
from support_client.types import parse_event

BASE = "http://test/support/"
KEY = "bot-key-123"

SEED: dict[str, Any] = json.loads((Path(__file__).parent / "seed_examples.json").read_text())

MESSAGE: dict[str, Any] = {
    "id": 31,
    "created_at": "2024-12-29T16:08:04.267002Z",
    "sender": "supp",
    "text": "some_text",
    "viewed": True,
    "ticket": 16,
    "author": 1,
}
USER_MESSAGE: dict[str, Any] = {
    "id": 32,
    "created_at": "2024-12-29T16:09:00Z",
    "sender": "user",
    "text": "thanks",
    "viewed": False,
    "ticket": 16,
    "author": None,
}
TICKET: dict[str, Any] = {
    "id": 16,
    "user": {"telegram_id": 123},
    "support_manager": {"id": 1, "first_name": "Alice", "last_name": "Smith"},
    "created_at": "2025-01-22T12:11:40.273325Z",
    "title": "I've founded some bug",
    "resolved": False,
    "unread": 2,
    "last_message": MESSAGE,
}
ERROR_BODY: dict[str, Any] = {
    "code": "invalid",
    "detail": "Invalid input.",
    "errors": {"text": ["May not be blank."]},
}


# --- fixtures and helpers -----------------------------------------------------------------


class Clock:
    """Stands in for ``time`` and ``asyncio`` in ``_base_client``: records waits."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self.now: float | None = None

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)

    async def async_sleep(self, seconds: float) -> None:
        self.waits.append(seconds)

    def time(self) -> float:
        return time.time() if self.now is None else self.now


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(_base_client, "time", SimpleNamespace(sleep=fake.sleep, time=fake.time))
    monkeypatch.setattr(_base_client, "asyncio", SimpleNamespace(sleep=fake.async_sleep))
    return fake


@pytest.fixture(autouse=True)
def _no_support_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (C.ENV_BASE_URL, C.ENV_API_KEY, C.ENV_TOKEN):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE) as router:
        yield router


class Api:
    """Either client behind one calling convention."""

    def __init__(self, client: SupportClient | AsyncSupportClient) -> None:
        self.client = client

    async def run(self, call: Callable[[Any], Any]) -> Any:
        result = call(self.client)
        if inspect.isawaitable(result):
            result = await result
        return result


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def make(kind: str) -> AsyncIterator[Callable[..., Api]]:
    """``make(**kwargs)``: a client of this test's kind (defaults: ``BASE`` and ``KEY``)."""
    made: list[SupportClient | AsyncSupportClient] = []

    def factory(**kwargs: Any) -> Api:
        kwargs = {"base_url": BASE, "api_key": KEY, **kwargs}
        client: SupportClient | AsyncSupportClient = (
            SupportClient(**kwargs) if kind == "sync" else AsyncSupportClient(**kwargs)
        )
        made.append(client)
        return Api(client)

    yield factory
    for client in made:
        if isinstance(client, AsyncSupportClient):
            await client.close()
        else:
            client.close()


@pytest.fixture
def api(make: Callable[..., Api]) -> Api:
    return make()


def last_request(route: respx.Route) -> httpx.Request:
    return route.calls.last.request


def query_of(request: httpx.Request) -> dict[str, str]:
    items = request.url.params.multi_items()
    assert len(items) == len(dict(items)), f"repeated query parameter: {items}"
    return dict(items)


def body_of(request: httpx.Request) -> Any:
    return json.loads(request.content)


def with_event_id(example: dict[str, Any], event_id: str = "support:1") -> dict[str, Any]:
    return {**example, "event_id": event_id}


# --- tickets ------------------------------------------------------------------------------


async def test_tickets_list_sends_get_without_query_and_returns_tickets(
    api: Api, mock: respx.MockRouter
) -> None:
    route = mock.get("tickets/").respond(json=[TICKET, SEED["rest"]["GET tickets/"][0]])

    tickets = await api.run(lambda c: c.tickets.list())

    request = last_request(route)
    assert request.method == "GET"
    assert request.headers["Authorization"] == f"Api-Key {KEY}"
    assert request.url.path == "/support/tickets/"
    assert query_of(request) == {}
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

    assert query_of(last_request(route)) == query


async def test_tickets_list_does_not_send_none_filters(api: Api, mock: respx.MockRouter) -> None:
    route = mock.get("tickets/").respond(json=[])

    await api.run(
        lambda c: c.tickets.list(
            user_id=None, resolved=None, manager=None, manager_isnull=None, limit=None, offset=None
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
    assert query_of(request) == {}
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

    assert query_of(last_request(route)) == {"limit": "50", "offset": "100"}


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


# --- parsing: seed examples ---------------------------------------------------------------


def test_seed_ticket_list_example_parses() -> None:
    (example,) = SEED["rest"]["GET tickets/"]

    ticket = Ticket.model_validate(example)

    assert ticket.id == 2
    assert ticket.user.telegram_id == 123
    assert ticket.support_manager is None
    assert ticket.created_at == datetime(2025, 1, 31, 12, 24, 25, 716425, tzinfo=UTC)
    assert ticket.title == "I've founded some bug"
    assert ticket.resolved is False
    assert ticket.unread == 0
    assert ticket.last_message is None


def test_seed_assigned_ticket_example_has_a_manager() -> None:
    ticket = Ticket.model_validate(SEED["rest"]["GET tickets/{id}/ (assigned)"])

    assert ticket.support_manager == Manager(id=1, first_name="", last_name="")
    assert ticket.resolved is True


def test_seed_unassigned_ticket_example_has_no_manager() -> None:
    ticket = Ticket.model_validate(SEED["rest"]["GET tickets/{id}/ (unassigned)"])

    assert ticket.support_manager is None
    assert ticket.resolved is True


def test_seed_messages_example_parses() -> None:
    messages = [Message.model_validate(m) for m in SEED["rest"]["GET tickets/{id}/messages/"]]

    assert [(m.id, m.sender, m.viewed, m.ticket, m.author) for m in messages] == [
        (3, "user", False, 1, None),
        (4, "supp", False, 1, None),
    ]
    assert messages[0].text == "some text of message"
    assert messages[1].created_at == datetime(2025, 1, 31, 12, 18, 9, 929086, tzinfo=UTC)


def seed_rest_objects() -> list[Any]:
    """Each object of the seed's REST examples, with its model: lists give each item."""
    cases = []
    for key, example in SEED["rest"].items():
        model = Message if "messages" in key else Ticket
        items = example if isinstance(example, list) else [example]
        cases += [pytest.param(model, item, id=f"{key}[{i}]") for i, item in enumerate(items)]
    return cases


@pytest.mark.parametrize(("model", "example"), seed_rest_objects())
def test_seed_rest_examples_round_trip_to_the_same_json(
    model: type[Ticket] | type[Message], example: dict[str, Any]
) -> None:
    parsed = model.model_validate(example)

    assert parsed.model_dump(mode="json", exclude_unset=True) == example
    assert parsed.model_extra == {}


def test_seed_websocket_ticket_created_example_parses_without_the_added_fields() -> None:
    example = SEED["websocket_server_to_client"][0]
    assert "resolved" not in example["ticket"]

    event = parse_event(with_event_id(example, "support:1"))

    assert isinstance(event, TicketCreated)
    assert event.event_id == "support:1"
    assert event.ticket.id == 21
    assert event.ticket.user.telegram_id == 4
    assert event.ticket.support_manager is None
    assert event.ticket.title == "have a prob"
    assert (event.ticket.resolved, event.ticket.unread, event.ticket.last_message) == (
        False,
        0,
        None,
    )


def test_seed_websocket_ticket_assigned_example_parses() -> None:
    event = parse_event(with_event_id(SEED["websocket_server_to_client"][1], "support:2"))

    assert event == TicketAssigned(id=16, support_manager=1, event_id="support:2")


def test_seed_websocket_message_new_example_parses() -> None:
    event = parse_event(with_event_id(SEED["websocket_server_to_client"][2], "support:3"))

    assert isinstance(event, MessageNew)
    assert event.message.id == 31
    assert event.message.sender == "supp"
    assert event.message.viewed is True
    assert event.message.ticket == 16
    assert event.message.author is None


# --- parsing: SPEC events -----------------------------------------------------------------

EVENT_EXAMPLES: list[tuple[dict[str, Any], type[Any], dict[str, Any]]] = [
    (
        {"type": "ticket.created", "ticket": TICKET, "event_id": "support:40"},
        TicketCreated,
        {"ticket": Ticket.model_validate(TICKET)},
    ),
    (
        {"type": "ticket.updated", "ticket": {**TICKET, "title": "Renamed"}, "event_id": "s:41"},
        TicketUpdated,
        {"ticket": Ticket.model_validate({**TICKET, "title": "Renamed"})},
    ),
    (
        {"type": "ticket.assigned", "id": 16, "support_manager": 1, "event_id": "support:43"},
        TicketAssigned,
        {"id": 16, "support_manager": 1},
    ),
    ({"type": "ticket.unassigned", "id": 16, "event_id": "s:44"}, TicketUnassigned, {"id": 16}),
    ({"type": "ticket.resolved", "id": 16, "event_id": "support:45"}, TicketResolved, {"id": 16}),
    ({"type": "ticket.reopened", "id": 16, "event_id": "s:46"}, TicketReopened, {"id": 16}),
    (
        {"type": "ticket.message.new", "message": MESSAGE, "event_id": "support:47"},
        MessageNew,
        {"message": Message.model_validate(MESSAGE)},
    ),
    (
        {"type": "ticket.messages.viewed", "ticket": 16, "ids": [31, 32], "event_id": "s:48"},
        MessagesViewed,
        {"ticket": 16, "ids": [31, 32]},
    ),
    ({"type": "stream.reset", "event_id": "support:49"}, StreamReset, {}),
]


@pytest.mark.parametrize(
    ("example", "model", "fields"),
    [pytest.param(*case, id=case[0]["type"]) for case in EVENT_EXAMPLES],
)
def test_each_event_type_parses_to_its_model(
    example: dict[str, Any], model: type[Any], fields: dict[str, Any]
) -> None:
    event = parse_event(copy.deepcopy(example))

    assert type(event) is model
    assert event.type == example["type"]
    assert event.event_id == example["event_id"]
    for name, value in fields.items():
        assert getattr(event, name) == value


@pytest.mark.parametrize(
    "example",
    [pytest.param(case[0], id=case[0]["type"]) for case in EVENT_EXAMPLES],
)
def test_each_event_type_parses_from_json_text_and_bytes(example: dict[str, Any]) -> None:
    text = json.dumps(example)

    assert parse_event(text) == parse_event(text.encode()) == parse_event(example)


def test_long_poll_page_example_parses() -> None:
    page = EventPage.model_validate(
        {
            "events": [{"type": "ticket.resolved", "id": 16, "event_id": "support:45"}],
            "cursor": "support:45",
        }
    )

    assert page.events == [TicketResolved(id=16, event_id="support:45")]
    assert page.cursor == "support:45"


def test_long_poll_page_with_every_event_type_keeps_order_and_types() -> None:
    examples = [case[0] for case in EVENT_EXAMPLES]

    page = EventPage.model_validate({"events": examples, "cursor": "support:49"})

    assert [type(e) for e in page.events] == [case[1] for case in EVENT_EXAMPLES]
    assert [e.event_id for e in page.events] == [e["event_id"] for e in examples]


def test_unknown_event_type_becomes_unknown_event_with_its_fields() -> None:
    event = parse_event(
        {"type": "ticket.snoozed", "event_id": "support:50", "id": 16, "until": "tomorrow"}
    )

    assert isinstance(event, UnknownEvent)
    assert event.type == "ticket.snoozed"
    assert event.event_id == "support:50"
    assert event.model_extra == {"id": 16, "until": "tomorrow"}


def test_unknown_event_type_in_a_page_does_not_break_the_page() -> None:
    page = EventPage.model_validate(
        {
            "events": [
                {"type": "ticket.snoozed", "event_id": "support:50"},
                {"type": "ticket.reopened", "id": 16, "event_id": "support:51"},
            ],
            "cursor": "support:51",
        }
    )

    assert [type(e) for e in page.events] == [UnknownEvent, TicketReopened]


def test_ticket_keeps_unknown_fields() -> None:
    ticket = Ticket.model_validate({**TICKET, "priority": "high"})

    assert ticket.model_extra == {"priority": "high"}


def test_message_keeps_unknown_fields() -> None:
    message = Message.model_validate({**MESSAGE, "attachments": [1, 2]})

    assert message.model_extra == {"attachments": [1, 2]}


def test_known_event_keeps_unknown_fields() -> None:
    event = parse_event(
        {"type": "ticket.assigned", "id": 16, "support_manager": 1, "event_id": "s:1", "by": 2}
    )

    assert isinstance(event, TicketAssigned)
    assert event.model_extra == {"by": 2}


def test_nested_ticket_in_an_event_keeps_unknown_fields() -> None:
    event = parse_event(
        {"type": "ticket.created", "ticket": {**TICKET, "priority": "high"}, "event_id": "s:1"}
    )

    assert isinstance(event, TicketCreated)
    assert event.ticket.model_extra == {"priority": "high"}


def test_event_page_keeps_unknown_fields() -> None:
    page = EventPage.model_validate({"events": [], "cursor": "s:1", "more": True})

    assert page.model_extra == {"more": True}


# --- errors -------------------------------------------------------------------------------

STATUS_ERRORS: list[tuple[int, type[APIStatusError]]] = [
    (400, BadRequestError),
    (401, AuthenticationError),
    (403, PermissionDeniedError),
    (404, NotFoundError),
    (409, ConflictError),
    (410, CursorExpiredError),
    (422, UnprocessableEntityError),
    (429, RateLimitError),
    (500, InternalServerError),
    (502, InternalServerError),
    (503, InternalServerError),
]


@pytest.mark.parametrize(("status", "error_class"), STATUS_ERRORS)
async def test_error_status_raises_its_class_with_the_error_body(
    make: Callable[..., Api],
    mock: respx.MockRouter,
    status: int,
    error_class: type[APIStatusError],
) -> None:
    route = mock.get("tickets/16/").respond(status, json=ERROR_BODY)

    with pytest.raises(error_class) as caught:
        await make(max_retries=0).run(lambda c: c.tickets.get(16))

    error = caught.value
    assert type(error) is error_class
    assert isinstance(error, APIStatusError)
    assert error.status_code == status
    assert error.code == "invalid"
    assert error.detail == "Invalid input."
    assert error.errors == {"text": ["May not be blank."]}
    assert error.body == ERROR_BODY
    assert error.response is not None
    assert error.response.status_code == status
    assert error.request is not None
    assert error.request.url == last_request(route).url
    assert route.call_count == 1


@pytest.mark.parametrize(("status", "error_class"), STATUS_ERRORS)
def test_error_classes_form_one_hierarchy(status: int, error_class: type[APIStatusError]) -> None:
    assert issubclass(error_class, APIStatusError)
    assert issubclass(APIStatusError, APIError)
    assert issubclass(APIError, SupportError)
    assert issubclass(SupportError, Exception)


def test_timeout_error_is_a_connection_error() -> None:
    assert issubclass(APITimeoutError, APIConnectionError)
    assert issubclass(APIConnectionError, APIError)
    assert not issubclass(APIConnectionError, APIStatusError)


async def test_error_without_field_errors_has_empty_errors(
    api: Api, mock: respx.MockRouter
) -> None:
    mock.post("tickets/16/assign/").respond(
        409, json={"code": "already_assigned", "detail": "Another manager has it."}
    )

    with pytest.raises(ConflictError) as caught:
        await api.run(lambda c: c.tickets.assign(16))

    assert caught.value.code == "already_assigned"
    assert caught.value.detail == "Another manager has it."
    assert caught.value.errors == {}
    assert "already_assigned" in str(caught.value)


async def test_non_json_error_body_still_raises_its_class(
    make: Callable[..., Api], mock: respx.MockRouter
) -> None:
    html = "<html><body><h1>502 Bad Gateway</h1></body></html>"
    mock.get("tickets/16/").respond(502, text=html, headers={"Content-Type": "text/html"})

    with pytest.raises(InternalServerError) as caught:
        await make(max_retries=0).run(lambda c: c.tickets.get(16))

    error = caught.value
    assert error.status_code == 502
    assert error.code is None
    assert error.detail is None
    assert error.errors == {}
    assert error.body == html


async def test_empty_error_body_still_raises_its_class(
    make: Callable[..., Api], mock: respx.MockRouter
) -> None:
    mock.get("tickets/16/").respond(404)

    with pytest.raises(NotFoundError) as caught:
        await make(max_retries=0).run(lambda c: c.tickets.get(16))

    assert (caught.value.status_code, caught.value.code, caught.value.detail) == (404, None, None)


async def test_unmapped_4xx_status_raises_api_status_error(
    api: Api, mock: respx.MockRouter
) -> None:
    mock.get("tickets/16/").respond(
        405, json={"code": "method_not_allowed", "detail": "Method not allowed."}
    )

    with pytest.raises(APIStatusError) as caught:
        await api.run(lambda c: c.tickets.get(16))

    assert type(caught.value) is APIStatusError
    assert caught.value.status_code == 405
    assert caught.value.code == "method_not_allowed"


# --- retries ------------------------------------------------------------------------------


async def test_429_with_retry_after_waits_that_long_and_retries_once(
    api: Api, mock: respx.MockRouter, clock: Clock
) -> None:
    route = mock.get("tickets/16/").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "2"}, json={"code": "rate_limited"}),
            httpx.Response(200, json=TICKET),
        ]
    )

    ticket = await api.run(lambda c: c.tickets.get(16))

    assert ticket.id == 16
    assert route.call_count == 2
    assert clock.waits == [2.0]


async def test_503_twice_then_200_succeeds_after_two_jittered_retries(
    api: Api, mock: respx.MockRouter, clock: Clock
) -> None:
    route = mock.get("tickets/16/").mock(
        side_effect=[httpx.Response(503), httpx.Response(503), httpx.Response(200, json=TICKET)]
    )

    ticket = await api.run(lambda c: c.tickets.get(16))

    assert ticket.id == 16
    assert route.call_count == 3
    assert len(clock.waits) == 2
    assert 0 <= clock.waits[0] <= C.INITIAL_RETRY_DELAY
    assert 0 <= clock.waits[1] <= C.INITIAL_RETRY_DELAY * 2


@pytest.mark.parametrize("max_retries", [0, 1, 2, 3])
async def test_exhausted_retries_raise_internal_server_error(
    make: Callable[..., Api], mock: respx.MockRouter, clock: Clock, max_retries: int
) -> None:
    route = mock.get("tickets/16/").mock(side_effect=lambda request: httpx.Response(503))

    with pytest.raises(InternalServerError):
        await make(max_retries=max_retries).run(lambda c: c.tickets.get(16))

    assert route.call_count == max_retries + 1
    assert len(clock.waits) == max_retries


async def test_default_max_retries_is_two(api: Api, mock: respx.MockRouter, clock: Clock) -> None:
    route = mock.get("tickets/16/").mock(side_effect=lambda request: httpx.Response(500))

    with pytest.raises(InternalServerError):
        await api.run(lambda c: c.tickets.get(16))

    assert route.call_count == C.DEFAULT_MAX_RETRIES + 1 == 3


async def test_connection_errors_are_retried_then_raise_api_connection_error(
    api: Api, mock: respx.MockRouter, clock: Clock
) -> None:
    route = mock.get("tickets/16/").mock(side_effect=httpx.ConnectError)

    with pytest.raises(APIConnectionError) as caught:
        await api.run(lambda c: c.tickets.get(16))

    assert not isinstance(caught.value, APITimeoutError)
    assert isinstance(caught.value.__cause__, httpx.ConnectError)
    assert caught.value.request is not None
    assert route.call_count == 3
    assert len(clock.waits) == 2


async def test_connection_error_then_success_returns_the_answer(
    api: Api, mock: respx.MockRouter, clock: Clock
) -> None:
    route = mock.get("tickets/16/").mock(
        side_effect=[httpx.ConnectError("refused"), httpx.Response(200, json=TICKET)]
    )

    ticket = await api.run(lambda c: c.tickets.get(16))

    assert ticket.id == 16
    assert route.call_count == 2
    assert len(clock.waits) == 1


async def test_read_timeouts_are_retried_then_raise_api_timeout_error(
    api: Api, mock: respx.MockRouter, clock: Clock
) -> None:
    route = mock.get("tickets/16/").mock(side_effect=httpx.ReadTimeout)

    with pytest.raises(APITimeoutError) as caught:
        await api.run(lambda c: c.tickets.get(16))

    assert isinstance(caught.value, APIConnectionError)
    assert route.call_count == 3


@pytest.mark.parametrize(
    "error",
    [httpx.ReadTimeout, httpx.WriteTimeout, httpx.ReadError, httpx.RemoteProtocolError],
)
async def test_tickets_create_is_not_retried_once_the_request_may_have_been_sent(
    api: Api, mock: respx.MockRouter, clock: Clock, error: type[httpx.TransportError]
) -> None:
    route = mock.post("tickets/").mock(
        side_effect=[error("sent?"), httpx.Response(201, json=TICKET)]
    )

    with pytest.raises(APIConnectionError):
        await api.run(lambda c: c.tickets.create(user_id=123, title="Bug"))

    assert route.call_count == 1
    assert clock.waits == []


async def test_tickets_create_after_read_timeout_raises_api_timeout_error(
    api: Api, mock: respx.MockRouter
) -> None:
    mock.post("tickets/").mock(side_effect=httpx.ReadTimeout)

    with pytest.raises(APITimeoutError):
        await api.run(lambda c: c.tickets.create(user_id=123, title="Bug"))


async def test_tickets_create_sends_the_idempotency_key(api: Api, mock: respx.MockRouter) -> None:
    route = mock.post("tickets/").respond(201, json=TICKET)

    await api.run(lambda c: c.tickets.create(user_id=123, title="Bug", idempotency_key="tg-1-2"))

    assert body_of(last_request(route)) == {
        "user_id": 123,
        "title": "Bug",
        "idempotency_key": "tg-1-2",
    }


@pytest.mark.parametrize(
    "failure",
    [httpx.ReadTimeout("sent?"), httpx.RemoteProtocolError("sent?"), httpx.Response(502)],
    ids=["read-timeout", "dropped", "502"],
)
async def test_tickets_create_with_a_key_is_resent_with_the_same_key(
    api: Api, mock: respx.MockRouter, clock: Clock, failure: Any
) -> None:
    # The server answers a replayed key with the ticket it opened (200).
    route = mock.post("tickets/").mock(side_effect=[failure, httpx.Response(200, json=TICKET)])

    ticket = await api.run(
        lambda c: c.tickets.create(user_id=123, title="Bug", idempotency_key="tg-1-2")
    )

    assert ticket.id == 16
    assert route.call_count == 2
    assert body_of(route.calls[0].request) == body_of(route.calls[1].request)
    assert body_of(route.calls[1].request)["idempotency_key"] == "tg-1-2"
    assert len(clock.waits) == 1


@pytest.mark.parametrize("error", [httpx.ConnectError, httpx.ConnectTimeout])
async def test_tickets_create_is_retried_when_nothing_was_sent(
    api: Api, mock: respx.MockRouter, clock: Clock, error: type[httpx.TransportError]
) -> None:
    route = mock.post("tickets/").mock(
        side_effect=[error("not connected"), httpx.Response(201, json=TICKET)]
    )

    ticket = await api.run(lambda c: c.tickets.create(user_id=123, title="Bug"))

    assert ticket.id == 16
    assert route.call_count == 2
    assert body_of(route.calls[0].request) == body_of(route.calls[1].request)


async def test_retry_after_above_the_maximum_is_not_waited_for(
    api: Api, mock: respx.MockRouter, clock: Clock
) -> None:
    route = mock.get("tickets/16/").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "120"}, json={"code": "rate_limited"}),
            httpx.Response(200, json=TICKET),
        ]
    )

    with pytest.raises(RateLimitError) as caught:
        await api.run(lambda c: c.tickets.get(16))

    assert caught.value.code == "rate_limited"
    assert route.call_count == 1
    assert clock.waits == []


async def test_retry_after_as_http_date_is_honoured(
    api: Api, mock: respx.MockRouter, clock: Clock
) -> None:
    at = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
    clock.now = at.timestamp() - 3
    route = mock.get("tickets/16/").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": email.utils.format_datetime(at, True)}),
            httpx.Response(200, json=TICKET),
        ]
    )

    await api.run(lambda c: c.tickets.get(16))

    assert route.call_count == 2
    assert clock.waits == [3.0]


async def test_retry_after_on_503_is_honoured(
    api: Api, mock: respx.MockRouter, clock: Clock
) -> None:
    mock.get("tickets/16/").mock(
        side_effect=[
            httpx.Response(503, headers={"Retry-After": "7"}),
            httpx.Response(200, json=TICKET),
        ]
    )

    await api.run(lambda c: c.tickets.get(16))

    assert clock.waits == [7.0]


@pytest.mark.parametrize(("status", "error_class"), STATUS_ERRORS[:7])
async def test_client_errors_other_than_429_are_never_retried(
    api: Api,
    mock: respx.MockRouter,
    clock: Clock,
    status: int,
    error_class: type[APIStatusError],
) -> None:
    route = mock.get("tickets/16/").mock(
        side_effect=[
            httpx.Response(status, json=ERROR_BODY, headers={"Retry-After": "1"}),
            httpx.Response(200, json=TICKET),
        ]
    )

    with pytest.raises(error_class):
        await api.run(lambda c: c.tickets.get(16))

    assert route.call_count == 1
    assert clock.waits == []


async def test_request_timeout_without_retries_raises_api_timeout_error(
    make: Callable[..., Api], mock: respx.MockRouter, clock: Clock
) -> None:
    route = mock.get("tickets/16/").mock(side_effect=httpx.ReadTimeout)

    with pytest.raises(APITimeoutError) as caught:
        await make(max_retries=0).run(lambda c: c.tickets.get(16))

    assert isinstance(caught.value.__cause__, httpx.ReadTimeout)
    assert route.call_count == 1
    assert clock.waits == []


# --- retry_delay and parse_retry_after ----------------------------------------------------


@pytest.mark.parametrize(
    ("attempt", "ceiling"), [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 8.0), (6, 8.0), (20, 8.0)]
)
def test_retry_delay_is_full_jitter_under_the_exponential_ceiling(
    monkeypatch: pytest.MonkeyPatch, attempt: int, ceiling: float
) -> None:
    asked: list[tuple[float, float]] = []

    def uniform(low: float, high: float) -> float:
        asked.append((low, high))
        return high

    monkeypatch.setattr(_base_client, "random", SimpleNamespace(uniform=uniform))

    assert retry_delay(attempt, None) == ceiling
    assert asked == [(0, ceiling)]


@pytest.mark.parametrize("attempt", [1, 2, 3, 4, 5, 6])
def test_retry_delay_stays_within_bounds(attempt: int) -> None:
    ceiling = min(C.MAX_RETRY_DELAY, C.INITIAL_RETRY_DELAY * 2 ** (attempt - 1))

    delays = [retry_delay(attempt, None) for _ in range(200)]

    assert all(d is not None and 0 <= d <= ceiling for d in delays)
    assert len(set(delays)) > 1


@pytest.mark.parametrize(
    ("header", "expected"),
    [("2", 2.0), ("0", 0.0), ("1.5", 1.5), ("60", 60.0), ("61", None), ("3600", None)],
)
def test_retry_delay_honours_retry_after_up_to_the_maximum(
    header: str, expected: float | None
) -> None:
    response = httpx.Response(429, headers={"Retry-After": header})

    assert retry_delay(1, response) == expected


@pytest.mark.parametrize("headers", [{}, {"Retry-After": "soon"}, {"Retry-After": ""}])
def test_retry_delay_without_usable_retry_after_falls_back_to_jitter(
    headers: dict[str, str],
) -> None:
    response = httpx.Response(503, headers=headers)

    for _ in range(50):
        delay = retry_delay(1, response)
        assert delay is not None
        assert 0 <= delay <= C.INITIAL_RETRY_DELAY


@pytest.mark.parametrize(
    ("header", "expected"),
    [("2", 2.0), (" 5 ", 5.0), ("0.25", 0.25), ("-3", 0.0), ("soon", None), ("", None)],
)
def test_parse_retry_after_seconds(header: str, expected: float | None) -> None:
    assert parse_retry_after(header) == expected


def test_parse_retry_after_http_date_is_seconds_from_now(clock: Clock) -> None:
    at = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
    clock.now = at.timestamp() - 10

    assert parse_retry_after("Wed, 01 Jan 2025 12:00:00 GMT") == 10.0


def test_parse_retry_after_http_date_in_the_past_is_zero(clock: Clock) -> None:
    clock.now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC).timestamp()

    assert parse_retry_after("Wed, 01 Jan 2025 11:00:00 GMT") == 0.0


@contextmanager
def local_time_zone(tz: str) -> Iterator[None]:
    """The process's local time zone set to *tz* (a POSIX TZ string), then restored."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = tz
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        time.tzset()


ASCTIME_DATE = "Sun Nov  6 08:49:37 1994"  # RFC 9110's obsolete asctime form, always GMT


def test_parse_retry_after_asctime_date_on_a_utc_host(clock: Clock) -> None:
    clock.now = datetime(1994, 11, 6, 8, 49, 27, tzinfo=UTC).timestamp()

    with local_time_zone("UTC0"):
        assert parse_retry_after(ASCTIME_DATE) == 10.0


def test_parse_retry_after_asctime_date_is_gmt_whatever_the_local_time_zone(
    clock: Clock,
) -> None:
    clock.now = datetime(1994, 11, 6, 8, 49, 27, tzinfo=UTC).timestamp()

    with local_time_zone("JST-9"):
        assert parse_retry_after(ASCTIME_DATE) == 10.0


# --- configuration ------------------------------------------------------------------------


async def test_environment_supplies_base_url_and_api_key(
    make: Callable[..., Api], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SUPPORT_BASE_URL", "http://env.example/support/")
    monkeypatch.setenv("SUPPORT_API_KEY", "env-key")

    options = make(base_url=None, api_key=None).client.options

    assert options.base_url == "http://env.example/support/"
    assert options.auth_header == "Api-Key env-key"


async def test_environment_supplies_a_token(
    make: Callable[..., Api], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SUPPORT_TOKEN", "env-token")

    options = make(api_key=None).client.options

    assert options.auth_header == "Token env-token"
    assert options.api_key is None


async def test_environment_credentials_are_used_for_requests(
    make: Callable[..., Api], mock: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SUPPORT_BASE_URL", BASE)
    monkeypatch.setenv("SUPPORT_TOKEN", "env-token")
    route = mock.get("tickets/16/").respond(json=TICKET)

    await make(base_url=None, api_key=None).run(lambda c: c.tickets.get(16))

    assert last_request(route).headers["Authorization"] == "Token env-token"


async def test_arguments_win_over_the_environment(
    make: Callable[..., Api], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SUPPORT_BASE_URL", "http://env.example/support/")
    monkeypatch.setenv("SUPPORT_API_KEY", "env-key")
    monkeypatch.setenv("SUPPORT_TOKEN", "env-token")

    options = make(base_url="http://arg.example/support/", api_key=None, token="arg").client.options

    assert options.base_url == "http://arg.example/support/"
    assert options.auth_header == "Token arg"


async def test_api_key_argument_wins_over_environment_token(
    make: Callable[..., Api], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SUPPORT_TOKEN", "env-token")

    assert make(api_key="arg-key").client.options.auth_header == "Api-Key arg-key"


async def test_missing_base_url_raises_support_error(make: Callable[..., Api]) -> None:
    with pytest.raises(SupportError, match="base URL"):
        make(base_url=None)


async def test_missing_credential_raises_support_error(make: Callable[..., Api]) -> None:
    with pytest.raises(SupportError, match="credential"):
        make(api_key=None)


async def test_both_api_key_and_token_raise_support_error(make: Callable[..., Api]) -> None:
    with pytest.raises(SupportError, match="not both"):
        make(api_key="k", token="t")


async def test_base_url_without_trailing_slash_works(
    make: Callable[..., Api], mock: respx.MockRouter
) -> None:
    route = mock.get("tickets/16/").respond(json=TICKET)
    api = make(base_url="http://test/support")

    await api.run(lambda c: c.tickets.get(16))

    assert api.client.options.base_url == BASE
    assert last_request(route).url == "http://test/support/tickets/16/"


@pytest.mark.parametrize(
    ("base_url", "websocket_url"),
    [
        ("http://test/support/", "ws://test/ws/support/"),
        ("https://example.org/support/", "wss://example.org/ws/support/"),
        ("https://example.org/support", "wss://example.org/ws/support/"),
        ("http://localhost:8000/support/", "ws://localhost:8000/ws/support/"),
    ],
)
async def test_websocket_url_follows_the_base_url_scheme_and_host(
    make: Callable[..., Api], base_url: str, websocket_url: str
) -> None:
    assert make(base_url=base_url).client.options.websocket_url == websocket_url


async def test_timeouts_are_on_by_default(api: Api) -> None:
    timeout = api.client.options.timeout

    assert isinstance(timeout, httpx.Timeout)
    for value in (timeout.connect, timeout.read, timeout.write, timeout.pool):
        assert value is not None
        assert 0 < value < float("inf")


async def test_a_number_timeout_becomes_an_httpx_timeout(make: Callable[..., Api]) -> None:
    assert make(timeout=5).client.options.timeout == httpx.Timeout(5.0)


async def test_default_max_retries_option(api: Api) -> None:
    assert api.client.options.max_retries == C.DEFAULT_MAX_RETRIES


async def test_with_options_returns_a_client_with_those_options(api: Api) -> None:
    original = api.client

    clone = original.with_options(timeout=5.0, max_retries=0)

    assert type(clone) is type(original)
    assert clone is not original
    assert clone.options.timeout == httpx.Timeout(5.0)
    assert clone.options.max_retries == 0
    assert clone.options.base_url == original.options.base_url
    assert clone.options.auth_header == original.options.auth_header


async def test_with_options_shares_the_http_client(api: Api) -> None:
    clone = api.client.with_options(max_retries=0)

    assert clone._http is api.client._http


async def test_with_options_leaves_the_original_unchanged(api: Api) -> None:
    api.client.with_options(timeout=5.0, max_retries=0)

    assert api.client.options.timeout == C.DEFAULT_TIMEOUT
    assert api.client.options.max_retries == C.DEFAULT_MAX_RETRIES


async def test_with_options_without_arguments_keeps_the_options(api: Api) -> None:
    assert api.client.with_options().options == api.client.options


async def test_with_options_client_sends_with_its_timeout_and_retries(
    api: Api, mock: respx.MockRouter
) -> None:
    route = mock.get("tickets/16/").mock(side_effect=lambda request: httpx.Response(503))
    clone = Api(api.client.with_options(timeout=5.0, max_retries=0))

    with pytest.raises(InternalServerError):
        await clone.run(lambda c: c.tickets.get(16))

    assert route.call_count == 1
    assert last_request(route).extensions["timeout"] == httpx.Timeout(5.0).as_dict()


async def test_closing_a_with_options_client_keeps_the_shared_http_client_open(
    api: Api,
) -> None:
    clone = Api(api.client.with_options(max_retries=0))

    await clone.run(lambda c: c.close())

    assert not api.client._http.is_closed


def test_sync_context_manager_closes_its_own_http_client() -> None:
    with SupportClient(BASE, api_key=KEY) as client:
        http = client._http
        assert not http.is_closed

    assert http.is_closed


async def test_async_context_manager_closes_its_own_http_client() -> None:
    async with AsyncSupportClient(BASE, api_key=KEY) as client:
        http = client._http
        assert not http.is_closed

    assert http.is_closed


def test_sync_context_manager_leaves_a_caller_http_client_open(mock: respx.MockRouter) -> None:
    route = mock.get("tickets/16/").respond(json=TICKET)
    with httpx.Client() as http:
        with SupportClient(BASE, api_key=KEY, http_client=http) as client:
            assert client.tickets.get(16).id == 16

        assert not http.is_closed
    assert route.call_count == 1


async def test_async_context_manager_leaves_a_caller_http_client_open(
    mock: respx.MockRouter,
) -> None:
    route = mock.get("tickets/16/").respond(json=TICKET)
    async with httpx.AsyncClient() as http:
        async with AsyncSupportClient(BASE, api_key=KEY, http_client=http) as client:
            assert (await client.tickets.get(16)).id == 16

        assert not http.is_closed
    assert route.call_count == 1


# -- behaviours added after review -----------------------------------------------


@pytest.mark.parametrize(("status", "retried"), [(500, False), (502, False), (504, False),
                                                 (503, True), (429, True)])  # fmt: skip
async def test_tickets_create_is_resent_only_when_the_server_says_it_did_not_run(
    make: Callable[..., Api], mock: respx.MockRouter, status: int, retried: bool
) -> None:
    route = mock.post("tickets/")
    route.side_effect = [httpx.Response(status, json={"code": "x", "detail": "x"}),
                         httpx.Response(201, json=TICKET)]  # fmt: skip
    api = make(max_retries=1)
    if retried:
        await api.run(lambda c: c.tickets.create(user_id=1, title="t"))
        assert route.call_count == 2
    else:
        with pytest.raises(APIStatusError):
            await api.run(lambda c: c.tickets.create(user_id=1, title="t"))
        assert route.call_count == 1


@pytest.mark.parametrize(
    "response",
    [httpx.Response(200, text="<html>proxy page</html>"), httpx.Response(200, json={"id": "x"})],
    ids=["not JSON", "not a ticket"],
)
async def test_an_unexpected_2xx_body_is_a_support_error(
    api: Api, mock: respx.MockRouter, response: httpx.Response
) -> None:
    mock.get("tickets/16/").mock(return_value=response)
    with pytest.raises(APIResponseValidationError) as raised:
        await api.run(lambda c: c.tickets.get(16))
    assert isinstance(raised.value, SupportError)


def test_a_base_url_loses_its_query_and_gains_its_slash() -> None:
    client = SupportClient("http://h/support?x=1", api_key=KEY)
    assert client.options.base_url == "http://h/support/"
    client.close()

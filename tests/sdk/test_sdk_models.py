"""Parsing: the seed's REST and WebSocket examples, every event type, unknown fields."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from support_client import (
    EventPage,
    Manager,
    Message,
    MessageNew,
    MessagesViewed,
    StreamReset,
    Ticket,
    TicketAssigned,
    TicketCreated,
    TicketReopened,
    TicketResolved,
    TicketUnassigned,
    TicketUpdated,
    UnknownEvent,
)
from support_client.types import parse_event
from tests.sdk.common import MESSAGE, SEED, TICKET, with_event_id

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


@pytest.mark.parametrize("viewed", [True, False])
def test_ticket_carries_viewed(viewed: bool) -> None:
    ticket = Ticket.model_validate({**TICKET, "viewed": viewed})

    assert ticket.viewed is viewed
    assert ticket.model_extra == {}


def test_ticket_from_a_server_without_viewed_has_none() -> None:
    example = {key: value for key, value in TICKET.items() if key != "viewed"}

    assert Ticket.model_validate(example).viewed is None


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


# --- parsing: every event type ------------------------------------------------------------

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
    message = Message.model_validate({**MESSAGE, "reactions": [1, 2]})

    assert message.model_extra == {"reactions": [1, 2]}


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

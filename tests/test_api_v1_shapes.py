"""Each REST example of the 1.x README (seed_examples.json): same fields, JSON types, order.

The fields added since (``viewed``, which 1.2.0 added to tickets, then
``unread``, ``last_message``, ``author``; the user's profile inside ``user``)
are the only keys allowed beyond those, and come after them.
"""

from __future__ import annotations

from typing import Any

import pytest

from support import services

ADDED_TICKET_FIELDS = [
    "viewed", "unread", "last_message", "telegram_topic", "resolved_at", "previous", "rating",
]  # fmt: skip
ADDED_MESSAGE_FIELDS = ["author", "attachments", "via_staff_chat", "edited_at"]
#: Fields added inside the 1.x objects, after theirs (a ticket's user: the Telegram profile).
ADDED_INNER_FIELDS = {
    "user": ["first_name", "last_name", "username", "language_code", "first_contact_at", "blocked"]
}


def json_type(value: Any) -> str:
    return type(value).__name__


def assert_v1_shape(actual: dict[str, Any], example: dict[str, Any], added: list[str]) -> None:
    assert list(actual) == [*example, *added]
    for key, example_value in example.items():
        if example_value is None or actual[key] is None:
            continue
        assert json_type(actual[key]) == json_type(example_value), key
        if isinstance(example_value, dict):
            assert list(actual[key]) == [*example_value, *ADDED_INNER_FIELDS.get(key, [])], key
            for inner, inner_example in example_value.items():
                assert json_type(actual[key][inner]) == json_type(inner_example), f"{key}.{inner}"


def test_ticket_list_matches_1x(manager_client, make_ticket, v1_examples):
    make_ticket()
    body = manager_client.get("/support/tickets/").json()
    assert isinstance(body, list)
    assert len(body) == 1
    assert_v1_shape(body[0], v1_examples["rest"]["GET tickets/"][0], ADDED_TICKET_FIELDS)


@pytest.mark.parametrize("variant", ["assigned", "unassigned"])
def test_ticket_detail_matches_1x(variant, manager_client, manager_actor, make_ticket, v1_examples):
    ticket = make_ticket()
    if variant == "assigned":
        services.assign(manager_actor, ticket.pk)
    body = manager_client.get(f"/support/tickets/{ticket.pk}/").json()
    example = v1_examples["rest"][f"GET tickets/{{id}}/ ({variant})"]
    assert_v1_shape(body, example, ADDED_TICKET_FIELDS)
    if variant == "assigned":
        assert body["support_manager"] == {
            "id": manager_actor.manager_id,
            "first_name": "Alice",
            "last_name": "Smith",
        }
    else:
        assert body["support_manager"] is None


def test_message_list_matches_1x(manager_client, manager_actor, make_ticket, v1_examples):
    ticket = make_ticket(text="some text of message")
    services.post_message(manager_actor, ticket.pk, text="some text of message")
    url = f"/support/tickets/{ticket.pk}/messages/"
    # Newest first, as 1.2.0 served them (the README's example is one of each).
    newest_first = manager_client.get(url).json()
    assert [m["sender"] for m in newest_first] == ["supp", "user"]
    body = manager_client.get(url + "?ordering=created_at").json()
    assert body == newest_first[::-1]
    examples = v1_examples["rest"]["GET tickets/{id}/messages/"]
    assert [m["sender"] for m in body] == [s["sender"] for s in examples] == ["user", "supp"]
    for actual, example in zip(body, examples, strict=True):
        assert_v1_shape(actual, example, ADDED_MESSAGE_FIELDS)
    assert body[0]["author"] is None
    assert body[1]["author"] == manager_actor.manager_id


def test_created_at_is_iso_utc_like_1x(manager_client, make_ticket):
    make_ticket()
    created_at = manager_client.get("/support/tickets/").json()[0]["created_at"]
    assert created_at.endswith("Z")
    assert len(created_at) == len("2025-01-31T12:24:25.716425Z")

"""Each REST example of the seed README: same fields, same JSON types, same order.

The added fields (SPEC §4: ``unread``, ``last_message``, ``author``) are the
only keys allowed beyond the seed's.
"""

from __future__ import annotations

from typing import Any

import pytest

from support import services

ADDED_TICKET_FIELDS = ["unread", "last_message"]
ADDED_MESSAGE_FIELDS = ["author"]


def json_type(value: Any) -> str:
    return type(value).__name__


def assert_seed_shape(actual: dict[str, Any], seed: dict[str, Any], added: list[str]) -> None:
    assert list(actual) == [*seed, *added]
    for key, seed_value in seed.items():
        if seed_value is None or actual[key] is None:
            continue
        assert json_type(actual[key]) == json_type(seed_value), key
        if isinstance(seed_value, dict):
            assert list(actual[key]) == list(seed_value), key
            for inner, inner_seed in seed_value.items():
                assert json_type(actual[key][inner]) == json_type(inner_seed), f"{key}.{inner}"


def test_ticket_list_matches_seed(manager_client, make_ticket, seed_examples):
    make_ticket()
    body = manager_client.get("/support/tickets/").json()
    assert isinstance(body, list)
    assert len(body) == 1
    assert_seed_shape(body[0], seed_examples["rest"]["GET tickets/"][0], ADDED_TICKET_FIELDS)


@pytest.mark.parametrize("variant", ["assigned", "unassigned"])
def test_ticket_detail_matches_seed(
    variant, manager_client, manager_actor, make_ticket, seed_examples
):
    ticket = make_ticket()
    if variant == "assigned":
        services.assign(manager_actor, ticket.pk)
    body = manager_client.get(f"/support/tickets/{ticket.pk}/").json()
    seed = seed_examples["rest"][f"GET tickets/{{id}}/ ({variant})"]
    assert_seed_shape(body, seed, ADDED_TICKET_FIELDS)
    if variant == "assigned":
        assert body["support_manager"] == {
            "id": manager_actor.manager_id,
            "first_name": "Alice",
            "last_name": "Smith",
        }
    else:
        assert body["support_manager"] is None


def test_message_list_matches_seed(manager_client, manager_actor, make_ticket, seed_examples):
    ticket = make_ticket(text="some text of message")
    services.post_message(manager_actor, ticket.pk, text="some text of message")
    body = manager_client.get(f"/support/tickets/{ticket.pk}/messages/").json()
    seeds = seed_examples["rest"]["GET tickets/{id}/messages/"]
    assert [m["sender"] for m in body] == [s["sender"] for s in seeds] == ["user", "supp"]
    for actual, seed in zip(body, seeds, strict=True):
        assert_seed_shape(actual, seed, ADDED_MESSAGE_FIELDS)
    assert body[0]["author"] is None
    assert body[1]["author"] == manager_actor.manager_id


def test_created_at_is_iso_utc_like_the_seed(manager_client, make_ticket):
    make_ticket()
    created_at = manager_client.get("/support/tickets/").json()[0]["created_at"]
    assert created_at.endswith("Z")
    assert len(created_at) == len("2025-01-31T12:24:25.716425Z")

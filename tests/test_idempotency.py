"""Idempotency keys: ``idempotency_key`` on ``POST tickets/`` and on
``POST tickets/{id}/messages/``, over REST and in the service layer.

A repeated key returns what the first call made (``200`` over REST) and changes
nothing: no second ticket or message, no event. A ticket's key belongs to the bot
key that used it, a message's to its ticket; a key reused by the other side, or
for another user, is ``409 idempotency_conflict``. Malformed keys (not a string,
empty, over 128 characters) are rows of the bad-input tables
(``test_api_bad_input.py``, ``test_hardening.py``); one key sent twenty times at
once to a real server is part of ``test_hardening_live.py``'s concurrent writers.
"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from support import services
from support.actors import Actor
from support.botkeys import create_bot_key
from support.exceptions import IdempotencyConflict
from support.models import Event, Ticket
from tests.conftest import snapshot

CREATE = "/support/tickets/"


# -- REST: POST tickets/ ---------------------------------------------------------------


def test_replayed_ticket_key_returns_the_first_ticket_and_emits_nothing(bot_client):
    body = {"user_id": 77, "title": "Bug", "text": "It fails", "idempotency_key": "tg-77-1"}
    first = bot_client.post(CREATE, body, format="json")
    assert first.status_code == 201
    before = snapshot()
    replay = bot_client.post(CREATE, {**body, "title": "Bug (retried)"}, format="json")
    assert replay.status_code == 200
    assert replay.json() == first.json()
    assert snapshot() == before


def test_ticket_keys_belong_to_the_bot_key_that_used_them(bot_client):
    body = {"user_id": 77, "title": "Bug", "idempotency_key": "tg-77-1"}
    first = bot_client.post(CREATE, body, format="json")
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Api-Key {create_bot_key('other-bot')[1]}")
    second = other.post(CREATE, body, format="json")
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["id"] != second.json()["id"]


def test_ticket_key_reused_for_another_user_is_a_conflict(bot_client):
    assert (
        bot_client.post(
            CREATE, {"user_id": 77, "title": "t", "idempotency_key": "k1"}, format="json"
        ).status_code
        == 201
    )
    before = snapshot()
    response = bot_client.post(
        CREATE, {"user_id": 78, "title": "t", "idempotency_key": "k1"}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_conflict"
    assert snapshot() == before


# -- REST: POST tickets/{id}/messages/ -------------------------------------------------


def test_idempotent_replay_returns_the_first_message_and_emits_nothing(desk, bot_client):
    url = f"/support/tickets/{desk.open.pk}/messages/"
    first = bot_client.post(url, {"text": "hi", "idempotency_key": "tg-5501"}, format="json")
    assert first.status_code == 201
    before = snapshot()
    replay = bot_client.post(
        url, {"text": "hi (retried)", "idempotency_key": "tg-5501"}, format="json"
    )
    assert replay.status_code == 200
    assert replay.json() == first.json()
    assert snapshot() == before


def test_idempotency_key_of_the_other_side_is_a_conflict(desk, bot_client, manager_client):
    url = f"/support/tickets/{desk.mine.pk}/messages/"
    assert (
        bot_client.post(url, {"text": "hi", "idempotency_key": "k1"}, format="json").status_code
        == 201
    )
    before = snapshot()
    response = manager_client.post(url, {"text": "hi", "idempotency_key": "k1"}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_conflict"
    assert snapshot() == before


# -- services: opening a ticket --------------------------------------------------------


def test_opening_with_a_repeated_key_returns_the_first_ticket_and_emits_nothing(bot_actor, db):
    first = services.open_ticket_once(
        bot_actor, user_id=5, title="Bug", text="It fails", idempotency_key="tg-5-10"
    )
    events = Event.objects.count()
    again = services.open_ticket_once(
        bot_actor, user_id=5, title="Other", text="Other", idempotency_key="tg-5-10"
    )
    assert (first.created, again.created) == (True, False)
    assert again.ticket.pk == first.ticket.pk
    assert again.ticket.title == "Bug"
    assert Ticket.objects.count() == 1
    assert Event.objects.count() == events


def test_a_repeated_key_returns_the_ticket_even_once_resolved(bot_actor, db):
    first = services.open_ticket(bot_actor, user_id=5, title="Bug", idempotency_key="k")
    services.resolve(bot_actor, first.pk)
    again = services.open_ticket_once(bot_actor, user_id=5, title="Bug", idempotency_key="k")
    assert (again.created, again.ticket.pk, again.ticket.resolved) == (False, first.pk, True)


def test_tickets_without_keys_are_all_new(bot_actor, db):
    for _ in range(2):
        assert services.open_ticket_once(bot_actor, user_id=5, title="Bug").created
    assert Ticket.objects.count() == 2


def test_ticket_keys_are_scoped_to_the_bot_key(bot_actor, db):
    other = Actor.for_bot(create_bot_key("other-bot")[0])
    mine = services.open_ticket(bot_actor, user_id=5, title="a", idempotency_key="k")
    theirs = services.open_ticket(other, user_id=5, title="a", idempotency_key="k")
    assert mine.pk != theirs.pk
    assert (mine.opened_by, theirs.opened_by) == (bot_actor.bot, other.bot)


def test_a_ticket_key_reused_for_another_user_is_a_conflict(bot_actor, db):
    services.open_ticket(bot_actor, user_id=5, title="a", idempotency_key="k")
    events = Event.objects.count()
    with pytest.raises(IdempotencyConflict):
        services.open_ticket(bot_actor, user_id=6, title="a", idempotency_key="k")
    assert Ticket.objects.count() == 1
    assert Event.objects.count() == events


def test_a_key_committed_concurrently_is_replayed_not_raised(bot_actor, db, monkeypatch):
    # Another request commits the same key between our look-up and our insert.
    first = services.open_ticket(bot_actor, user_id=5, title="a", idempotency_key="k")
    calls = []
    real = services._ticket_opened_with

    def late(actor, key, user_id):
        calls.append(key)
        return None if len(calls) == 1 else real(actor, key, user_id)

    monkeypatch.setattr(services, "_ticket_opened_with", late)
    events = Event.objects.count()
    again = services.open_ticket_once(bot_actor, user_id=5, title="a", idempotency_key="k")
    assert (again.created, again.ticket.pk, len(calls)) == (False, first.pk, 2)
    assert Event.objects.count() == events


def test_the_first_message_carries_the_ticket_key(bot_actor, db):
    # A bot that sees the ticket open resends the same update as a message: no copy.
    ticket = services.open_ticket(
        bot_actor, user_id=5, title="Bug", text="It fails", idempotency_key="tg-5-10"
    )
    events = Event.objects.count()
    again = services.post_message(bot_actor, ticket.pk, text="It fails", idempotency_key="tg-5-10")
    assert again.created is False
    assert again.message.text == "It fails"
    assert ticket.messages.count() == 1
    assert Event.objects.count() == events


# -- services: posting a message -------------------------------------------------------


def test_a_repeated_message_key_returns_the_first_message_and_emits_nothing(desk, bot_actor):
    first = services.post_message(bot_actor, desk.open.pk, text="hi", idempotency_key="tg-5501")
    before = snapshot()
    again = services.post_message(
        bot_actor, desk.open.pk, text="hi (retried)", idempotency_key="tg-5501"
    )
    assert (first.created, again.created) == (True, False)
    assert again.message.pk == first.message.pk
    assert again.message.text == "hi"
    assert snapshot() == before


def test_a_repeated_message_key_returns_the_message_even_once_resolved(desk, bot_actor):
    first = services.post_message(bot_actor, desk.open.pk, text="hi", idempotency_key="k1")
    services.resolve(bot_actor, desk.open.pk)
    before = snapshot()
    again = services.post_message(bot_actor, desk.open.pk, text="hi", idempotency_key="k1")
    assert (again.created, again.message.pk) == (False, first.message.pk)
    assert snapshot() == before


def test_a_message_key_of_the_other_side_is_a_conflict(desk, bot_actor, manager_actor):
    services.post_message(bot_actor, desk.mine.pk, text="hi", idempotency_key="k1")
    before = snapshot()
    with pytest.raises(IdempotencyConflict) as refused:
        services.post_message(manager_actor, desk.mine.pk, text="hi", idempotency_key="k1")
    assert (refused.value.status, refused.value.code) == (409, "idempotency_conflict")
    assert snapshot() == before


def test_message_keys_are_scoped_to_the_ticket(desk, bot_actor):
    first = services.post_message(bot_actor, desk.open.pk, text="hi", idempotency_key="k1")
    other = services.post_message(bot_actor, desk.mine.pk, text="hi", idempotency_key="k1")
    assert (first.created, other.created) == (True, True)
    assert first.message.pk != other.message.pk

"""The write API doing its job: each endpoint's effect, response and events."""

from __future__ import annotations

import pytest

from support.models import Event, Message, Ticket
from tests.zz_users.models import MyTelegramUser


def event_types() -> list[str]:
    return list(Event.objects.order_by("id").values_list("type", flat=True))


def test_bot_opens_a_ticket_creating_the_user(bot_client, db):
    response = bot_client.post(
        "/support/tickets/",
        {"user_id": 4, "title": "have a prob", "text": "It fails"},
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert body["user"]["telegram_id"] == 4
    assert body["title"] == "have a prob"
    assert body["support_manager"] is None
    assert body["resolved"] is False
    assert body["unread"] == 0  # the bot's own message is not unread for the bot
    assert body["last_message"]["text"] == "It fails"
    assert body["last_message"]["sender"] == "user"
    assert MyTelegramUser.objects.filter(pk=4).exists()
    assert event_types() == ["ticket.created", "ticket.message.new"]


def test_bot_opens_a_ticket_without_text(bot_client, tg_user):
    response = bot_client.post("/support/tickets/", {"user_id": 123, "title": "t"}, format="json")
    assert response.status_code == 201
    assert response.json()["last_message"] is None
    assert event_types() == ["ticket.created"]


def test_manager_reply_to_a_queued_ticket_takes_it_first(manager_client, manager, make_ticket):
    ticket = make_ticket()
    response = manager_client.post(
        f"/support/tickets/{ticket.pk}/messages/", {"text": "On it"}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["sender"] == "supp"
    assert response.json()["author"] == manager.pk
    assert Ticket.objects.get(pk=ticket.pk).support_manager == manager
    assert event_types()[-2:] == ["ticket.assigned", "ticket.message.new"]


def test_bot_message_on_an_assigned_ticket_leaves_the_assignment(
    bot_client, manager_actor, make_ticket
):
    from support import services

    ticket = make_ticket()
    services.assign(manager_actor, ticket.pk)
    response = bot_client.post(
        f"/support/tickets/{ticket.pk}/messages/",
        {"text": "more", "sender": "user"},
        format="json",
    )
    assert response.status_code == 201
    assert Ticket.objects.get(pk=ticket.pk).support_manager_id == manager_actor.manager_id


def test_assign_unassign_cycle(manager_client, other_client, make_ticket):
    ticket = make_ticket()
    base = f"/support/tickets/{ticket.pk}"
    assigned = manager_client.post(f"{base}/assign/")
    assert assigned.status_code == 200
    assert assigned.json()["support_manager"]["first_name"] == "Alice"
    assert manager_client.post(f"{base}/assign/").status_code == 200  # idempotent
    assert other_client.post(f"{base}/assign/").status_code == 409
    assert manager_client.post(f"{base}/unassign/").json()["support_manager"] is None
    assert other_client.post(f"{base}/assign/").status_code == 200
    assert event_types().count("ticket.assigned") == 2
    assert event_types().count("ticket.unassigned") == 1


def test_an_action_url_that_forgets_its_service_fails_as_the_urlconf_loads():
    from django.core.exceptions import ImproperlyConfigured

    from support.api.views import TicketActionView

    assert TicketActionView.service is None  # no default action to fall back on
    for initkwargs in ({}, {"service": None}):
        with pytest.raises(ImproperlyConfigured, match=r"needs service="):
            TicketActionView.as_view(**initkwargs)


def test_resolve_and_reopen_are_idempotent(bot_client, manager_client, make_ticket):
    ticket = make_ticket()
    base = f"/support/tickets/{ticket.pk}"
    assert bot_client.post(f"{base}/resolve/").json()["resolved"] is True
    assert manager_client.post(f"{base}/resolve/").json()["resolved"] is True
    assert manager_client.post(f"{base}/reopen/").json()["resolved"] is False
    assert bot_client.post(f"{base}/reopen/").json()["resolved"] is False
    assert event_types()[-2:] == ["ticket.resolved", "ticket.reopened"]
    assert event_types().count("ticket.resolved") == 1


def test_patch_title_and_resolved(bot_client, make_ticket):
    ticket = make_ticket()
    response = bot_client.patch(
        f"/support/tickets/{ticket.pk}/", {"title": "Renamed", "resolved": True}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["title"] == "Renamed"
    assert response.json()["resolved"] is True
    assert event_types()[-2:] == ["ticket.updated", "ticket.resolved"]


def test_empty_patch_changes_nothing(bot_client, make_ticket):
    ticket = make_ticket()
    before = event_types()
    assert bot_client.patch(f"/support/tickets/{ticket.pk}/", {}, format="json").status_code == 200
    assert event_types() == before


@pytest.mark.parametrize(("caller", "viewed_sender"), [("manager", "user"), ("bot", "supp")])
def test_patch_viewed_marks_the_other_sides_messages_as_1_2_did(
    caller, viewed_sender, manager_client, bot_client, manager_actor, bot_actor, make_ticket
):
    from support import services

    client = {"manager": manager_client, "bot": bot_client}[caller]
    ticket = make_ticket(text="u1")
    services.post_message(manager_actor, ticket.pk, text="s1")
    services.post_message(bot_actor, ticket.pk, text="u2")
    url = f"/support/tickets/{ticket.pk}/"
    assert client.get(url).json()["viewed"] is False

    response = client.patch(url, {"viewed": True}, format="json")
    assert response.status_code == 200
    assert response.json()["viewed"] is True
    assert response.json()["unread"] == 0
    expected = list(
        Message.objects.filter(sender=viewed_sender).order_by("id").values_list("id", flat=True)
    )
    assert list(Message.objects.filter(viewed=True).values_list("id", flat=True)) == expected
    viewed = Event.objects.get(type="ticket.messages.viewed")
    assert viewed.data == {"ticket": ticket.pk, "ids": expected}

    before = event_types()  # viewed again: nothing to mark, no event
    assert client.patch(url, {"viewed": True}, format="json").status_code == 200
    assert event_types() == before


def test_mark_viewed_sides(manager_client, bot_client, manager_actor, bot_actor, make_ticket):
    from support import services

    ticket = make_ticket(text="u1")
    services.post_message(bot_actor, ticket.pk, text="u2")
    reply = services.post_message(manager_actor, ticket.pk, text="s1").message
    user_ids = list(
        Message.objects.filter(sender="user").order_by("id").values_list("id", flat=True)
    )
    url = f"/support/tickets/{ticket.pk}/messages/viewed/"

    partial = manager_client.post(url, {"up_to": user_ids[0]}, format="json")
    assert [m["id"] for m in partial.json()] == user_ids[:1]
    assert all(m["viewed"] for m in partial.json())
    rest = manager_client.post(url, format="json")
    assert [m["id"] for m in rest.json()] == user_ids[1:]
    assert manager_client.post(url).json() == []  # nothing left: no event either

    bot_view = bot_client.post(url)
    assert [m["id"] for m in bot_view.json()] == [reply.pk]
    viewed = Event.objects.filter(type="ticket.messages.viewed").order_by("id")
    assert [e.data for e in viewed] == [
        {"ticket": ticket.pk, "ids": user_ids[:1]},
        {"ticket": ticket.pk, "ids": user_ids[1:]},
        {"ticket": ticket.pk, "ids": [reply.pk]},
    ]

"""The admin changes state through the service layer, so events follow."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from support.models import BotKey, Event, Ticket


@pytest.fixture
def admin_client(client, db):
    root = User.objects.create_superuser("root", password="pw")
    client.force_login(root)
    return client


@pytest.mark.parametrize(
    ("action", "check"),
    [
        ("resolve", lambda t: t.resolved),
        ("assign_to_me", lambda t: t.support_manager is not None),
    ],
)
def test_actions_go_through_services(action, check, admin_client, make_ticket):
    ticket = make_ticket()
    before = Event.objects.count()
    response = admin_client.post(
        "/admin/support/ticket/",
        {"action": action, "_selected_action": [ticket.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert check(Ticket.objects.get(pk=ticket.pk))
    assert Event.objects.count() == before + 1


def test_action_conflicts_are_reported_not_raised(admin_client, make_ticket, other_actor):
    from support import services

    ticket = make_ticket()
    services.assign(other_actor, ticket.pk)
    response = admin_client.post(
        "/admin/support/ticket/",
        {"action": "assign_to_me", "_selected_action": [ticket.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert "Another manager" in response.content.decode()


def test_title_edit_appends_an_update_event(admin_client, make_ticket):
    ticket = make_ticket()
    response = admin_client.post(
        f"/admin/support/ticket/{ticket.pk}/change/",
        {
            "title": "New title",
            "messages-TOTAL_FORMS": "0",
            "messages-INITIAL_FORMS": "1",
            "messages-MIN_NUM_FORMS": "0",
            "messages-MAX_NUM_FORMS": "1000",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Ticket.objects.get(pk=ticket.pk).title == "New title"
    assert Event.objects.order_by("-id").values_list("type", flat=True)[0] == "ticket.updated"


@pytest.mark.parametrize(
    "url",
    [
        "/admin/support/ticket/",
        "/admin/support/message/",
        "/admin/support/botkey/",
        "/admin/support/ticket/?q=help",
        "/admin/support/ticket/?resolved__exact=1",
    ],
)
def test_admin_pages_render(url, admin_client, make_ticket):
    ticket = make_ticket()
    assert admin_client.get(url).status_code == 200
    assert admin_client.get(f"/admin/support/ticket/{ticket.pk}/change/").status_code == 200


def test_adding_a_bot_key_shows_it_once(admin_client):
    response = admin_client.post("/admin/support/botkey/add/", {"name": "bot"}, follow=True)
    assert response.status_code == 200
    key = BotKey.objects.get()
    assert f"{key.prefix}." in response.content.decode()
    assert "not be shown again" in response.content.decode()


def test_revoke_action(admin_client, bot_key):
    admin_client.post(
        "/admin/support/botkey/",
        {"action": "revoke_keys", "_selected_action": [bot_key[0].pk]},
        follow=True,
    )
    assert not BotKey.objects.get().is_active

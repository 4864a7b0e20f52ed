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


# -- blocking (through support.blocking, as the console's buttons) ---------------------------


def test_blocking_the_user_of_a_ticket(admin_client, make_ticket):
    from support.models import Note, TelegramProfile

    first, second = make_ticket(), make_ticket("another")
    response = admin_client.post(
        "/admin/support/ticket/",
        {"action": "block_users", "_selected_action": [first.pk, second.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert "1 user(s) updated." in response.content.decode()  # the same user, blocked once
    row = TelegramProfile.objects.get(pk=first.user_id)
    assert row.blocked_reason == "Blocked from the admin"
    assert row.blocked_by is not None
    assert not Ticket.objects.filter(resolved=False).exists()
    assert set(Note.objects.values_list("text", flat=True)) == {"Blocked: Blocked from the admin"}
    types = list(Event.objects.order_by("id").values_list("type", flat=True))
    assert types[-5:] == [
        "user.blocked", "ticket.note.new", "ticket.resolved", "ticket.note.new", "ticket.resolved",
    ]  # fmt: skip
    admin_client.post(
        "/admin/support/ticket/", {"action": "unblock_users", "_selected_action": [first.pk]}
    )
    assert TelegramProfile.objects.get(pk=first.user_id).blocked_at is None
    assert Event.objects.order_by("-id").values_list("type", flat=True)[0] == "user.unblocked"


def test_the_profile_admin_shows_the_block_and_blocks(admin_client, make_ticket):
    from support.models import TelegramProfile

    ticket = make_ticket()
    changelist = "/admin/support/telegramprofile/"
    response = admin_client.post(
        changelist, {"action": "block_profiles", "_selected_action": [ticket.user_id]}, follow=True
    )
    assert response.status_code == 200
    assert TelegramProfile.objects.get(pk=ticket.user_id).blocked_at is not None
    page = admin_client.get(f"{changelist}{ticket.user_id}/change/").content.decode()
    assert "Blocked from the admin" in page
    assert admin_client.get(changelist + "?blocked_at__isempty=0").status_code == 200
    admin_client.post(
        changelist, {"action": "unblock_profiles", "_selected_action": [ticket.user_id]}
    )
    assert TelegramProfile.objects.get(pk=ticket.user_id).blocked_at is None


def test_a_refused_block_is_reported_not_raised(admin_client, make_ticket, monkeypatch):
    from support import blocking
    from support.exceptions import PermissionDenied

    def refuse(*args, **kwargs):
        raise PermissionDenied("no")

    monkeypatch.setattr(blocking, "block", refuse)
    ticket = make_ticket()
    response = admin_client.post(
        "/admin/support/ticket/",
        {"action": "block_users", "_selected_action": [ticket.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert f"{ticket.user_id}: no" in response.content.decode()

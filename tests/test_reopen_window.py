"""``SUPPORT_REOPEN_WINDOW``: a user's message soon after resolution reopens the ticket; later,
it is ``ticket_resolved`` and the bot's next ticket links back (``previous``).

A table of times after the resolution, each ending in the documented state and events.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from support import events, services
from support.actors import Actor
from support.models import Ticket
from tests.conftest import Desk, new_events, snapshot

pytestmark = pytest.mark.django_db

WINDOW = timedelta(hours=1)


@pytest.fixture
def reopen_window(settings) -> None:
    """The window on, through pytest-django's ``settings``: an ``override_settings``
    decorator around a test that also changes ``settings`` leaks its value into later
    tests (the two restore in the wrong order)."""
    settings.SUPPORT_REOPEN_WINDOW = WINDOW


def frozen_at(monkeypatch: pytest.MonkeyPatch, moment: datetime) -> None:
    monkeypatch.setattr(timezone, "now", lambda: moment)


def resolved_at(ticket: Ticket, moment: datetime) -> None:
    Ticket.objects.filter(pk=ticket.pk).update(resolved_at=moment)


def post(client: Any, ticket: Ticket, text: str = "one more thing") -> Any:
    return client.post(f"/support/tickets/{ticket.pk}/messages/", {"text": text}, format="json")


RESOLVED_AT = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("window", "after", "reopens"),
    [
        pytest.param(WINDOW, timedelta(0), True, id="just resolved"),
        pytest.param(WINDOW, timedelta(minutes=30), True, id="inside the window"),
        pytest.param(WINDOW, WINDOW, True, id="at its edge"),
        pytest.param(WINDOW, WINDOW + timedelta(microseconds=1), False, id="just after it"),
        pytest.param(WINDOW, timedelta(days=2), False, id="long after it"),
        pytest.param(None, timedelta(0), False, id="no window: just resolved"),
        pytest.param(None, timedelta(days=2), False, id="no window: long after"),
    ],
)
def test_a_users_message_after_resolution(
    bot_client, desk: Desk, manager_actor, monkeypatch, settings, window, after, reopens
):
    settings.SUPPORT_REOPEN_WINDOW = window
    ticket = desk.mine  # assigned to the manager, then resolved
    services.resolve(manager_actor, ticket.pk)
    resolved_at(ticket, RESOLVED_AT)
    frozen_at(monkeypatch, RESOLVED_AT + after)
    start = events.current_position()
    before = snapshot()
    response = post(bot_client, ticket)
    after_ticket = Ticket.objects.get(pk=ticket.pk)
    if reopens:
        assert response.status_code == 201, response.content
        message = response.json()
        logged = new_events(start)
        assert logged == [
            ("ticket.reopened", {"id": ticket.pk}),
            ("ticket.message.new", {"message": message}),
        ]
        assert after_ticket.resolved is False
        assert after_ticket.resolved_at is None
        assert after_ticket.support_manager_id == manager_actor.manager_id  # keeps its manager
        assert message["sender"] == "user"
    else:
        assert response.status_code == 409, response.content
        assert response.json()["code"] == "ticket_resolved"
        assert snapshot() == before
        assert after_ticket.resolved is True


@pytest.mark.usefixtures("reopen_window")
def test_a_managers_message_on_a_resolved_ticket_is_still_refused(manager_client, desk: Desk):
    before = snapshot()
    response = post(manager_client, desk.resolved, "we are back")
    assert (response.status_code, response.json()["code"]) == (409, "ticket_resolved")
    assert snapshot() == before


@pytest.mark.usefixtures("reopen_window")
def test_a_repeated_key_after_the_reopen_returns_the_first_message(bot_client, desk: Desk):
    url = f"/support/tickets/{desk.resolved.pk}/messages/"
    body = {"text": "again", "idempotency_key": "tg-5"}
    first = bot_client.post(url, body, format="json")
    assert first.status_code == 201
    before = snapshot()
    repeat = bot_client.post(url, body, format="json")
    assert (repeat.status_code, repeat.json()["id"]) == (200, first.json()["id"])
    assert snapshot() == before


@pytest.mark.usefixtures("reopen_window")
def test_a_reopen_with_attachments_stores_the_files(bot_client, desk: Desk, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests import files

    settings.MEDIA_ROOT = str(tmp_path)
    photo = SimpleUploadedFile("a.png", files.png(), "application/octet-stream")
    response = bot_client.post(
        f"/support/tickets/{desk.resolved.pk}/messages/",
        {"text": "", "files": [photo]},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    assert len(response.json()["attachments"]) == 1
    assert Ticket.objects.get(pk=desk.resolved.pk).resolved is False


@pytest.mark.usefixtures("reopen_window")
def test_an_unresolved_tickets_message_is_unchanged(bot_client, desk: Desk):
    start = events.current_position()
    response = post(bot_client, desk.open)
    assert response.status_code == 201
    assert [t for t, _ in new_events(start)] == ["ticket.message.new"]


# -- previous: the ticket a new one continues ----------------------------------------------


def test_a_new_ticket_links_to_the_users_ticket_resolved_last(bot_client, desk: Desk, bot_actor):
    services.resolve(bot_actor, desk.open.pk)  # resolved after desk.resolved
    response = bot_client.post(
        "/support/tickets/", {"user_id": desk.open.user_id, "title": "again"}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["previous"] == desk.open.pk
    assert Ticket.objects.get(pk=response.json()["id"]).previous_id == desk.open.pk


def test_previous_follows_resolved_at_not_the_id(desk: Desk, bot_actor, manager_actor):
    services.resolve(bot_actor, desk.open.pk)
    resolved_at(desk.open, RESOLVED_AT)
    resolved_at(desk.resolved, RESOLVED_AT + timedelta(minutes=1))
    ticket = services.open_ticket(bot_actor, user_id=desk.open.user_id, title="t")
    assert ticket.previous_id == desk.resolved.pk


def test_previous_is_null_without_a_resolved_ticket(bot_client, tg_user):
    response = bot_client.post(
        "/support/tickets/", {"user_id": tg_user.pk, "title": "first"}, format="json"
    )
    body = response.json()
    assert (body["previous"], body["resolved_at"], body["rating"]) == (None, None, None)


def test_another_users_tickets_are_not_previous(desk: Desk, bot_actor):
    from tests.zz_users.models import MyTelegramUser

    MyTelegramUser.objects.create(telegram_id=999)
    ticket = services.open_ticket(bot_actor, user_id=999, title="t")
    assert ticket.previous_id is None


@pytest.mark.usefixtures("reopen_window")
def test_previous_is_set_whatever_the_window(desk: Desk, bot_actor):
    ticket = services.open_ticket(bot_actor, user_id=desk.open.user_id, title="t")
    assert ticket.previous_id == desk.resolved.pk


def test_resolved_at_is_shown_and_cleared_on_reopen(manager_client, desk: Desk):
    shown = manager_client.get(f"/support/tickets/{desk.resolved.pk}/").json()
    assert shown["resolved"] is True
    assert shown["resolved_at"].endswith("Z")
    manager_client.post(f"/support/tickets/{desk.resolved.pk}/reopen/", {}, format="json")
    assert manager_client.get(f"/support/tickets/{desk.resolved.pk}/").json()["resolved_at"] is None


def test_the_representation_of_every_ticket_in_a_list_has_them(manager_client, desk: Desk):
    listed = manager_client.get("/support/tickets/").json()
    by_id = {t["id"]: t for t in listed}
    assert by_id[desk.resolved.pk]["resolved_at"] is not None
    assert {t["previous"] for t in listed} == {None}
    assert {t["rating"] for t in listed} == {None}


def test_the_service_of_a_staff_bot_acting_does_not_reopen(desk: Desk, manager, settings):
    """A staff bot acting for a manager writes as support: a resolved ticket stays resolved."""
    from support.botkeys import create_bot_key
    from support.exceptions import TicketResolved

    settings.SUPPORT_REOPEN_WINDOW = WINDOW
    key, _ = create_bot_key("staff", staff=True)
    with pytest.raises(TicketResolved):
        services.post_message(Actor.acting(manager, key), desk.resolved.pk, text="x")

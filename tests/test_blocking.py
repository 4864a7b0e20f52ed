"""Blocking: ``users/{telegram_id}/``, ``block/``, ``unblock/`` (managers only), and what a
block refuses: the user's new tickets, messages (with attachments too) and ratings,
each ``403 user_blocked`` with nothing stored on any path; unblocking restores them."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from support import blocking, events, ratings, services
from support.actors import Actor
from support.exceptions import Invalid, NotFound, PermissionDenied, UserBlocked
from support.models import Event, Note, Rating, TelegramProfile, Ticket
from tests import files
from tests.conftest import Desk, assert_refused, managers_only, new_events, snapshot, stored_files

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]

USER = "/support/users/{id}/"
BLOCK = "/support/users/{id}/block/"
UNBLOCK = "/support/users/{id}/unblock/"
TG = 123  # tg_user, whose tickets the desk fixture opens


def everything() -> tuple[Any, ...]:
    """What a refused request must leave as it was: the desk, the log, notes, profiles."""
    return (
        *snapshot(),
        list(Note.objects.order_by("id").values()),
        list(TelegramProfile.objects.order_by("pk").values()),
        list(Rating.objects.order_by("id").values()),
    )


def post(client: APIClient, path: str, body: Any) -> Any:
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post(path, data, content_type="application/json")


@pytest.fixture
def blocked(desk: Desk, manager_actor: Actor) -> Desk:
    blocking.block(manager_actor, TG, reason="spam")
    return desk


# -- blocking: what it does ----------------------------------------------------------------


def test_a_block_resolves_the_open_tickets_with_a_note_in_one_go(clients, desk, manager):
    start = events.current_position()
    response = post(clients["manager"], BLOCK.format(id=TG), {"reason": "Spam links"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert list(body) == ["user", "block", "tickets"]
    assert body["user"]["blocked"] is True
    assert body["block"] == {
        "reason": "Spam links",
        "blocked_by": manager.pk,
        "blocked_at": body["block"]["blocked_at"],
    }
    assert [t["id"] for t in body["tickets"]] == [
        desk.resolved.pk,
        desk.others.pk,
        desk.mine.pk,
        desk.open.pk,
    ]  # newest first
    assert all(t["resolved"] for t in body["tickets"])
    assert list(body["tickets"][0]) == ["id", "title", "resolved", "created_at"]
    # The log: the block, then each open ticket's note and resolution, in id order.
    opened = [desk.open.pk, desk.mine.pk, desk.others.pk]
    logged = new_events(start)
    assert [t for t, _ in logged] == ["user.blocked"] + ["ticket.note.new", "ticket.resolved"] * 3
    assert logged[0][1] == {"user": body["user"]}
    assert [d["id"] for t, d in logged if t == "ticket.resolved"] == opened
    notes = [d["note"] for t, d in logged if t == "ticket.note.new"]
    assert [n["ticket"] for n in notes] == opened
    assert {n["text"] for n in notes} == {"Blocked: Spam links"}
    assert {n["author"] for n in notes} == {manager.pk}
    assert Event.objects.filter(type="ticket.note.new", managers_only=True).count() == 3
    # The resolved ticket got no note; the others are resolved now, with a time.
    assert not Note.objects.filter(ticket=desk.resolved).exists()
    for ticket in Ticket.objects.filter(pk__in=opened):
        assert ticket.resolved
        assert ticket.resolved_at is not None
    # Everywhere a user is shown, it says blocked.
    shown = clients["manager"].get(f"/support/tickets/{desk.open.pk}/").json()["user"]
    assert shown["blocked"] is True
    assert {t["user"]["blocked"] for t in clients["bot"].get("/support/tickets/").json()} == {True}


def test_blocking_again_keeps_the_first_reason_and_says_nothing(clients, blocked):
    before = everything()
    response = post(clients["manager"], BLOCK.format(id=TG), {"reason": "another"})
    assert response.status_code == 200
    assert response.json()["block"]["reason"] == "spam"
    assert everything() == before


def test_a_user_without_a_profile_row_gets_one_when_blocked(desk, manager_actor):
    TelegramProfile.objects.all().delete()
    row = blocking.block(manager_actor, TG, reason="r")
    assert row.blocked_at is not None
    assert row.first_contact_at == desk.open.created_at  # dated from the first ticket


def test_unblocking_restores_and_says_so(clients, blocked, manager_actor):
    start = events.current_position()
    response = post(clients["manager"], UNBLOCK.format(id=TG), {})
    assert response.status_code == 200, response.content
    assert response.json()["block"] is None
    assert response.json()["user"]["blocked"] is False
    [(kind, data)] = new_events(start)
    assert (kind, data) == ("user.unblocked", {"user": response.json()["user"]})
    row = TelegramProfile.objects.get(pk=TG)
    assert (row.blocked_at, row.blocked_reason, row.blocked_by) == (None, "", None)
    # The tickets stay resolved; the user may write again.
    assert Ticket.objects.filter(user_id=TG, resolved=False).count() == 0
    bot = clients["bot"]
    opened = post(bot, "/support/tickets/", {"user_id": TG, "title": "back", "text": "hi"})
    assert opened.status_code == 201, opened.content
    assert (
        post(bot, f"/support/tickets/{opened.json()['id']}/messages/", {"text": "x"}).status_code
        == 201
    )


def test_unblocking_a_user_not_blocked_changes_nothing(clients, desk):
    before = everything()
    response = post(clients["manager"], UNBLOCK.format(id=TG), {})
    assert response.status_code == 200
    assert response.json()["block"] is None
    assert everything() == before


def test_the_user_detail_lists_their_tickets_and_block(clients, blocked, manager):
    body = clients["manager"].get(USER.format(id=TG)).json()
    assert body["user"]["telegram_id"] == TG
    assert body["block"]["reason"] == "spam"
    assert len(body["tickets"]) == 4


def test_a_user_seen_only_through_a_profile_row_is_known(clients, db):
    TelegramProfile.objects.create(telegram_id=555, first_name="Ann")
    body = clients["manager"].get(USER.format(id=555)).json()
    assert body == {"user": body["user"], "block": None, "tickets": []}
    assert body["user"]["first_name"] == "Ann"


# -- the permission table --------------------------------------------------------------------

CALLS = [
    pytest.param("get", USER, None, id="GET user"),
    pytest.param("post", BLOCK, {"reason": "spam"}, id="block"),
    pytest.param("post", UNBLOCK, {}, id="unblock"),
]


@pytest.mark.parametrize(("method", "path", "body"), CALLS)
@pytest.mark.parametrize(("caller", "status", "code"), managers_only(200))
def test_the_permission_table(clients, desk, method, path, body, caller, status, code):
    before = everything()
    url = path.format(id=TG)
    response = clients[caller].get(url) if method == "get" else post(clients[caller], url, body)
    assert response.status_code == status, response.content
    if code is not None:
        assert response.json()["code"] == code
        assert everything() == before


@pytest.mark.parametrize("path", [BLOCK, UNBLOCK])
def test_a_bot_is_refused_before_its_body_is_read(clients, desk, path):
    before = everything()
    for telegram_id, body in ((TG, {"nope": 1}), (999999, {"reason": "x"}), (TG, "{bad")):
        response = post(clients["bot"], path.format(id=telegram_id), body)
        assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    assert everything() == before


def test_a_staff_bot_acting_for_a_manager_may_block(desk, manager):
    from support.botkeys import create_bot_key

    key, _ = create_bot_key("staff", staff=True)
    row = blocking.block(Actor.acting(manager, key), TG, reason="from the staff group")
    assert row.blocked_by_id == manager.pk


def test_the_service_refuses_a_bot_and_an_inactive_manager(desk, bot_actor, manager):
    before = everything()
    for call in (blocking.block, blocking.unblock, blocking.user_detail):
        kwargs = {"reason": "x"} if call is blocking.block else {}
        with pytest.raises(PermissionDenied):
            call(bot_actor, TG, **kwargs)
    manager.is_active = False
    manager.save()
    with pytest.raises(PermissionDenied):
        blocking.block(Actor.for_manager(manager), TG, reason="x")
    assert everything() == before


# -- the bad input table ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "telegram_id", "body", "status", "code", "field"),
    [
        pytest.param(BLOCK, TG, {}, 400, "invalid", "reason", id="no reason"),
        pytest.param(BLOCK, TG, {"reason": ""}, 400, "invalid", "reason", id="empty reason"),
        pytest.param(BLOCK, TG, {"reason": " \n"}, 400, "invalid", "reason", id="blank reason"),
        pytest.param(BLOCK, TG, {"reason": "x" * 501}, 400, "invalid", "reason", id="501 chars"),
        pytest.param(BLOCK, TG, {"reason": "a\x00"}, 400, "invalid", "reason", id="NUL"),
        pytest.param(BLOCK, TG, '{"reason": "\\ud800"}', 400, "invalid", "reason", id="surrogate"),
        pytest.param(BLOCK, TG, {"reason": 5}, 400, "invalid", "reason", id="a number"),
        pytest.param(BLOCK, TG, {"reason": None}, 400, "invalid", "reason", id="null reason"),
        pytest.param(BLOCK, TG, {"reason": ["x"]}, 400, "invalid", "reason", id="a list"),
        pytest.param(
            BLOCK, TG, {"reason": "x", "until": 1}, 400, "invalid", "until", id="unknown field"
        ),
        pytest.param(BLOCK, TG, "[]", 400, "invalid", "non_field_errors", id="not an object"),
        pytest.param(BLOCK, TG, "null", 400, "invalid", "non_field_errors", id="null body"),
        pytest.param(BLOCK, TG, "{bad", 400, "bad_json", None, id="malformed JSON"),
        pytest.param(BLOCK, 999999, {"reason": "x"}, 404, "not_found", None, id="never seen"),
        pytest.param(BLOCK, 0, {"reason": "x"}, 404, "not_found", None, id="id 0"),
        pytest.param(BLOCK, 2**63, {"reason": "x"}, 404, "not_found", None, id="past int64"),
        pytest.param(UNBLOCK, TG, {"x": 1}, 400, "invalid", "x", id="unblock: unknown field"),
        pytest.param(UNBLOCK, TG, "[]", 400, "invalid", "non_field_errors", id="unblock: list"),
        pytest.param(UNBLOCK, 999999, {}, 404, "not_found", None, id="unblock: never seen"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(
    clients, desk, path, telegram_id, body, status, code, field
):
    before = everything()
    response = post(clients["manager"], path.format(id=telegram_id), body)
    assert_refused(response, status, code, field)
    assert everything() == before


def test_the_longest_reason_is_accepted(clients, desk):
    assert post(clients["manager"], BLOCK.format(id=TG), {"reason": "x" * 500}).status_code == 200


@pytest.mark.parametrize("telegram_id", [999999, 0, 2**63])
def test_reading_a_user_never_seen_is_404(clients, db, telegram_id):
    response = clients["manager"].get(USER.format(id=telegram_id))
    assert (response.status_code, response.json()["code"]) == (404, "not_found")


@pytest.mark.parametrize(
    ("telegram_id", "reason", "error"),
    [
        ("123", "x", Invalid),
        (True, "x", Invalid),
        (None, "x", Invalid),
        (TG, None, Invalid),
        (TG, 5, Invalid),
        (TG, "", Invalid),
        (-5, "x", NotFound),
        (999999, "x", NotFound),
    ],
)
def test_the_service_checks_what_other_callers_pass(
    desk, manager_actor, telegram_id, reason, error
):
    before = everything()
    with pytest.raises(error):
        blocking.block(manager_actor, telegram_id, reason=reason)
    assert everything() == before


# -- what a block refuses: nothing stored on any path ---------------------------------------


def upload(name: str, data: bytes) -> Any:
    return SimpleUploadedFile(name, data, "application/octet-stream")


REFUSED = [
    pytest.param("open", id="open a ticket"),
    pytest.param("open with files", id="open a ticket with a photo"),
    pytest.param("post", id="post a message"),
    pytest.param("post with files", id="post a message with a photo"),
    pytest.param("post with a profile", id="post a message with the profile"),
    pytest.param("rate", id="rate a resolved ticket"),
]


def send(client: APIClient, what: str, desk: Desk) -> Any:
    messages = f"/support/tickets/{desk.open.pk}/messages/"
    if what == "open":
        return post(client, "/support/tickets/", {"user_id": TG, "title": "again", "text": "hi"})
    if what == "open with files":
        body = {"user_id": TG, "title": "again", "files": [upload("a.png", files.png())]}
        return client.post("/support/tickets/", body, format="multipart")
    if what == "post":
        return post(client, messages, {"text": "hi"})
    if what == "post with files":
        body = {"text": "look", "files": [upload("a.png", files.png())]}
        return client.post(messages, body, format="multipart")
    if what == "post with a profile":
        return post(client, messages, {"text": "hi", "profile": {"first_name": "New"}})
    assert what == "rate"
    return post(client, f"/support/tickets/{desk.resolved.pk}/rating/", {"score": 5})


@pytest.mark.parametrize("what", REFUSED)
def test_a_blocked_users_writes_are_refused_with_nothing_stored(clients, blocked, media, what):
    before = everything()
    response = send(clients["bot"], what, blocked)
    assert response.status_code == 403, response.content
    assert response.json()["code"] == "user_blocked"
    assert response.json()["detail"]
    assert everything() == before
    assert stored_files(media) == []


@pytest.mark.parametrize("what", REFUSED)
def test_unblocking_lets_each_through_again(clients, blocked, manager_actor, what):
    blocking.unblock(manager_actor, TG)
    if what.startswith("post"):
        services.reopen(manager_actor, blocked.open.pk)  # the block resolved it
    response = send(clients["bot"], what, blocked)
    assert response.status_code == 201, response.content


def test_files_are_never_read_for_a_blocked_user(blocked, bot_actor, monkeypatch, media):
    """The block is looked at before the files are prepared: not even sniffed."""

    def never(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("files prepared for a blocked user")

    monkeypatch.setattr("support.attachments.prepare", never)
    photo = [upload("a.png", files.png())]
    with pytest.raises(UserBlocked):
        services.open_ticket(bot_actor, user_id=TG, title="t", files=photo)
    with pytest.raises(UserBlocked):
        services.post_message(bot_actor, blocked.open.pk, text="x", files=photo)
    assert stored_files(media) == []


def test_the_reopen_window_does_not_reopen_a_blocked_users_ticket(clients, blocked, settings):
    settings.SUPPORT_REOPEN_WINDOW = timedelta(hours=1)
    before = everything()
    response = send(clients["bot"], "post", blocked)
    assert (response.status_code, response.json()["code"]) == (403, "user_blocked")
    assert everything() == before


def test_a_repeated_key_is_still_answered_with_what_it_stored(clients, desk, manager_actor):
    bot = clients["bot"]
    url = f"/support/tickets/{desk.open.pk}/messages/"
    first = post(bot, url, {"text": "sent before", "idempotency_key": "tg-1"})
    assert first.status_code == 201
    blocking.block(manager_actor, TG, reason="spam")
    before = everything()
    again = post(bot, url, {"text": "sent before", "idempotency_key": "tg-1"})
    assert (again.status_code, again.json()["id"]) == (200, first.json()["id"])
    assert everything() == before


def test_a_manager_still_writes_to_a_reopened_ticket_of_a_blocked_user(blocked, manager_actor):
    services.reopen(manager_actor, blocked.open.pk)
    posted = services.post_message(manager_actor, blocked.open.pk, text="We closed your tickets.")
    assert posted.created


def test_other_users_are_not_affected(clients, blocked, bot_actor):
    from tests.zz_users.models import MyTelegramUser

    MyTelegramUser.objects.create(telegram_id=777)
    opened = post(clients["bot"], "/support/tickets/", {"user_id": 777, "title": "t", "text": "x"})
    assert opened.status_code == 201
    assert opened.json()["user"]["blocked"] is False


def test_the_rating_service_refuses_a_blocked_user(blocked, bot_actor):
    with pytest.raises(UserBlocked):
        ratings.rate(bot_actor, blocked.resolved.pk, score=4)

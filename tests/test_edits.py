"""Edits and deletions of messages (``PATCH/DELETE tickets/{id}/messages/{mid}/``), their
history (``GET …/edits/``) and the ``idempotency_key`` filter; every refusal changes nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from support import edits, events, services
from support.actors import Actor
from support.exceptions import Invalid, NotFound, PermissionDenied
from support.models import Attachment, Event, Message, MessageEdit, TelegramProfile
from support.serializers import message_data
from tests import files
from tests.conftest import Desk, assert_refused, managers_only, snapshot, stored_files

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]

MESSAGE = "/support/tickets/{ticket}/messages/{message}/"
EDITS = MESSAGE + "edits/"


def everything() -> tuple[Any, ...]:
    """What a refused request must leave as it was: the desk, the log, the history."""
    return (*snapshot(), list(MessageEdit.objects.order_by("id").values()))


@dataclass
class Messages:
    """A message of each kind the rules tell apart, on the desk's tickets."""

    user: Message  # the user's first message of desk.open
    mine: Message  # manager's reply on desk.mine
    others: Message  # other_manager's reply on desk.others
    photo: Message  # manager's reply on desk.mine: a photo without a caption
    resolved_user: Message  # the user's message of the resolved ticket


@pytest.fixture
def messages(desk: Desk, manager_actor: Actor, other_actor: Actor) -> Messages:
    photo = SimpleUploadedFile("p.png", files.png(), "image/png")
    return Messages(
        user=desk.open.messages.get(),
        mine=services.post_message(manager_actor, desk.mine.pk, text="my reply").message,
        others=services.post_message(other_actor, desk.others.pk, text="bob's reply").message,
        photo=services.post_message(manager_actor, desk.mine.pk, text="", files=[photo]).message,
        resolved_user=desk.resolved.messages.get(),
    )


def url(message: Message, template: str = MESSAGE) -> str:
    return template.format(ticket=message.ticket_id, message=message.pk)


def patch(client: APIClient, path: str, body: Any) -> Any:
    data = body if isinstance(body, str) else json.dumps(body)
    return client.patch(path, data, content_type="application/json")


def aged(message: Message, age: timedelta) -> datetime:
    """*message* made *age* old: the time it was written, now minus *age*."""
    created = timezone.now() - age
    Message.objects.filter(pk=message.pk).update(created_at=created)
    return created


def frozen_at(monkeypatch: pytest.MonkeyPatch, moment: datetime) -> None:
    """The edits' clock stopped at *moment* (as tests/test_telegram_links.py stops the
    rate limit's)."""
    monkeypatch.setattr(edits, "timezone", SimpleNamespace(now=lambda: moment))


# -- the permission tables ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("caller", "target", "status", "code"),
    [
        ("bot", "user", 200, None),
        ("bot", "resolved_user", 200, None),  # a correction on a resolved ticket
        ("bot", "mine", 403, "permission_denied"),
        ("manager", "mine", 200, None),
        ("manager", "photo", 200, None),
        ("manager", "others", 403, "permission_denied"),
        ("manager", "user", 403, "permission_denied"),
        ("plain", "mine", 403, "permission_denied"),
        ("plain", "user", 403, "permission_denied"),
        ("anon", "mine", 401, "not_authenticated"),
    ],
)
def test_who_may_edit_what(clients, messages, caller, target, status, code):
    message = getattr(messages, target)
    before = everything()
    response = patch(clients[caller], url(message), {"text": "corrected"})
    assert response.status_code == status, response.content
    if code is None:
        body = response.json()
        assert (body["id"], body["text"]) == (message.pk, "corrected")
        assert body["edited_at"] is not None
    else:
        assert response.json()["code"] == code
        assert response.json()["detail"]
        assert everything() == before


@pytest.mark.parametrize(
    ("caller", "target", "status", "code"),
    [
        ("manager", "mine", 204, None),
        ("manager", "photo", 204, None),
        ("manager", "others", 403, "permission_denied"),
        ("manager", "user", 403, "permission_denied"),
        ("bot", "user", 403, "permission_denied"),
        ("bot", "mine", 403, "permission_denied"),
        ("plain", "mine", 403, "permission_denied"),
        ("anon", "mine", 401, "not_authenticated"),
    ],
)
def test_who_may_delete_what(clients, messages, caller, target, status, code):
    message = getattr(messages, target)
    before = everything()
    response = clients[caller].delete(url(message))
    assert response.status_code == status, response.content
    if code is None:
        assert not Message.objects.filter(pk=message.pk).exists()
    else:
        assert response.json()["code"] == code
        assert everything() == before


@pytest.mark.parametrize(("caller", "status", "code"), managers_only(200))
def test_who_may_read_the_history(clients, messages, bot_actor, caller, status, code):
    edits.edit_message(bot_actor, messages.user.ticket_id, messages.user.pk, text="the secret")
    response = clients[caller].get(url(messages.user, EDITS))
    assert response.status_code == status
    if code is None:
        assert [e["text"] for e in response.json()] == ["hello"]
    else:
        assert response.json()["code"] == code
        assert "hello" not in response.content.decode()


def test_a_bot_is_refused_a_delete_or_the_history_before_anything_is_looked_up(clients, messages):
    before = everything()
    for path in (url(messages.user), "/support/tickets/999999/messages/1/"):
        response = clients["bot"].delete(path)
        assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
        response = clients["bot"].get(path + "edits/")
        assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    assert everything() == before


def test_a_blocked_users_edit_is_user_blocked(clients, messages, tg_user):
    TelegramProfile.objects.update_or_create(
        telegram_id=tg_user.pk, defaults={"blocked_at": timezone.now(), "blocked_reason": "spam"}
    )
    before = everything()
    response = patch(clients["bot"], url(messages.user), {"text": "let me in"})
    assert (response.status_code, response.json()["code"]) == (403, "user_blocked")
    assert everything() == before


# -- the window -----------------------------------------------------------------------------


@override_settings(SUPPORT_EDIT_WINDOW=timedelta(minutes=15))
@pytest.mark.parametrize(
    ("age", "status", "code"),
    [
        pytest.param(timedelta(0), 200, None, id="just sent"),
        pytest.param(timedelta(minutes=14, seconds=59), 200, None, id="inside"),
        pytest.param(timedelta(minutes=15), 200, None, id="at the edge"),
        pytest.param(timedelta(minutes=15, microseconds=1), 409, "edit_window_closed", id="after"),
        pytest.param(timedelta(days=3), 409, "edit_window_closed", id="long after"),
    ],
)
@pytest.mark.parametrize("method", ["patch", "delete"])
def test_a_managers_window(clients, messages, monkeypatch, method, age, status, code):
    created = aged(messages.mine, timedelta(hours=1))
    frozen_at(monkeypatch, created + age)
    before = everything()
    client = clients["manager"]
    if method == "patch":
        response = patch(client, url(messages.mine), {"text": "corrected"})
    else:
        response = client.delete(url(messages.mine))
    expected = 204 if method == "delete" and status == 200 else status
    assert response.status_code == expected, response.content
    if code is not None:
        assert response.json()["code"] == code
        assert everything() == before


@override_settings(SUPPORT_EDIT_WINDOW=timedelta(minutes=1))
def test_the_window_follows_the_setting(clients, messages):
    aged(messages.mine, timedelta(minutes=2))
    response = patch(clients["manager"], url(messages.mine), {"text": "too late"})
    assert (response.status_code, response.json()["code"]) == (409, "edit_window_closed")


def test_a_bot_edits_a_user_message_of_any_age(clients, messages):
    aged(messages.user, timedelta(days=30))
    response = patch(clients["bot"], url(messages.user), {"text": "edited a month later"})
    assert response.status_code == 200, response.content


# -- bad input ---------------------------------------------------------------------------------


@override_settings(SUPPORT_MAX_TEXT_LENGTH=10)
@pytest.mark.parametrize(
    ("path", "body", "status", "code", "field"),
    [
        pytest.param("mine", {"text": ""}, 409, "text_required", None, id="empty, no files"),
        pytest.param("mine", {"text": " \n\t"}, 400, "invalid", "text", id="blank"),
        pytest.param("photo", {"text": " "}, 400, "invalid", "text", id="blank caption"),
        pytest.param("mine", {"text": "x" * 11}, 400, "invalid", "text", id="too long"),
        pytest.param("mine", {"text": "a\x00b"}, 400, "invalid", "text", id="NUL"),
        pytest.param("mine", '{"text": "a\\ud800"}', 400, "invalid", "text", id="lone surrogate"),
        pytest.param("mine", {"text": 5}, 400, "invalid", "text", id="text as number"),
        pytest.param("mine", {"text": ["a"]}, 400, "invalid", "text", id="text as list"),
        pytest.param("mine", {"text": None}, 400, "invalid", "text", id="text null"),
        pytest.param(
            "mine", {"text": "ok", "sender": "user"}, 400, "invalid", "sender", id="unknown"
        ),
        pytest.param("mine", "[]", 400, "invalid", "non_field_errors", id="not an object"),
        pytest.param("mine", "null", 400, "invalid", "non_field_errors", id="null body"),
        pytest.param("mine", "{bad", 400, "bad_json", None, id="malformed JSON"),
        pytest.param("unknown ticket", {"text": "ok"}, 404, "not_found", None, id="no ticket"),
        pytest.param("unknown message", {"text": "ok"}, 404, "not_found", None, id="no message"),
        pytest.param("other ticket", {"text": "ok"}, 404, "not_found", None, id="other ticket"),
        pytest.param("id not a number", {"text": "ok"}, 404, "not_found", None, id="bad id"),
    ],
)
def test_bad_edits_are_refused_and_change_nothing(
    clients, messages, desk, path, body, status, code, field
):
    mine = messages.mine
    paths = {
        "mine": url(mine),
        "photo": url(messages.photo),
        "unknown ticket": MESSAGE.format(ticket=999999, message=mine.pk),
        "unknown message": MESSAGE.format(ticket=mine.ticket_id, message=999999),
        "other ticket": MESSAGE.format(ticket=desk.open.pk, message=mine.pk),
        "id not a number": f"/support/tickets/{mine.ticket_id}/messages/x1/",
    }
    before = everything()
    response = patch(clients["manager"], paths[path], body)
    assert_refused(response, status, code, field)
    assert everything() == before


@override_settings(SUPPORT_MAX_TEXT_LENGTH=10)
def test_the_longest_text_is_accepted(clients, messages):
    assert patch(clients["manager"], url(messages.mine), {"text": "x" * 10}).status_code == 200


@pytest.mark.parametrize(
    ("ticket_id", "message_id", "error"),
    [
        ("1", 1, Invalid),
        (True, 1, Invalid),
        (None, 1, Invalid),
        (1, "1", Invalid),
        (1, False, Invalid),
        (999999, 1, NotFound),
    ],
)
@pytest.mark.parametrize("call", ["edit", "delete", "history"])
def test_the_service_checks_what_other_callers_pass(
    messages, manager_actor, ticket_id, message_id, error, call
):
    service: Callable[[], Any] = {
        "edit": lambda: edits.edit_message(manager_actor, ticket_id, message_id, text="x"),
        "delete": lambda: edits.delete_message(manager_actor, ticket_id, message_id),
        "history": lambda: edits.edits_of(manager_actor, ticket_id, message_id),
    }[call]
    before = everything()
    with pytest.raises(error):
        service()
    assert everything() == before


def test_the_service_refuses_an_inactive_manager(messages, manager):
    manager.is_active = False
    manager.save()
    actor = Actor.for_manager(manager)
    before = everything()
    with pytest.raises(PermissionDenied):
        edits.edit_message(actor, messages.mine.ticket_id, messages.mine.pk, text="x")
    with pytest.raises(PermissionDenied):
        edits.delete_message(actor, messages.mine.ticket_id, messages.mine.pk)
    assert everything() == before


# -- what an edit does --------------------------------------------------------------------------


def test_an_edit_keeps_the_old_text_stamps_edited_at_and_says_so(clients, messages, manager):
    start = events.current_position()
    response = patch(clients["manager"], url(messages.mine), {"text": "my better reply"})
    assert response.status_code == 200, response.content
    message = Message.objects.get(pk=messages.mine.pk)
    assert message.text == "my better reply"
    assert message.edited_at is not None
    body = response.json()
    assert body == message_data(message)
    assert body["edited_at"] == message_data(message)["edited_at"]
    [edit] = MessageEdit.objects.filter(message=message)
    assert (edit.text, edit.editor_id, edit.edited_at) == (
        "my reply",
        manager.pk,
        message.edited_at,
    )
    [event] = Event.objects.filter(id__gt=start)
    assert event.type == "ticket.message.edited"
    assert event.managers_only is False  # the bot relays it to Telegram
    assert event.data == {"message": body}


def test_the_history_is_the_texts_before_each_edit_oldest_first(clients, messages, manager):
    for text in ("second", "third"):
        patch(clients["manager"], url(messages.mine), {"text": text})
    patch(clients["bot"], url(messages.user), {"text": "hello, edited"})
    history = clients["manager"].get(url(messages.mine, EDITS)).json()
    assert [(e["text"], e["editor"]) for e in history] == [
        ("my reply", manager.pk),
        ("second", manager.pk),
    ]
    assert list(history[0]) == ["text", "edited_at", "editor"]
    assert history[0]["edited_at"] <= history[1]["edited_at"]
    users = clients["manager"].get(url(messages.user, EDITS)).json()
    assert [(e["text"], e["editor"]) for e in users] == [("hello", None)]  # the user's own


def test_a_message_never_edited_has_no_history_and_no_edited_at(clients, messages):
    assert clients["manager"].get(url(messages.mine, EDITS)).json() == []
    listed = clients["manager"].get(f"/support/tickets/{messages.mine.ticket_id}/messages/")
    assert all(m["edited_at"] is None for m in listed.json())


@pytest.mark.parametrize("body", [{"text": "my reply"}, {}], ids=["same text", "nothing"])
def test_the_same_text_or_none_changes_nothing(clients, messages, body):
    before = everything()
    response = patch(clients["manager"], url(messages.mine), body)
    assert response.status_code == 200, response.content
    assert response.json() == message_data(messages.mine)
    assert everything() == before


def test_a_caption_may_be_emptied_and_filled(clients, messages, bot_client, desk):
    photo = url(messages.photo)
    assert patch(clients["manager"], photo, {"text": "look"}).json()["text"] == "look"
    response = patch(clients["manager"], photo, {"text": ""})
    assert response.status_code == 200, response.content
    assert response.json()["text"] == ""
    assert len(response.json()["attachments"]) == 1
    assert [e.text for e in MessageEdit.objects.filter(message=messages.photo)] == ["", "look"]


def test_the_bots_edit_of_a_user_caption(bot_client, desk):
    posted = bot_client.post(
        f"/support/tickets/{desk.open.pk}/messages/",
        {"text": "", "files": [SimpleUploadedFile("p.png", files.png(), "image/png")]},
        format="multipart",
    ).json()
    path = MESSAGE.format(ticket=desk.open.pk, message=posted["id"])
    assert patch(bot_client, path, {"text": "my cat"}).json()["text"] == "my cat"
    assert patch(bot_client, path, {"text": ""}).json()["text"] == ""


# -- what a deletion does -------------------------------------------------------------------


def test_a_deletion_removes_the_row_its_files_and_history_on_commit(
    clients, messages, media, django_capture_on_commit_callbacks
):
    edits.edit_message(
        Actor.for_manager(messages.photo.author),
        messages.photo.ticket_id,
        messages.photo.pk,
        text="c",
    )
    held = stored_files(media)
    assert len(held) == 2  # the photo and its thumbnail
    start = events.current_position()
    with django_capture_on_commit_callbacks(execute=True):
        response = clients["manager"].delete(url(messages.photo))
    assert response.status_code == 204, response.content
    assert response.content == b""
    assert not Message.objects.filter(pk=messages.photo.pk).exists()
    assert not Attachment.objects.exists()
    assert not MessageEdit.objects.exists()
    assert stored_files(media) == []
    [event] = Event.objects.filter(id__gt=start)
    assert event.type == "ticket.message.deleted"
    assert event.data == {"ticket": messages.photo.ticket_id, "id": messages.photo.pk}


def test_a_failed_deletion_keeps_the_files(messages, manager_actor, media, monkeypatch):
    def fail(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the log is down")

    monkeypatch.setattr(events, "append", fail)
    held = stored_files(media)
    before = everything()
    with pytest.raises(RuntimeError):
        edits.delete_message(manager_actor, messages.photo.ticket_id, messages.photo.pk)
    assert everything() == before
    assert stored_files(media) == held


def test_a_deleted_reply_leaves_the_ticket_list_consistent(clients, messages, desk):
    clients["manager"].delete(url(messages.photo))
    clients["manager"].delete(url(messages.mine))
    ticket = clients["manager"].get(f"/support/tickets/{desk.mine.pk}/").json()
    assert ticket["last_message"]["text"] == "hello"


# -- the idempotency_key filter -----------------------------------------------------------------


@pytest.mark.parametrize("caller", ["manager", "bot"])
def test_the_idempotency_key_finds_the_message_posted_with_it(clients, desk, bot_actor, caller):
    posted = services.post_message(bot_actor, desk.open.pk, text="hi", idempotency_key="tg:1:7")
    services.post_message(bot_actor, desk.mine.pk, text="hi", idempotency_key="tg:1:8")
    path = f"/support/tickets/{desk.open.pk}/messages/"
    found = clients[caller].get(path, {"idempotency_key": "tg:1:7"})
    assert [m["id"] for m in found.json()] == [posted.message.pk]
    for other in ("tg:1:8", "tg:1:", "TG:1:7", " "):  # another ticket's, a prefix, the case
        assert clients[caller].get(path, {"idempotency_key": other}).json() == [], other
    everything_listed = clients[caller].get(path, {"idempotency_key": ""}).json()
    assert len(everything_listed) == 2  # empty: not given


@pytest.mark.parametrize(
    ("value", "field"),
    [("k" * 129, "idempotency_key"), ("a\x00b", "idempotency_key")],
    ids=["too long", "NUL"],
)
def test_a_bad_idempotency_key_filter_is_400(clients, desk, value, field):
    response = clients["bot"].get(
        f"/support/tickets/{desk.open.pk}/messages/", {"idempotency_key": value}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert field in response.json()["errors"]

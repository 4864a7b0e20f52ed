"""Profiles and saved replies in the SDK: what each call sends, what comes back."""

from __future__ import annotations

import json

import pytest
import respx

from support_client import (
    ConflictError,
    PermissionDeniedError,
    Profile,
    SavedReply,
    TelegramUser,
    Ticket,
    UserUpdated,
)
from support_client.types import parse_event
from tests.sdk.common import MESSAGE, TICKET, Api, body_of, fields_of, last_request

USER = {
    "telegram_id": 123,
    "first_name": "Алиса",
    "last_name": "",
    "username": "alice",
    "language_code": "ru",
    "first_contact_at": "2025-01-22T12:11:40Z",
}
REPLY = {
    "id": 3,
    "shortcut": "hello",
    "text": "Hello {first_name}, this is {manager}.",
    "created_by": 1,
    "created_at": "2026-01-01T10:00:00Z",
    "updated_at": "2026-01-01T10:05:00Z",
}


# -- the user's profile ----------------------------------------------------------------


def test_a_tickets_user_carries_the_profile() -> None:
    ticket = Ticket.model_validate({**TICKET, "user": USER})
    assert (ticket.user.first_name, ticket.user.username) == ("Алиса", "alice")
    assert ticket.user.first_contact_at is not None
    assert ticket.user.name == "Алиса"


def test_a_1x_user_has_blank_fields_and_a_name_from_the_id() -> None:
    user = Ticket.model_validate(TICKET).user
    assert (user.first_name, user.first_contact_at) == ("", None)
    assert user.name == "Telegram user 123"
    assert TelegramUser(telegram_id=5, username="bob").name == "@bob"
    assert TelegramUser(telegram_id=5, first_name="A", last_name="B").name == "A B"


def test_user_updated_is_parsed() -> None:
    event = parse_event({"type": "user.updated", "user": USER, "event_id": "support:9"})
    assert isinstance(event, UserUpdated)
    assert event.user.first_name == "Алиса"


@pytest.mark.parametrize(
    "profile",
    [
        Profile(first_name="Алиса", last_name="", username="alice"),
        {"first_name": "Алиса", "last_name": "", "username": "alice"},
    ],
    ids=["Profile", "dict"],
)
async def test_create_and_send_carry_the_profile(api: Api, mock: respx.MockRouter, profile) -> None:
    created = mock.post("tickets/").respond(201, json=TICKET)
    sent = mock.post("tickets/16/messages/").respond(201, json=MESSAGE)
    await api.run(lambda c: c.tickets.create(user_id=123, title="t", profile=profile))
    await api.run(lambda c: c.messages.send(16, "hi", profile=profile))
    expected = {"first_name": "Алиса", "last_name": "", "username": "alice"}
    assert body_of(last_request(created))["profile"] == expected
    assert body_of(last_request(sent))["profile"] == expected


async def test_without_a_profile_none_is_sent(api: Api, mock: respx.MockRouter) -> None:
    sent = mock.post("tickets/16/messages/").respond(201, json=MESSAGE)
    await api.run(lambda c: c.messages.send(16, "hi"))
    assert "profile" not in body_of(last_request(sent))


async def test_with_files_the_profile_is_a_json_part(api: Api, mock: respx.MockRouter) -> None:
    sent = mock.post("tickets/16/messages/").respond(201, json=MESSAGE)
    profile = Profile(first_name="Алиса", language_code="ru")
    await api.run(lambda c: c.messages.send(16, "", files=[b"data"], profile=profile))
    fields = dict(fields_of(last_request(sent)))
    assert json.loads(fields["profile"]) == {"first_name": "Алиса", "language_code": "ru"}


def test_an_unknown_profile_field_fails_before_sending() -> None:
    with pytest.raises(ValueError, match="nickname"):
        Profile.model_validate({"nickname": "x"})


# -- saved replies ---------------------------------------------------------------------


async def test_saved_replies_list_get_create_update_delete(
    api: Api, mock: respx.MockRouter
) -> None:
    listed = mock.get("saved-replies/").respond(json=[REPLY])
    mock.get("saved-replies/3/").respond(json=REPLY)
    created = mock.post("saved-replies/").respond(201, json=REPLY)
    patched = mock.patch("saved-replies/3/").respond(json={**REPLY, "text": "Hi"})
    deleted = mock.delete("saved-replies/3/").respond(204)
    [reply] = await api.run(lambda c: c.saved_replies.list())
    assert isinstance(reply, SavedReply)
    assert (reply.shortcut, reply.created_by, reply.updated_at.minute) == ("hello", 1, 5)
    assert (await api.run(lambda c: c.saved_replies.get(3))).text == REPLY["text"]
    await api.run(lambda c: c.saved_replies.create(shortcut="hello", text="Hello"))
    assert body_of(last_request(created)) == {"shortcut": "hello", "text": "Hello"}
    changed = await api.run(lambda c: c.saved_replies.update(3, text="Hi"))
    assert changed.text == "Hi"
    assert body_of(last_request(patched)) == {"text": "Hi"}
    assert await api.run(lambda c: c.saved_replies.delete(3)) is None
    assert deleted.call_count == 1
    await api.run(lambda c: c.saved_replies.list(limit=10, offset=20))
    assert dict(last_request(listed).url.params) == {"limit": "10", "offset": "20"}


async def test_a_taken_shortcut_is_a_conflict_not_resent(api: Api, mock: respx.MockRouter) -> None:
    route = mock.post("saved-replies/").respond(
        409, json={"code": "shortcut_taken", "detail": "Another saved reply has this shortcut."}
    )
    with pytest.raises(ConflictError) as refused:
        await api.run(lambda c: c.saved_replies.create(shortcut="hello", text="x"))
    assert refused.value.code == "shortcut_taken"
    assert route.call_count == 1


async def test_a_bot_is_refused(api: Api, mock: respx.MockRouter) -> None:
    mock.get("saved-replies/").respond(
        403, json={"code": "permission_denied", "detail": "Bots cannot do this."}
    )
    with pytest.raises(PermissionDeniedError):
        await api.run(lambda c: c.saved_replies.list())

"""Telegram profiles: what a bot tells of a user with its posts, stored and shown in ``user``.

The row is created with the user's first ticket; a changed field updates it
and appends ``user.updated`` once; an unchanged profile writes nothing; a bad
profile (or a manager's) is refused with nothing changed.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from support import inputs, services
from support.exceptions import Invalid
from support.models import Event, TelegramProfile
from tests.conftest import Desk, snapshot
from tests.test_schema import resolve, schema_document
from tests.zz_users.models import MyTelegramUser

ALICE = {"first_name": "Алиса", "last_name": "Smith", "username": "alice_1", "language_code": "ru"}


def everything() -> tuple[Any, ...]:
    return (*snapshot(), list(TelegramProfile.objects.order_by("pk").values()))


def user_events() -> list[dict[str, Any]]:
    return [event.data for event in Event.objects.filter(type="user.updated").order_by("id")]


def open_with(client: Any, user_id: int = 123, **body: Any) -> Any:
    return client.post(
        "/support/tickets/",
        {"user_id": user_id, "title": "Hi", "text": "hello", **body},
        format="json",
    )


# -- stored and shown ------------------------------------------------------------------


def test_the_first_ticket_stores_the_profile_and_shows_it_in_user(bot_client, tg_user):
    response = open_with(bot_client, profile=ALICE)
    assert response.status_code == 201, response.content
    user = response.json()["user"]
    row = TelegramProfile.objects.get(pk=123)
    assert user == {
        "telegram_id": 123, **ALICE, "first_contact_at": user["first_contact_at"], "blocked": False
    }  # fmt: skip
    assert list(user) == [
        "telegram_id", "first_name", "last_name", "username", "language_code", "first_contact_at",
        "blocked",
    ]  # fmt: skip
    assert user["first_contact_at"].endswith("Z")
    assert (row.first_name, row.username) == ("Алиса", "alice_1")
    # Creating the row is no event: ticket.created carries the user.
    assert user_events() == []
    created = Event.objects.get(type="ticket.created").data
    assert created["ticket"]["user"] == user


def test_a_first_ticket_without_a_profile_creates_the_row_all_blank(bot_client, tg_user):
    user = open_with(bot_client).json()["user"]
    assert user["first_name"] == user["username"] == ""
    assert user["first_contact_at"] is not None
    assert TelegramProfile.objects.filter(pk=123).exists()


def test_a_changed_name_updates_the_row_and_appends_user_updated_once(
    bot_client, manager_client, tg_user
):
    ticket = open_with(bot_client, profile=ALICE).json()
    first_contact = ticket["user"]["first_contact_at"]
    url = f"/support/tickets/{ticket['id']}/messages/"
    renamed = {**ALICE, "first_name": "Alice", "last_name": ""}
    for _ in range(2):  # the second post changes nothing: no write, no event
        response = bot_client.post(url, {"text": "again", "profile": renamed}, format="json")
        assert response.status_code == 201, response.content
    [event] = user_events()
    assert event["user"] == {
        "telegram_id": 123, **renamed, "first_contact_at": first_contact, "blocked": False
    }  # fmt: skip
    shown = manager_client.get(f"/support/tickets/{ticket['id']}/").json()["user"]
    assert shown == event["user"]
    listed = manager_client.get("/support/tickets/?user_id=123").json()
    assert [t["user"] for t in listed] == [event["user"]]


def test_only_the_fields_given_change(bot_client, tg_user):
    ticket = open_with(bot_client, profile=ALICE).json()
    bot_client.post(
        f"/support/tickets/{ticket['id']}/messages/",
        {"text": "x", "profile": {"username": "alice_2"}},
        format="json",
    )
    row = TelegramProfile.objects.get(pk=123)
    assert (row.first_name, row.username, row.language_code) == ("Алиса", "alice_2", "ru")


def test_a_new_ticket_with_a_changed_profile_says_user_updated_before_ticket_created(
    bot_client, tg_user
):
    first = open_with(bot_client, profile=ALICE).json()
    second = open_with(bot_client, profile={**ALICE, "first_name": "Al"}, idempotency_key="k2")
    assert second.status_code == 201
    types = list(Event.objects.order_by("id").values_list("type", flat=True))
    assert types[-3:] == ["user.updated", "ticket.created", "ticket.message.new"]
    assert second.json()["user"]["first_name"] == "Al"
    # The user's first contact stays their first ticket's.
    assert second.json()["user"]["first_contact_at"] == first["user"]["first_contact_at"]


def test_a_user_from_before_profiles_gets_a_row_dated_from_their_first_ticket(
    bot_client, desk: Desk
):
    TelegramProfile.objects.all().delete()  # tickets opened before the desk kept profiles
    response = bot_client.post(
        f"/support/tickets/{desk.open.pk}/messages/",
        {"text": "hi", "profile": ALICE},
        format="json",
    )
    assert response.status_code == 201, response.content
    row = TelegramProfile.objects.get(pk=desk.open.user_id)
    earliest = min(t.created_at for t in (desk.open, desk.mine, desk.others, desk.resolved))
    assert row.first_contact_at == earliest
    [event] = user_events()
    assert event["user"]["first_name"] == "Алиса"


def test_a_user_without_a_row_shows_blanks_and_no_first_contact(manager_client, desk: Desk):
    TelegramProfile.objects.all().delete()
    user = manager_client.get(f"/support/tickets/{desk.open.pk}/").json()["user"]
    assert user == {
        "telegram_id": desk.open.user_id,
        "first_name": "",
        "last_name": "",
        "username": "",
        "language_code": "",
        "first_contact_at": None,
        "blocked": False,
    }


def test_a_message_without_a_profile_leaves_the_row_alone(bot_client, tg_user):
    ticket = open_with(bot_client, profile=ALICE).json()
    before = everything()[-1]
    bot_client.post(f"/support/tickets/{ticket['id']}/messages/", {"text": "x"}, format="json")
    assert everything()[-1] == before
    assert user_events() == []


def test_a_repeated_post_stores_no_profile(bot_client, tg_user):
    ticket = open_with(bot_client, profile=ALICE, idempotency_key="k").json()
    again = open_with(bot_client, profile={"first_name": "Other"}, idempotency_key="k")
    assert again.status_code == 200
    assert TelegramProfile.objects.get(pk=123).first_name == "Алиса"
    url = f"/support/tickets/{ticket['id']}/messages/"
    bot_client.post(url, {"text": "m", "idempotency_key": "m1"}, format="json")
    body = {"text": "m", "idempotency_key": "m1", "profile": {"first_name": "Other"}}
    assert bot_client.post(url, body, format="json").status_code == 200
    assert TelegramProfile.objects.get(pk=123).first_name == "Алиса"
    assert user_events() == []


def test_a_refused_post_stores_no_profile(bot_client, desk: Desk):
    before = everything()
    response = bot_client.post(
        f"/support/tickets/{desk.resolved.pk}/messages/",
        {"text": "hi", "profile": ALICE},
        format="json",
    )
    assert (response.status_code, response.json()["code"]) == (409, "ticket_resolved")
    assert everything() == before


# -- multipart -------------------------------------------------------------------------


def test_a_multipart_post_carries_the_profile_as_a_json_part(
    bot_client, tg_user, settings, tmp_path
):
    settings.MEDIA_ROOT = str(tmp_path)
    response = bot_client.post(
        "/support/tickets/",
        {
            "user_id": "123",
            "title": "Files",
            "text": "",
            "profile": json.dumps(ALICE),
            "files": [SimpleUploadedFile("a.txt", b"hello there", "text/plain")],
        },
        format="multipart",
    )
    assert response.status_code == 201, response.content
    assert response.json()["user"]["username"] == "alice_1"
    ticket = response.json()["id"]
    renamed = json.dumps({"first_name": "Al"})
    response = bot_client.post(
        f"/support/tickets/{ticket}/messages/",
        {"text": "words", "profile": renamed},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    assert TelegramProfile.objects.get(pk=123).first_name == "Al"


@pytest.mark.parametrize(
    "part", ["not json", "[1, 2]", '"text"', '{"first_name": 5}', '{"nick": "x"}', "{" * 5000]
)
def test_a_bad_multipart_profile_part_is_refused(bot_client, desk: Desk, part):
    before = everything()
    response = bot_client.post(
        f"/support/tickets/{desk.open.pk}/messages/",
        {"text": "words", "profile": part},
        format="multipart",
    )
    assert (response.status_code, response.json()["code"]) == (400, "invalid"), response.content
    assert "profile" in response.json()["errors"]
    assert everything() == before


# -- refused ---------------------------------------------------------------------------

BAD_PROFILES = [
    pytest.param("Alice", id="a string"),
    pytest.param(["Alice"], id="a list"),
    pytest.param(None, id="null"),
    pytest.param({"first_name": 5}, id="a number"),
    pytest.param({"first_name": None}, id="a null field"),
    pytest.param({"first_name": True}, id="a boolean"),
    pytest.param({"first_name": {"a": 1}}, id="an object field"),
    pytest.param({"first_name": "a" * 65}, id="first_name too long"),
    pytest.param({"last_name": "b" * 65}, id="last_name too long"),
    pytest.param({"username": "u" * 33}, id="username too long"),
    pytest.param({"language_code": "x" * 36}, id="language_code too long"),
    pytest.param({"username": "@alice"}, id="username with @"),
    pytest.param({"username": "al ice"}, id="username with a space"),
    pytest.param({"username": "алиса"}, id="username not latin"),
    pytest.param({"first_name": "   "}, id="blank"),
    pytest.param({"first_name": "a\x00b"}, id="NUL"),
    pytest.param({"last_name": "a\ud800"}, id="lone surrogate"),
    pytest.param({"nickname": "x"}, id="unknown field"),
    pytest.param({**ALICE, "is_bot": False}, id="unknown field among good ones"),
]


def post_raw(client: Any, url: str, body: dict[str, Any]) -> Any:
    # json.dumps keeps a lone surrogate as \ud800, as a client would send it.
    return client.post(url, json.dumps(body), content_type="application/json")


@pytest.mark.parametrize("profile", BAD_PROFILES)
def test_a_bad_profile_on_a_message_is_refused_with_nothing_changed(
    bot_client, desk: Desk, profile
):
    before = everything()
    url = f"/support/tickets/{desk.open.pk}/messages/"
    response = post_raw(bot_client, url, {"text": "hi", "profile": profile})
    assert (response.status_code, response.json()["code"]) == (400, "invalid"), response.content
    assert list(response.json()["errors"]) == ["profile"]
    assert everything() == before


@pytest.mark.parametrize("profile", BAD_PROFILES)
def test_a_bad_profile_on_a_new_ticket_is_refused_with_nothing_changed(
    bot_client, tg_user, profile
):
    before = everything()
    body = {"user_id": 123, "title": "t", "text": "hi", "profile": profile}
    response = post_raw(bot_client, "/support/tickets/", body)
    assert (response.status_code, response.json()["code"]) == (400, "invalid"), response.content
    assert list(response.json()["errors"]) == ["profile"]
    assert everything() == before


def test_a_managers_post_with_a_profile_is_refused(manager_client, desk: Desk):
    before = everything()
    response = manager_client.post(
        f"/support/tickets/{desk.mine.pk}/messages/",
        {"text": "hi", "profile": {"first_name": "Bob"}},
        format="json",
    )
    # Who asks decides, as with a `sender` naming the other side: 403, not a bad value.
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    assert everything() == before


@pytest.mark.parametrize("profile", [p.values[0] for p in BAD_PROFILES if p.values[0] is not None])
def test_the_service_applies_the_same_rule_to_in_process_callers(bot_actor, desk: Desk, profile):
    before = everything()
    with pytest.raises(Invalid) as refused:
        services.post_message(bot_actor, desk.open.pk, text="hi", profile=profile)
    assert list(refused.value.errors or {}) == ["profile"]
    assert everything() == before


def test_the_empty_values_are_stored(bot_client, tg_user):
    ticket = open_with(bot_client, profile=ALICE).json()
    cleared = {"last_name": "", "username": "", "language_code": ""}
    bot_client.post(
        f"/support/tickets/{ticket['id']}/messages/",
        {"text": "x", "profile": cleared},
        format="json",
    )
    row = TelegramProfile.objects.get(pk=123)
    assert (row.first_name, row.last_name, row.username) == ("Алиса", "", "")


def test_the_admin_shows_profiles_read_only(admin_client, bot_client, tg_user):
    open_with(bot_client, profile=ALICE)
    listed = admin_client.get("/admin/support/telegramprofile/?q=alice_1")
    assert listed.status_code == 200
    assert "Алиса Smith" in listed.content.decode()
    page = admin_client.get("/admin/support/telegramprofile/123/change/")
    assert page.status_code == 200
    assert b'name="first_name"' not in page.content
    assert admin_client.get("/admin/support/telegramprofile/add/").status_code == 403
    assert MyTelegramUser.objects.filter(pk=123).exists()


# -- the schema ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "media_type"),
    [
        ("/tickets/", "application/json"),
        ("/tickets/", "multipart/form-data"),
        ("/tickets/{id}/messages/", "application/json"),
        ("/tickets/{id}/messages/", "multipart/form-data"),
    ],
)
def test_the_schema_states_the_profiles_rules(anon_client, path, media_type):
    document = schema_document(anon_client)
    body = document["paths"][path]["post"]["requestBody"]["content"][media_type]["schema"]
    form = resolve(document, body)
    profile = resolve(document, form["properties"]["profile"]["allOf"][0])
    assert profile["type"] == "object"
    assert profile["additionalProperties"] is False
    assert "required" not in profile
    fields = profile["properties"]
    assert list(fields) == ["first_name", "last_name", "username", "language_code"]
    assert [fields[name]["maxLength"] for name in fields] == [64, 64, 32, 35]
    assert fields["username"]["pattern"] == inputs.USERNAME_PATTERN
    assert fields["first_name"]["anyOf"] == [  # "" or not blank
        {"maxLength": 0},
        {"pattern": inputs.NON_BLANK_PATTERN},
    ]


def test_the_schema_states_a_tickets_user(anon_client):
    document = schema_document(anon_client)
    ticket = document["components"]["schemas"]["Ticket"]
    user = resolve(document, ticket["properties"]["user"]["allOf"][0])
    assert list(user["properties"]) == [
        "telegram_id", "first_name", "last_name", "username", "language_code", "first_contact_at",
        "blocked",
    ]  # fmt: skip
    assert user["properties"]["first_contact_at"]["nullable"] is True

"""Private notes: ``GET/POST tickets/{id}/notes/``, managers only; the refusals change nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from support import events, notes
from support.actors import Actor
from support.exceptions import Invalid, NotFound, PermissionDenied
from support.models import Event, Note
from tests.conftest import assert_refused, managers_only, snapshot

pytestmark = pytest.mark.django_db

NOTES = "/support/tickets/{id}/notes/"


def everything() -> tuple[Any, ...]:
    """What a refused request must leave as it was: the desk, the log, and the notes."""
    return (*snapshot(), list(Note.objects.order_by("id").values()))


def post(client: APIClient, ticket_id: int, body: Any) -> Any:
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post(NOTES.format(id=ticket_id), data, content_type="application/json")


# -- the permission table --------------------------------------------------------------


@pytest.mark.parametrize(("caller", "status", "code"), managers_only(201))
def test_who_may_write_a_note(clients, desk, caller, status, code):
    before = everything()
    response = post(clients[caller], desk.open.pk, {"text": "VIP, be kind"})
    assert response.status_code == status, response.content
    if code is None:
        body = response.json()
        assert list(body) == ["id", "ticket", "author", "text", "created_at"]
        assert body["ticket"] == desk.open.pk
        assert body["text"] == "VIP, be kind"
        assert isinstance(body["author"], int)
    else:
        assert response.json()["code"] == code
        assert everything() == before


@pytest.mark.parametrize(("caller", "status", "code"), managers_only(200))
def test_who_may_read_notes(clients, desk, manager, caller, status, code):
    notes.add_note(Actor.for_manager(manager), desk.open.pk, text="the secret plan")
    response = clients[caller].get(NOTES.format(id=desk.open.pk))
    assert response.status_code == status
    if code is None:
        assert [n["text"] for n in response.json()] == ["the secret plan"]
    else:
        assert response.json()["code"] == code
        assert "secret plan" not in response.content.decode()


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_bot_is_refused_whatever_it_asks(clients, desk, method):
    """An unknown ticket, a bad body, a query: 403 before any of it is looked at."""
    before = everything()
    for ticket_id, body in ((desk.open.pk, {"nope": 1}), (999999, {"text": "x"}), (1, "{bad")):
        path = NOTES.format(id=ticket_id)
        if method == "get":
            response = clients["bot"].get(path, {"ordering": "bogus", "limit": "x"})
        else:
            response = post(clients["bot"], ticket_id, body)
        assert response.status_code == 403, (ticket_id, body, response.content)
        assert response.json()["code"] == "permission_denied"
    assert everything() == before


def test_a_manager_notes_any_ticket_resolved_or_anothers(clients, desk):
    for ticket in (desk.open, desk.mine, desk.others, desk.resolved):
        assert (
            post(clients["manager"], ticket.pk, {"text": f"on {ticket.title}"}).status_code == 201
        )
    assert Note.objects.count() == 4


# -- the bad input table ---------------------------------------------------------------


@override_settings(SUPPORT_MAX_TEXT_LENGTH=10)
@pytest.mark.parametrize(
    ("ticket", "body", "status", "code", "field"),
    [
        pytest.param("open", {}, 400, "invalid", "text", id="missing text"),
        pytest.param("open", {"text": ""}, 400, "invalid", "text", id="empty text"),
        pytest.param("open", {"text": " \n\t"}, 400, "invalid", "text", id="blank text"),
        pytest.param("open", {"text": "x" * 11}, 400, "invalid", "text", id="too long"),
        pytest.param("open", {"text": "a\x00b"}, 400, "invalid", "text", id="NUL"),
        pytest.param("open", '{"text": "a\\ud800"}', 400, "invalid", "text", id="lone surrogate"),
        pytest.param("open", {"text": 5}, 400, "invalid", "text", id="text as number"),
        pytest.param("open", {"text": ["a"]}, 400, "invalid", "text", id="text as list"),
        pytest.param("open", {"text": None}, 400, "invalid", "text", id="text null"),
        pytest.param(
            "open", {"text": "ok", "author": 1}, 400, "invalid", "author", id="unknown field"
        ),
        pytest.param("open", "[]", 400, "invalid", "non_field_errors", id="not an object"),
        pytest.param("open", "null", 400, "invalid", "non_field_errors", id="null body"),
        pytest.param("open", "{bad", 400, "bad_json", None, id="malformed JSON"),
        pytest.param(999999, {"text": "ok"}, 404, "not_found", None, id="unknown ticket"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(clients, desk, ticket, body, status, code, field):
    ticket_id = getattr(desk, ticket).pk if isinstance(ticket, str) else ticket
    before = everything()
    response = post(clients["manager"], ticket_id, body)
    assert_refused(response, status, code, field)
    assert everything() == before


@override_settings(SUPPORT_MAX_TEXT_LENGTH=10)
def test_the_longest_text_is_accepted(clients, desk):
    assert post(clients["manager"], desk.open.pk, {"text": "x" * 10}).status_code == 201


def test_reading_an_unknown_ticket_is_404(clients, db):
    response = clients["manager"].get(NOTES.format(id=999999))
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize(
    ("query", "field"),
    [({"ordering": "text"}, "ordering"), ({"limit": "0"}, "limit"), ({"offset": "-1"}, "offset")],
)
def test_bad_list_parameters_are_400(clients, desk, query, field):
    response = clients["manager"].get(NOTES.format(id=desk.open.pk), query)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert field in response.json()["errors"]


# -- the list ----------------------------------------------------------------------------


def test_notes_list_oldest_first_orders_and_pages_like_messages(clients, desk, manager):
    actor = Actor.for_manager(manager)
    for text in ("one", "two", "three"):
        notes.add_note(actor, desk.open.pk, text=text)
    notes.add_note(actor, desk.mine.pk, text="elsewhere")
    path = NOTES.format(id=desk.open.pk)
    assert [n["text"] for n in clients["manager"].get(path).json()] == ["one", "two", "three"]
    newest = clients["manager"].get(path, {"ordering": "-created_at"}).json()
    assert [n["text"] for n in newest] == ["three", "two", "one"]
    page = clients["manager"].get(path, {"limit": 2, "offset": 1})
    assert [n["text"] for n in page.json()] == ["two", "three"]
    assert page["X-Total-Count"] == "3"
    assert 'rel="prev"' in page["Link"]


# -- the service and its event --------------------------------------------------------------


def test_a_note_appends_one_managers_only_event_in_its_transaction(desk, manager):
    start = events.current_position()
    note = notes.add_note(Actor.for_manager(manager), desk.open.pk, text="remember")
    [event] = Event.objects.filter(id__gt=start)
    assert event.type == "ticket.note.new"
    assert event.managers_only is True
    assert event.data == {"note": notes.note_data(note)}
    assert event.data["note"] == {
        "id": note.pk,
        "ticket": desk.open.pk,
        "author": manager.pk,
        "text": "remember",
        "created_at": event.data["note"]["created_at"],
    }


def test_other_events_are_for_everyone(desk):
    assert not Event.objects.filter(managers_only=True).exists()


@pytest.mark.parametrize(
    ("ticket_id", "text", "error"),
    [
        ("1", "x", Invalid),
        (True, "x", Invalid),
        (999999, "x", NotFound),
        (None, "x", Invalid),
    ],
)
def test_the_service_checks_what_other_callers_pass(desk, manager, ticket_id, text, error):
    before = everything()
    with pytest.raises(error):
        notes.add_note(Actor.for_manager(manager), ticket_id, text=text)
    assert everything() == before


def test_the_service_refuses_a_bot_and_an_inactive_manager(desk, bot_actor, manager):
    before = everything()
    with pytest.raises(PermissionDenied):
        notes.add_note(bot_actor, desk.open.pk, text="x")
    with pytest.raises(PermissionDenied):
        notes.notes_of(bot_actor, desk.open.pk)
    manager.is_active = False
    manager.save()
    with pytest.raises(PermissionDenied):
        notes.add_note(Actor.for_manager(manager), desk.open.pk, text="x")
    assert everything() == before


# -- a staff bot acting for a linked manager (the staff group's /note) --------------------


@pytest.fixture
def staff_key(db: None) -> tuple[Any, str]:
    from support.botkeys import create_bot_key

    return create_bot_key("staff-bot", staff=True)


@pytest.fixture
def linked(manager, staff_key):
    from support import services

    code = services.create_telegram_link_code(Actor.for_manager(manager))
    services.confirm_telegram_link(Actor.for_bot(staff_key[0]), code=code.code, telegram_id=TG)
    return manager


TG = 777000222


def acting(raw_key: str, telegram_id: int = TG) -> APIClient:
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Api-Key {raw_key}", HTTP_X_SUPPORT_ACTING_TELEGRAM_ID=str(telegram_id)
    )
    return client


def test_a_staff_bot_acting_for_a_linked_manager_writes_the_managers_note(desk, linked, staff_key):
    response = post(acting(staff_key[1]), desk.resolved.pk, {"text": "from the staff group"})
    assert response.status_code == 201, response.content
    assert response.json()["author"] == linked.pk
    listed = acting(staff_key[1]).get(NOTES.format(id=desk.resolved.pk))
    assert [n["text"] for n in listed.json()] == ["from the staff group"]


@pytest.mark.parametrize(
    ("who", "code"),
    [("plain key", "permission_denied"), ("unlinked id", "telegram_not_linked")],
)
def test_acting_is_refused_for_a_plain_key_or_an_unlinked_id(
    desk, linked, staff_key, bot_key, who, code
):
    before = everything()
    client = acting(bot_key[1]) if who == "plain key" else acting(staff_key[1], TG + 1)
    response = post(client, desk.open.pk, {"text": "x"})
    assert response.status_code == 403
    assert response.json()["code"] == code
    assert everything() == before


def test_a_staff_bot_as_itself_is_a_bot(desk, staff_key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {staff_key[1]}")
    response = post(client, desk.open.pk, {"text": "x"})
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"

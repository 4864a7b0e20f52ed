"""Saved replies: managers' texts by shortcut (``saved-replies/``), and the admin's.

Managers only (a bot 403, a non-manager 403, anonymous 401); every refusal
answers its code and changes nothing; a taken shortcut is 409.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth.models import User

from support import inputs, services
from support.actors import Actor
from support.botkeys import create_bot_key
from support.exceptions import Invalid, PermissionDenied
from support.models import Event, SavedReply
from tests.test_schema import resolve, schema_document

LIST = "/support/saved-replies/"


def detail(reply_id: int) -> str:
    return f"{LIST}{reply_id}/"


def rows() -> list[Any]:
    return list(SavedReply.objects.order_by("id").values())


@pytest.fixture
def hello(manager_actor) -> SavedReply:
    return services.create_saved_reply(
        manager_actor, shortcut="hello", text="Hello {first_name}, this is {manager}."
    )


def send(client: Any, method: str, url: str, body: Any = None) -> Any:
    call = getattr(client, method.lower())
    if body is None:
        return call(url)
    # json.dumps keeps a lone surrogate as \ud800, as a client would send it.
    return call(url, json.dumps(body), content_type="application/json")


# -- what managers do -------------------------------------------------------------------


def test_a_manager_creates_lists_reads_changes_and_deletes(manager_client, manager):
    created = send(manager_client, "POST", LIST, {"shortcut": "thanks", "text": "Thank you!"})
    assert created.status_code == 201, created.content
    body = created.json()
    assert list(body) == ["id", "shortcut", "text", "created_by", "created_at", "updated_at"]
    assert (body["shortcut"], body["text"], body["created_by"]) == (
        "thanks",
        "Thank you!",
        manager.pk,
    )
    send(manager_client, "POST", LIST, {"shortcut": "a-first", "text": "A"})
    listed = manager_client.get(LIST).json()
    assert [r["shortcut"] for r in listed] == ["a-first", "thanks"]  # by shortcut
    assert manager_client.get(detail(body["id"])).json() == body
    changed = send(manager_client, "PATCH", detail(body["id"]), {"text": "Thanks, {first_name}!"})
    assert changed.status_code == 200
    assert changed.json()["text"] == "Thanks, {first_name}!"
    assert changed.json()["shortcut"] == "thanks"
    assert changed.json()["updated_at"] > body["updated_at"]
    renamed = send(manager_client, "PATCH", detail(body["id"]), {"shortcut": "ty"})
    assert renamed.json()["shortcut"] == "ty"
    assert manager_client.delete(detail(body["id"])).status_code == 204
    assert [r["shortcut"] for r in manager_client.get(LIST).json()] == ["a-first"]
    assert not Event.objects.exists()  # no events


def test_the_list_pages_like_tickets(manager_client, manager_actor):
    for name in ("c", "a", "b"):
        services.create_saved_reply(manager_actor, shortcut=name, text=name)
    page = manager_client.get(LIST + "?limit=2&offset=1")
    assert [r["shortcut"] for r in page.json()] == ["b", "c"]
    assert page["X-Total-Count"] == "3"


def test_a_patch_that_changes_nothing_writes_nothing(manager_client, hello):
    before = rows()
    for body in ({}, {"shortcut": "hello"}, {"text": hello.text}):
        response = send(manager_client, "PATCH", detail(hello.pk), body)
        assert response.status_code == 200, response.content
    assert rows() == before


def test_another_managers_reply_is_anyones_to_change(other_client, hello):
    response = send(other_client, "PATCH", detail(hello.pk), {"text": "Hi"})
    assert response.status_code == 200
    assert response.json()["created_by"] == hello.created_by_id


# -- who may ---------------------------------------------------------------------------

CALLS = [
    ("GET", "list", None),
    ("POST", "list", {"shortcut": "new", "text": "New"}),
    ("GET", "detail", None),
    ("PATCH", "detail", {"text": "Changed"}),
    ("DELETE", "detail", None),
]


@pytest.mark.parametrize(("method", "where", "body"), CALLS)
@pytest.mark.parametrize(
    ("who", "status", "code"),
    [
        ("manager_client", None, None),
        ("bot_client", 403, "permission_denied"),
        ("plain_client", 403, "permission_denied"),
        ("anon_client", 401, "not_authenticated"),
    ],
)
def test_the_permission_table(request, hello, method, where, body, who, status, code):
    client = request.getfixturevalue(who)
    url = LIST if where == "list" else detail(hello.pk)
    before = rows()
    response = send(client, method, url, body)
    if status is None:
        assert response.status_code < 300, response.content
        return
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert rows() == before


def test_a_bot_in_process_is_refused_too(bot_actor, hello):
    with pytest.raises(PermissionDenied):
        services.saved_replies(bot_actor)
    with pytest.raises(PermissionDenied):
        services.create_saved_reply(bot_actor, shortcut="x", text="y")


def test_a_staff_bot_acting_for_a_manager_may(manager, hello):
    key, _ = create_bot_key("staff", staff=True)
    actor = Actor.acting(manager, key)
    assert [r.shortcut for r in services.saved_replies(actor)] == ["hello"]


# -- refused, nothing changed ----------------------------------------------------------

BAD_CREATES = [
    pytest.param({"text": "x"}, "shortcut", id="no shortcut"),
    pytest.param({"shortcut": "x"}, "text", id="no text"),
    pytest.param({"shortcut": "", "text": "x"}, "shortcut", id="empty shortcut"),
    pytest.param({"shortcut": "Hello", "text": "x"}, "shortcut", id="upper case"),
    pytest.param({"shortcut": "-hi", "text": "x"}, "shortcut", id="starts with a dash"),
    pytest.param({"shortcut": "_hi", "text": "x"}, "shortcut", id="starts with an underscore"),
    pytest.param({"shortcut": "/hi", "text": "x"}, "shortcut", id="with the slash"),
    pytest.param({"shortcut": "hi there", "text": "x"}, "shortcut", id="a space"),
    pytest.param({"shortcut": "привет", "text": "x"}, "shortcut", id="not latin"),
    pytest.param({"shortcut": "a" * 33, "text": "x"}, "shortcut", id="33 characters"),
    pytest.param({"shortcut": 5, "text": "x"}, "shortcut", id="a number"),
    pytest.param({"shortcut": None, "text": "x"}, "shortcut", id="null"),
    pytest.param({"shortcut": "ok", "text": ""}, "text", id="empty text"),
    pytest.param({"shortcut": "ok", "text": "  \n"}, "text", id="blank text"),
    pytest.param({"shortcut": "ok", "text": "a" * 4097}, "text", id="text too long"),
    pytest.param({"shortcut": "ok", "text": "a\x00"}, "text", id="NUL"),
    pytest.param({"shortcut": "ok", "text": "a\ud800"}, "text", id="lone surrogate"),
    pytest.param({"shortcut": "ok", "text": ["x"]}, "text", id="a list"),
    pytest.param({"shortcut": "ok", "text": "x", "created_by": 1}, "created_by", id="unknown"),
]


@pytest.mark.parametrize(("body", "field"), BAD_CREATES)
def test_a_bad_create_is_refused_with_nothing_changed(manager_client, hello, body, field):
    before = rows()
    response = send(manager_client, "POST", LIST, body)
    assert (response.status_code, response.json()["code"]) == (400, "invalid"), response.content
    assert field in response.json()["errors"]
    assert rows() == before


@pytest.mark.parametrize(
    ("body", "field"),
    [p for p in BAD_CREATES if p.id not in ("no shortcut", "no text")],
)
def test_a_bad_patch_is_refused_with_nothing_changed(manager_client, hello, body, field):
    before = rows()
    response = send(manager_client, "PATCH", detail(hello.pk), body)
    assert (response.status_code, response.json()["code"]) == (400, "invalid"), response.content
    assert field in response.json()["errors"]
    assert rows() == before


@pytest.mark.parametrize("body", ["[]", "null", '"x"', "{"])
def test_a_body_that_is_not_an_object_is_refused(manager_client, hello, body):
    before = rows()
    response = manager_client.post(LIST, body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] in ("invalid", "bad_json")
    assert rows() == before


def test_a_taken_shortcut_is_409(manager_client, hello):
    other = services.create_saved_reply(
        Actor.for_manager(hello.created_by), shortcut="bye", text="Bye"
    )
    before = rows()
    created = send(manager_client, "POST", LIST, {"shortcut": "hello", "text": "Again"})
    assert (created.status_code, created.json()["code"]) == (409, "shortcut_taken")
    renamed = send(manager_client, "PATCH", detail(other.pk), {"shortcut": "hello", "text": "z"})
    assert (renamed.status_code, renamed.json()["code"]) == (409, "shortcut_taken")
    assert rows() == before


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
def test_an_unknown_reply_is_404(manager_client, hello, method):
    before = rows()
    response = send(
        manager_client, method, detail(hello.pk + 100), {} if method == "PATCH" else None
    )
    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    assert rows() == before


def test_the_service_applies_the_rules_to_in_process_callers(manager_actor, hello):
    for shortcut, text in [("Bad", "x"), ("ok", ""), (None, "x"), ("ok", None), ("ok", 5)]:
        with pytest.raises(Invalid):
            services.create_saved_reply(manager_actor, shortcut=shortcut, text=text)
    with pytest.raises(Invalid):
        services.saved_reply(manager_actor, "1")
    assert [r.shortcut for r in SavedReply.objects.all()] == ["hello"]


# -- the admin -------------------------------------------------------------------------


def test_the_admin_adds_searches_and_refuses_a_bad_shortcut(admin_client, manager):
    admin = User.objects.get(username="admin")
    added = admin_client.post(
        "/admin/support/savedreply/add/", {"shortcut": "refund", "text": "We refund you."}
    )
    assert added.status_code == 302, added.content
    reply = SavedReply.objects.get(shortcut="refund")
    assert reply.created_by_id == admin.pk
    found = admin_client.get("/admin/support/savedreply/?q=refund")
    assert "We refund you." in found.content.decode()
    refused = admin_client.post(
        "/admin/support/savedreply/add/", {"shortcut": "Bad One", "text": "x"}
    )
    assert refused.status_code == 200  # the form again, with the error
    assert SavedReply.objects.count() == 1
    changed = admin_client.post(
        f"/admin/support/savedreply/{reply.pk}/change/", {"shortcut": "refund", "text": "New"}
    )
    assert changed.status_code == 302
    assert SavedReply.objects.get(pk=reply.pk).text == "New"
    deleted = admin_client.post(f"/admin/support/savedreply/{reply.pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 302
    assert not SavedReply.objects.exists()


def test_the_schema_states_the_rules(anon_client):
    document = schema_document(anon_client)
    components = document["components"]["schemas"]
    create = components["SavedReplyInput"]
    assert create["required"] == ["shortcut", "text"]
    assert create["additionalProperties"] is False
    assert create["properties"]["shortcut"]["pattern"] == inputs.SHORTCUT_PATTERN
    assert create["properties"]["shortcut"]["maxLength"] == 32
    assert create["properties"]["text"]["maxLength"] == 4096
    assert "required" not in components["PatchedSavedReplyUpdateInput"]
    listed = document["paths"]["/saved-replies/"]["get"]["responses"]["200"]
    page = resolve(document, listed["content"]["application/json"]["schema"])
    assert page["type"] == "array"  # a plain list, paged or not, as tickets/
    reply = resolve(document, page["items"])
    assert list(reply["properties"]) == [
        "id", "shortcut", "text", "created_by", "created_at", "updated_at"
    ]  # fmt: skip

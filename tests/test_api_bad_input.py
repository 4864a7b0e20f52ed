"""Every write endpoint against a table of bad input.

Each row must answer its documented status and ``code`` in the one error
format, and leave the database exactly as it was: tickets, messages, Telegram
users and the event log.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from support.botkeys import create_bot_key
from support.services import revoke_bot_key
from tests.conftest import Desk, snapshot, token_client

LONG_TEXT = "x" * 4097
LONG_TITLE = "t" * 257


@dataclass
class World(Desk):
    clients: dict[str, APIClient]


@pytest.fixture
def world(desk, plain_user, manager, bot_key) -> World:
    revoked, revoked_raw = create_bot_key("old-bot")
    revoke_bot_key(revoked)
    clients = {
        "anon": APIClient(),
        "plain": token_client(plain_user),
        "manager": token_client(manager),
        "bot": APIClient(),
        "revoked": APIClient(),
    }
    clients["bot"].credentials(HTTP_AUTHORIZATION=f"Api-Key {bot_key[1]}")
    clients["revoked"].credentials(HTTP_AUTHORIZATION=f"Api-Key {revoked_raw}")
    return World(desk.open, desk.mine, desk.others, desk.resolved, clients)


# Each case: the request (caller, method, path, body), then the answer it must get
# (status, code) and the case's name; {open} etc. in a path name a World ticket.
CREATE = "/support/tickets/"
MESSAGES = "/support/tickets/{open}/messages/"
CASES = [
    # -- POST tickets/ -----------------------------------------------------------------
    pytest.param("bot", "post", CREATE, {"title": "t"},
                 400, "invalid", id="create: missing user_id"),
    pytest.param("bot", "post", CREATE, {"user_id": 5},
                 400, "invalid", id="create: missing title"),
    pytest.param("bot", "post", CREATE, {"user_id": 5, "title": "t", "resolved": True},
                 400, "invalid", id="create: extra field"),
    pytest.param("bot", "post", CREATE, {"user_id": "5", "title": "t"},
                 400, "invalid", id="create: user_id as string"),
    pytest.param("bot", "post", CREATE, {"user_id": True, "title": "t"},
                 400, "invalid", id="create: user_id as bool"),
    pytest.param("bot", "post", CREATE, {"user_id": 2**70, "title": "t"},
                 400, "invalid", id="create: user_id too big"),
    pytest.param("bot", "post", CREATE, {"user_id": 2**63, "title": "t"},
                 400, "invalid", id="create: user_id one past int64"),
    pytest.param("bot", "post", CREATE, {"user_id": -(2**63) - 1, "title": "t"},
                 400, "invalid", id="create: user_id one below int64"),
    pytest.param("bot", "post", CREATE, "null",
                 400, "invalid", id="create: null body"),
    pytest.param("bot", "post", CREATE, {"user_id": 5, "title": "t" * 256 + " "},
                 400, "invalid", id="create: 257 chars as sent (stored stripped)"),
    pytest.param("bot", "post", CREATE, {"user_id": 5, "title": "\u3000\u2028\x1c"},
                 400, "invalid", id="create: title of Unicode whitespace"),
    pytest.param("bot", "post", CREATE, {"user_id": 5, "title": "t", "text": "a\x00b"},
                 400, "invalid", id="create: NUL in text"),
    pytest.param("bot", "post", CREATE, '{"user_id": 5, "title": "t\\ud800"}',
                 400, "invalid", id="create: lone surrogate in title"),
    pytest.param("bot", "post", CREATE, {"user_id": 5, "title": 7},
                 400, "invalid", id="create: title as number"),
    pytest.param("bot", "post", CREATE, {"user_id": 5, "title": ""},
                 400, "invalid", id="create: empty title"),
    pytest.param("bot", "post", CREATE, {"user_id": 5, "title": "   "},
                 400, "invalid", id="create: blank title"),
    pytest.param("bot", "post", CREATE, {"user_id": 5, "title": LONG_TITLE},
                 400, "invalid", id="create: 257-char title"),
    pytest.param("bot", "post", CREATE, {"user_id": 5, "title": "t", "text": ""},
                 400, "invalid", id="create: empty text"),
    pytest.param("bot", "post", CREATE, {"user_id": 5, "title": "t", "text": LONG_TEXT},
                 400, "invalid", id="create: 4097-char text"),
    pytest.param("bot", "post", CREATE, {"user_id": 5, "title": "t", "text": ["a"]},
                 400, "invalid", id="create: text as list"),
    pytest.param("bot", "post", CREATE, [1, 2],
                 400, "invalid", id="create: body is a list"),
    pytest.param("bot", "post", CREATE, "{oops",
                 400, "bad_json", id="create: malformed JSON"),
    pytest.param("bot", "post", CREATE, "[" * 5000,
                 400, "bad_json", id="create: JSON nested too deeply"),
    pytest.param("manager", "post", CREATE, {"user_id": 5, "title": "t"},
                 403, "permission_denied", id="create: manager's credential"),
    pytest.param("anon", "post", CREATE, {"user_id": 5, "title": "t"},
                 401, "not_authenticated", id="create: anonymous"),
    pytest.param("plain", "post", CREATE, {"user_id": 5, "title": "t"},
                 403, "permission_denied", id="create: non-manager user"),
    pytest.param("revoked", "post", CREATE, {"user_id": 5, "title": "t"},
                 401, "not_authenticated", id="create: revoked key"),
    pytest.param("bot", "post", CREATE, {"user_id": 5, "title": "t", "idempotency_key": 1},
                 400, "invalid", id="create: key as number"),
    pytest.param("bot", "post", CREATE, {"user_id": 5, "title": "t", "idempotency_key": ""},
                 400, "invalid", id="create: empty key"),
    pytest.param("bot", "post", CREATE, {"user_id": 5, "title": "t", "idempotency_key": "k" * 129},
                 400, "invalid", id="create: 129-char key"),

    # -- POST tickets/{id}/messages/ ---------------------------------------------------
    pytest.param("bot", "post", MESSAGES, {},
                 400, "invalid", id="message: missing text"),
    pytest.param("bot", "post", MESSAGES, {"text": ""},
                 400, "invalid", id="message: empty text"),
    pytest.param("manager", "post", MESSAGES, {"text": " \n "},
                 400, "invalid", id="message: blank text"),
    pytest.param("bot", "post", MESSAGES, {"text": LONG_TEXT},
                 400, "invalid", id="message: 4097-char text"),
    pytest.param("bot", "post", MESSAGES, "null",
                 400, "invalid", id="message: null body"),
    pytest.param("bot", "post", MESSAGES, {"text": None},
                 400, "invalid", id="message: null text"),
    pytest.param("bot", "post", MESSAGES, {"text": "\x00"},
                 400, "invalid", id="message: NUL text"),
    pytest.param("bot", "post", MESSAGES, {"text": "hi", "idempotency_key": " "},
                 400, "invalid", id="message: blank key"),
    pytest.param("bot", "post", MESSAGES, {"text": 42},
                 400, "invalid", id="message: text as number"),
    pytest.param("bot", "post", MESSAGES, {"text": "hi", "viewed": True},
                 400, "invalid", id="message: extra field"),
    pytest.param("bot", "post", MESSAGES, {"text": "hi", "idempotency_key": 1},
                 400, "invalid", id="message: key as number"),
    pytest.param("bot", "post", MESSAGES, {"text": "hi", "idempotency_key": ""},
                 400, "invalid", id="message: empty key"),
    pytest.param("bot", "post", MESSAGES, {"text": "hi", "idempotency_key": "k" * 129},
                 400, "invalid", id="message: 129-char key"),
    pytest.param("bot", "post", MESSAGES, {"text": "hi", "sender": "bot"},
                 400, "invalid", id="message: unknown sender value"),
    pytest.param("bot", "post", MESSAGES, {"text": "hi", "sender": "supp"},
                 403, "permission_denied", id="message: bot posing as support"),
    pytest.param("manager", "post", MESSAGES, {"text": "hi", "sender": "user"},
                 403, "permission_denied", id="message: manager posing as user"),
    pytest.param("bot", "post", "/support/tickets/999999/messages/", {"text": "hi"},
                 404, "not_found", id="message: unknown ticket"),
    pytest.param("bot", "post", "/support/tickets/{resolved}/messages/", {"text": "hi"},
                 409, "ticket_resolved", id="message: user on resolved ticket"),
    pytest.param("manager", "post", "/support/tickets/{resolved}/messages/", {"text": "hi"},
                 409, "ticket_resolved", id="message: manager on resolved ticket"),
    pytest.param("manager", "post", "/support/tickets/{others}/messages/", {"text": "hi"},
                 409, "assigned_to_other", id="message: another manager's ticket"),
    pytest.param("manager", "post", MESSAGES, '{"text": ',
                 400, "bad_json", id="message: malformed JSON"),
    pytest.param("anon", "post", MESSAGES, {"text": "hi"},
                 401, "not_authenticated", id="message: anonymous"),
    pytest.param("plain", "post", MESSAGES, {"text": "hi"},
                 403, "permission_denied", id="message: non-manager user"),
    pytest.param("revoked", "post", MESSAGES, {"text": "hi"},
                 401, "not_authenticated", id="message: revoked key"),

    # -- assign / unassign / resolve / reopen ------------------------------------------
    pytest.param("bot", "post", "/support/tickets/{open}/assign/", None,
                 403, "permission_denied", id="assign: bot"),
    pytest.param("manager", "post", "/support/tickets/{others}/assign/", None,
                 409, "already_assigned", id="assign: another manager's ticket"),
    pytest.param("manager", "post", "/support/tickets/{resolved}/assign/", None,
                 409, "ticket_resolved", id="assign: resolved ticket"),
    pytest.param("manager", "post", "/support/tickets/999999/assign/", None,
                 404, "not_found", id="assign: unknown ticket"),
    pytest.param("manager", "post", "/support/tickets/{open}/assign/", {"manager": 3},
                 400, "invalid", id="assign: unexpected body field"),
    pytest.param("manager", "post", "/support/tickets/{open}/assign/", "null",
                 400, "invalid", id="assign: null body"),
    pytest.param("manager", "post", "/support/tickets/{open}/assign/", [],
                 400, "invalid", id="assign: a list body"),
    pytest.param("anon", "post", "/support/tickets/{open}/assign/", None,
                 401, "not_authenticated", id="assign: anonymous"),
    pytest.param("plain", "post", "/support/tickets/{open}/assign/", None,
                 403, "permission_denied", id="assign: non-manager user"),
    pytest.param("manager", "post", "/support/tickets/{others}/unassign/", None,
                 409, "assigned_to_other", id="unassign: another manager's ticket"),
    pytest.param("bot", "post", "/support/tickets/{mine}/unassign/", None,
                 403, "permission_denied", id="unassign: bot"),
    pytest.param("manager", "post", "/support/tickets/999999/unassign/", None,
                 404, "not_found", id="unassign: unknown ticket"),
    pytest.param("manager", "post", "/support/tickets/{others}/resolve/", None,
                 409, "assigned_to_other", id="resolve: another manager's ticket"),
    pytest.param("bot", "post", "/support/tickets/999999/resolve/", None,
                 404, "not_found", id="resolve: unknown ticket"),
    pytest.param("revoked", "post", "/support/tickets/{open}/resolve/", None,
                 401, "not_authenticated", id="resolve: revoked key"),
    pytest.param("bot", "post", "/support/tickets/999999/reopen/", None,
                 404, "not_found", id="reopen: unknown ticket"),
    pytest.param("anon", "post", "/support/tickets/{resolved}/reopen/", None,
                 401, "not_authenticated", id="reopen: anonymous"),
    pytest.param("plain", "post", "/support/tickets/{resolved}/reopen/", None,
                 403, "permission_denied", id="reopen: non-manager user"),

    # -- PATCH tickets/{id}/ -----------------------------------------------------------
    pytest.param("bot", "patch", "/support/tickets/{open}/", {"resolved": "true"},
                 400, "invalid", id="patch: resolved as string"),
    pytest.param("bot", "patch", "/support/tickets/{open}/", {"title": ""},
                 400, "invalid", id="patch: empty title"),
    pytest.param("bot", "patch", "/support/tickets/{open}/", {"title": LONG_TITLE},
                 400, "invalid", id="patch: 257-char title"),
    pytest.param("manager", "patch", "/support/tickets/{open}/", {"support_manager": 1},
                 400, "invalid", id="patch: read-only field"),
    pytest.param("manager", "patch", "/support/tickets/{open}/", {"viewed": False},
                 400, "invalid", id="patch: viewed false (viewed messages stay viewed)"),
    pytest.param("manager", "patch", "/support/tickets/{open}/", "null",
                 400, "invalid", id="patch: null body"),
    pytest.param("manager", "patch", "/support/tickets/{open}/", {"viewed": None},
                 400, "invalid", id="patch: viewed null"),
    pytest.param("bot", "patch", "/support/tickets/{open}/", {"title": " \t "},
                 400, "invalid", id="patch: blank title"),
    pytest.param("manager", "patch", "/support/tickets/{open}/", {"viewed": "true"},
                 400, "invalid", id="patch: viewed as string"),
    pytest.param("manager", "patch", "/support/tickets/{open}/", {"user_id": 5, "viewed": True},
                 400, "invalid", id="patch: user_id (1.2.0 let a ticket change hands)"),
    pytest.param("manager", "patch", "/support/tickets/{others}/", {"viewed": True},
                 409, "assigned_to_other", id="patch: viewed on another manager's ticket"),
    pytest.param("manager", "patch", "/support/tickets/{others}/", {"resolved": True},
                 409, "assigned_to_other", id="patch: another manager's ticket"),
    pytest.param("bot", "patch", "/support/tickets/999999/", {"resolved": True},
                 404, "not_found", id="patch: unknown ticket"),
    pytest.param("anon", "patch", "/support/tickets/{open}/", {"resolved": True},
                 401, "not_authenticated", id="patch: anonymous"),
    pytest.param("bot", "put", "/support/tickets/{open}/", {"title": "x"},
                 405, "method_not_allowed", id="put is not allowed"),
    pytest.param("manager", "delete", "/support/tickets/{open}/", None,
                 405, "method_not_allowed", id="delete is not allowed"),

    # -- users/{telegram_id}/block/, unblock/ (tg_user is 123), tickets/{id}/rating/ ----
    pytest.param("revoked", "post", "/support/users/123/block/", {"reason": "spam"},
                 401, "not_authenticated", id="block: revoked key"),
    pytest.param("bot", "post", "/support/users/123/block/", {"reason": "spam"},
                 403, "permission_denied", id="block: a bot"),
    pytest.param("manager", "post", "/support/users/123/block/", {"reason": 1},
                 400, "invalid", id="block: reason as number"),
    pytest.param("manager", "post", "/support/users/123/block/", "null",
                 400, "invalid", id="block: null body"),
    pytest.param("manager", "post", "/support/users/123/unblock/", {"reason": "x"},
                 400, "invalid", id="unblock: extra field"),
    pytest.param("manager", "post", "/support/users/124/block/", {"reason": "x"},
                 404, "not_found", id="block: a user never seen"),
    pytest.param("revoked", "post", "/support/tickets/{resolved}/rating/", {"score": 5},
                 401, "not_authenticated", id="rating: revoked key"),
    pytest.param("manager", "post", "/support/tickets/{resolved}/rating/", {"score": 5},
                 403, "permission_denied", id="rating: a manager"),
    pytest.param("bot", "post", "/support/tickets/{resolved}/rating/", {"score": 0},
                 400, "invalid", id="rating: score 0"),
    pytest.param("bot", "post", "/support/tickets/{open}/rating/", {"score": 5},
                 409, "ticket_not_resolved", id="rating: an open ticket"),
    pytest.param("bot", "patch", "/support/tickets/{resolved}/rating/", {"comment": "x"},
                 404, "not_found", id="rating comment: no rating yet"),

    # -- POST tickets/{id}/messages/viewed/ --------------------------------------------
    pytest.param("manager", "post", "/support/tickets/{open}/messages/viewed/", {"up_to": "5"},
                 400, "invalid", id="viewed: up_to as string"),
    pytest.param("bot", "post", "/support/tickets/{open}/messages/viewed/", {"up_to": True},
                 400, "invalid", id="viewed: up_to as bool"),
    pytest.param("bot", "post", "/support/tickets/{open}/messages/viewed/", {"up_to": 2**63},
                 400, "invalid", id="viewed: up_to one past int64 (never reaches the database)"),
    pytest.param("bot", "post", "/support/tickets/{open}/messages/viewed/", {"up_to": -(2**70)},
                 400, "invalid", id="viewed: up_to far below int64"),
    pytest.param("bot", "post", "/support/tickets/{open}/messages/viewed/", "null",
                 400, "invalid", id="viewed: null body"),
    pytest.param("bot", "post", "/support/tickets/{open}/messages/viewed/", {"ids": [1]},
                 400, "invalid", id="viewed: extra field"),
    pytest.param("manager", "post", "/support/tickets/{others}/messages/viewed/", None,
                 409, "assigned_to_other", id="viewed: another manager's ticket"),
    pytest.param("manager", "post", "/support/tickets/999999/messages/viewed/", None,
                 404, "not_found", id="viewed: unknown ticket"),
    pytest.param("anon", "post", "/support/tickets/{open}/messages/viewed/", None,
                 401, "not_authenticated", id="viewed: anonymous"),
]  # fmt: skip


@pytest.mark.parametrize(("caller", "method", "path", "body", "status", "code"), CASES)
def test_bad_write_is_refused_and_changes_nothing(world, caller, method, path, body, status, code):
    url = path.format(
        open=world.open.pk, mine=world.mine.pk, others=world.others.pk, resolved=world.resolved.pk
    )
    before = snapshot()
    payload = body if isinstance(body, str) else (json.dumps(body) if body is not None else "")
    response = getattr(world.clients[caller], method)(
        url, data=payload, content_type="application/json"
    )
    assert response.status_code == status, response.content
    error = response.json()
    assert error["code"] == code
    assert isinstance(error["detail"], str)
    assert error["detail"]
    if code == "invalid":
        assert error["errors"]
    assert snapshot() == before


@override_settings(SUPPORT_TELEGRAM_USER_MODEL="zz_users.StrictTelegramUser")
def test_unknown_user_that_cannot_be_created_is_400(world):
    before = snapshot()
    response = world.clients["bot"].post(CREATE, {"user_id": 555, "title": "t"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "unknown_user"
    assert snapshot() == before


def test_csrf_is_enforced_for_session_writes(manager, world):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(manager)
    before = snapshot()
    response = client.post(f"/support/tickets/{world.open.pk}/assign/")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert "CSRF" in response.json()["detail"]
    assert snapshot() == before


@pytest.mark.parametrize(
    "content_type", ["multipart/form-data", "application/x-www-form-urlencoded"]
)
@pytest.mark.parametrize(
    ("method", "path"),
    [("post", "/support/tickets/{open}/resolve/"), ("patch", "/support/tickets/{open}/")],
)
def test_a_form_without_a_body_is_an_empty_body(world, method, path, content_type):
    """A JSON endpoint sent a form Content-Type and no body (schemathesis' check of
    undeclared media types sends this): DRF hands any view an empty form then, and it is
    the empty body it is, not a multipart form's rules nor a 500."""
    url = path.format(open=world.open.pk)
    response = getattr(world.clients["bot"], method)(url, data=b"", content_type=content_type)
    assert response.status_code == 200, response.content

"""Every write endpoint against a table of bad input.

Each row must answer its documented status and ``code`` in the one error
format, and leave the database exactly as it was: tickets, messages, Telegram
users and the event log.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

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


# (caller, method, path, body, status, code); {open} etc. name a World ticket.
CREATE = "/support/tickets/"
MESSAGES = "/support/tickets/{open}/messages/"
CASES: list[tuple[str, str, str, str, Any, int, str]] = [
    # -- POST tickets/ ----------------------------------------------------------
    ("create: missing user_id", "bot", "post", CREATE, {"title": "t"}, 400, "invalid"),
    ("create: missing title", "bot", "post", CREATE, {"user_id": 5}, 400, "invalid"),
    (
        "create: extra field",
        "bot",
        "post",
        CREATE,
        {"user_id": 5, "title": "t", "resolved": True},
        400,
        "invalid",
    ),
    (
        "create: user_id as string",
        "bot",
        "post",
        CREATE,
        {"user_id": "5", "title": "t"},
        400,
        "invalid",
    ),
    (
        "create: user_id as bool",
        "bot",
        "post",
        CREATE,
        {"user_id": True, "title": "t"},
        400,
        "invalid",
    ),
    (
        "create: user_id too big",
        "bot",
        "post",
        CREATE,
        {"user_id": 2**70, "title": "t"},
        400,
        "invalid",
    ),
    ("create: title as number", "bot", "post", CREATE, {"user_id": 5, "title": 7}, 400, "invalid"),
    ("create: empty title", "bot", "post", CREATE, {"user_id": 5, "title": ""}, 400, "invalid"),
    ("create: blank title", "bot", "post", CREATE, {"user_id": 5, "title": "   "}, 400, "invalid"),
    (
        "create: 257-char title",
        "bot",
        "post",
        CREATE,
        {"user_id": 5, "title": LONG_TITLE},
        400,
        "invalid",
    ),
    (
        "create: empty text",
        "bot",
        "post",
        CREATE,
        {"user_id": 5, "title": "t", "text": ""},
        400,
        "invalid",
    ),
    (
        "create: 4097-char text",
        "bot",
        "post",
        CREATE,
        {"user_id": 5, "title": "t", "text": LONG_TEXT},
        400,
        "invalid",
    ),
    (
        "create: text as list",
        "bot",
        "post",
        CREATE,
        {"user_id": 5, "title": "t", "text": ["a"]},
        400,
        "invalid",
    ),
    ("create: body is a list", "bot", "post", CREATE, [1, 2], 400, "invalid"),
    ("create: malformed JSON", "bot", "post", CREATE, "{oops", 400, "bad_json"),
    ("create: JSON nested too deeply", "bot", "post", CREATE, "[" * 5000, 400, "bad_json"),
    (
        "create: manager's credential",
        "manager",
        "post",
        CREATE,
        {"user_id": 5, "title": "t"},
        403,
        "permission_denied",
    ),
    (
        "create: anonymous",
        "anon",
        "post",
        CREATE,
        {"user_id": 5, "title": "t"},
        401,
        "not_authenticated",
    ),
    (
        "create: non-manager user",
        "plain",
        "post",
        CREATE,
        {"user_id": 5, "title": "t"},
        403,
        "permission_denied",
    ),
    (
        "create: revoked key",
        "revoked",
        "post",
        CREATE,
        {"user_id": 5, "title": "t"},
        401,
        "not_authenticated",
    ),
    (
        "create: key as number",
        "bot",
        "post",
        CREATE,
        {"user_id": 5, "title": "t", "idempotency_key": 1},
        400,
        "invalid",
    ),
    (
        "create: empty key",
        "bot",
        "post",
        CREATE,
        {"user_id": 5, "title": "t", "idempotency_key": ""},
        400,
        "invalid",
    ),
    (
        "create: 129-char key",
        "bot",
        "post",
        CREATE,
        {"user_id": 5, "title": "t", "idempotency_key": "k" * 129},
        400,
        "invalid",
    ),
    # -- POST tickets/{id}/messages/ --------------------------------------------------
    ("message: missing text", "bot", "post", MESSAGES, {}, 400, "invalid"),
    ("message: empty text", "bot", "post", MESSAGES, {"text": ""}, 400, "invalid"),
    ("message: blank text", "manager", "post", MESSAGES, {"text": " \n "}, 400, "invalid"),
    ("message: 4097-char text", "bot", "post", MESSAGES, {"text": LONG_TEXT}, 400, "invalid"),
    ("message: text as number", "bot", "post", MESSAGES, {"text": 42}, 400, "invalid"),
    (
        "message: extra field",
        "bot",
        "post",
        MESSAGES,
        {"text": "hi", "viewed": True},
        400,
        "invalid",
    ),
    (
        "message: key as number",
        "bot",
        "post",
        MESSAGES,
        {"text": "hi", "idempotency_key": 1},
        400,
        "invalid",
    ),
    (
        "message: empty key",
        "bot",
        "post",
        MESSAGES,
        {"text": "hi", "idempotency_key": ""},
        400,
        "invalid",
    ),
    (
        "message: 129-char key",
        "bot",
        "post",
        MESSAGES,
        {"text": "hi", "idempotency_key": "k" * 129},
        400,
        "invalid",
    ),
    (
        "message: unknown sender value",
        "bot",
        "post",
        MESSAGES,
        {"text": "hi", "sender": "bot"},
        400,
        "invalid",
    ),
    (
        "message: bot posing as support",
        "bot",
        "post",
        MESSAGES,
        {"text": "hi", "sender": "supp"},
        403,
        "permission_denied",
    ),
    (
        "message: manager posing as user",
        "manager",
        "post",
        MESSAGES,
        {"text": "hi", "sender": "user"},
        403,
        "permission_denied",
    ),
    (
        "message: unknown ticket",
        "bot",
        "post",
        "/support/tickets/999999/messages/",
        {"text": "hi"},
        404,
        "not_found",
    ),
    (
        "message: user on resolved ticket",
        "bot",
        "post",
        "/support/tickets/{resolved}/messages/",
        {"text": "hi"},
        409,
        "ticket_resolved",
    ),
    (
        "message: manager on resolved ticket",
        "manager",
        "post",
        "/support/tickets/{resolved}/messages/",
        {"text": "hi"},
        409,
        "ticket_resolved",
    ),
    (
        "message: another manager's ticket",
        "manager",
        "post",
        "/support/tickets/{others}/messages/",
        {"text": "hi"},
        409,
        "assigned_to_other",
    ),
    ("message: malformed JSON", "manager", "post", MESSAGES, '{"text": ', 400, "bad_json"),
    ("message: anonymous", "anon", "post", MESSAGES, {"text": "hi"}, 401, "not_authenticated"),
    (
        "message: non-manager user",
        "plain",
        "post",
        MESSAGES,
        {"text": "hi"},
        403,
        "permission_denied",
    ),
    ("message: revoked key", "revoked", "post", MESSAGES, {"text": "hi"}, 401, "not_authenticated"),
    # -- assign / unassign / resolve / reopen ---------------------------------------
    (
        "assign: bot",
        "bot",
        "post",
        "/support/tickets/{open}/assign/",
        None,
        403,
        "permission_denied",
    ),
    (
        "assign: another manager's ticket",
        "manager",
        "post",
        "/support/tickets/{others}/assign/",
        None,
        409,
        "already_assigned",
    ),
    (
        "assign: resolved ticket",
        "manager",
        "post",
        "/support/tickets/{resolved}/assign/",
        None,
        409,
        "ticket_resolved",
    ),
    (
        "assign: unknown ticket",
        "manager",
        "post",
        "/support/tickets/999999/assign/",
        None,
        404,
        "not_found",
    ),
    (
        "assign: unexpected body field",
        "manager",
        "post",
        "/support/tickets/{open}/assign/",
        {"manager": 3},
        400,
        "invalid",
    ),
    (
        "assign: anonymous",
        "anon",
        "post",
        "/support/tickets/{open}/assign/",
        None,
        401,
        "not_authenticated",
    ),
    (
        "assign: non-manager user",
        "plain",
        "post",
        "/support/tickets/{open}/assign/",
        None,
        403,
        "permission_denied",
    ),
    (
        "unassign: another manager's ticket",
        "manager",
        "post",
        "/support/tickets/{others}/unassign/",
        None,
        409,
        "assigned_to_other",
    ),
    (
        "unassign: bot",
        "bot",
        "post",
        "/support/tickets/{mine}/unassign/",
        None,
        403,
        "permission_denied",
    ),
    (
        "unassign: unknown ticket",
        "manager",
        "post",
        "/support/tickets/999999/unassign/",
        None,
        404,
        "not_found",
    ),
    (
        "resolve: another manager's ticket",
        "manager",
        "post",
        "/support/tickets/{others}/resolve/",
        None,
        409,
        "assigned_to_other",
    ),
    (
        "resolve: unknown ticket",
        "bot",
        "post",
        "/support/tickets/999999/resolve/",
        None,
        404,
        "not_found",
    ),
    (
        "resolve: revoked key",
        "revoked",
        "post",
        "/support/tickets/{open}/resolve/",
        None,
        401,
        "not_authenticated",
    ),
    (
        "reopen: unknown ticket",
        "bot",
        "post",
        "/support/tickets/999999/reopen/",
        None,
        404,
        "not_found",
    ),
    (
        "reopen: anonymous",
        "anon",
        "post",
        "/support/tickets/{resolved}/reopen/",
        None,
        401,
        "not_authenticated",
    ),
    (
        "reopen: non-manager user",
        "plain",
        "post",
        "/support/tickets/{resolved}/reopen/",
        None,
        403,
        "permission_denied",
    ),
    # -- PATCH tickets/{id}/ ----------------------------------------------------------
    (
        "patch: resolved as string",
        "bot",
        "patch",
        "/support/tickets/{open}/",
        {"resolved": "true"},
        400,
        "invalid",
    ),
    (
        "patch: empty title",
        "bot",
        "patch",
        "/support/tickets/{open}/",
        {"title": ""},
        400,
        "invalid",
    ),
    (
        "patch: 257-char title",
        "bot",
        "patch",
        "/support/tickets/{open}/",
        {"title": LONG_TITLE},
        400,
        "invalid",
    ),
    (
        "patch: read-only field",
        "manager",
        "patch",
        "/support/tickets/{open}/",
        {"support_manager": 1},
        400,
        "invalid",
    ),
    (
        "patch: viewed false (viewed messages stay viewed)",
        "manager",
        "patch",
        "/support/tickets/{open}/",
        {"viewed": False},
        400,
        "invalid",
    ),
    (
        "patch: viewed as string",
        "manager",
        "patch",
        "/support/tickets/{open}/",
        {"viewed": "true"},
        400,
        "invalid",
    ),
    (
        "patch: user_id (1.2.0 let a ticket change hands)",
        "manager",
        "patch",
        "/support/tickets/{open}/",
        {"user_id": 5, "viewed": True},
        400,
        "invalid",
    ),
    (
        "patch: viewed on another manager's ticket",
        "manager",
        "patch",
        "/support/tickets/{others}/",
        {"viewed": True},
        409,
        "assigned_to_other",
    ),
    (
        "patch: another manager's ticket",
        "manager",
        "patch",
        "/support/tickets/{others}/",
        {"resolved": True},
        409,
        "assigned_to_other",
    ),
    (
        "patch: unknown ticket",
        "bot",
        "patch",
        "/support/tickets/999999/",
        {"resolved": True},
        404,
        "not_found",
    ),
    (
        "patch: anonymous",
        "anon",
        "patch",
        "/support/tickets/{open}/",
        {"resolved": True},
        401,
        "not_authenticated",
    ),
    (
        "put is not allowed",
        "bot",
        "put",
        "/support/tickets/{open}/",
        {"title": "x"},
        405,
        "method_not_allowed",
    ),
    (
        "delete is not allowed",
        "manager",
        "delete",
        "/support/tickets/{open}/",
        None,
        405,
        "method_not_allowed",
    ),
    # -- POST tickets/{id}/messages/viewed/ -------------------------------------------
    (
        "viewed: up_to as string",
        "manager",
        "post",
        "/support/tickets/{open}/messages/viewed/",
        {"up_to": "5"},
        400,
        "invalid",
    ),
    (
        "viewed: up_to as bool",
        "bot",
        "post",
        "/support/tickets/{open}/messages/viewed/",
        {"up_to": True},
        400,
        "invalid",
    ),
    (
        "viewed: extra field",
        "bot",
        "post",
        "/support/tickets/{open}/messages/viewed/",
        {"ids": [1]},
        400,
        "invalid",
    ),
    (
        "viewed: another manager's ticket",
        "manager",
        "post",
        "/support/tickets/{others}/messages/viewed/",
        None,
        409,
        "assigned_to_other",
    ),
    (
        "viewed: unknown ticket",
        "manager",
        "post",
        "/support/tickets/999999/messages/viewed/",
        None,
        404,
        "not_found",
    ),
    (
        "viewed: anonymous",
        "anon",
        "post",
        "/support/tickets/{open}/messages/viewed/",
        None,
        401,
        "not_authenticated",
    ),
]


@pytest.mark.parametrize(
    ("caller", "method", "path", "body", "status", "code"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
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


def test_idempotent_replay_returns_the_first_message_and_emits_nothing(world):
    bot = world.clients["bot"]
    url = f"/support/tickets/{world.open.pk}/messages/"
    first = bot.post(url, {"text": "hi", "idempotency_key": "tg-5501"}, format="json")
    assert first.status_code == 201
    before = snapshot()
    replay = bot.post(url, {"text": "hi (retried)", "idempotency_key": "tg-5501"}, format="json")
    assert replay.status_code == 200
    assert replay.json() == first.json()
    assert snapshot() == before


def test_idempotency_key_of_the_other_side_is_a_conflict(world):
    url = f"/support/tickets/{world.mine.pk}/messages/"
    assert (
        world.clients["bot"]
        .post(url, {"text": "hi", "idempotency_key": "k1"}, format="json")
        .status_code
        == 201
    )
    before = snapshot()
    response = world.clients["manager"].post(
        url, {"text": "hi", "idempotency_key": "k1"}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_conflict"
    assert snapshot() == before


def test_replayed_ticket_key_returns_the_first_ticket_and_emits_nothing(world):
    bot = world.clients["bot"]
    body = {"user_id": 77, "title": "Bug", "text": "It fails", "idempotency_key": "tg-77-1"}
    first = bot.post(CREATE, body, format="json")
    assert first.status_code == 201
    before = snapshot()
    replay = bot.post(CREATE, {**body, "title": "Bug (retried)"}, format="json")
    assert replay.status_code == 200
    assert replay.json() == first.json()
    assert snapshot() == before


def test_ticket_keys_belong_to_the_bot_key_that_used_them(world):
    body = {"user_id": 77, "title": "Bug", "idempotency_key": "tg-77-1"}
    first = world.clients["bot"].post(CREATE, body, format="json")
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Api-Key {create_bot_key('other-bot')[1]}")
    second = other.post(CREATE, body, format="json")
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["id"] != second.json()["id"]


def test_ticket_key_reused_for_another_user_is_a_conflict(world):
    bot = world.clients["bot"]
    assert (
        bot.post(
            CREATE, {"user_id": 77, "title": "t", "idempotency_key": "k1"}, format="json"
        ).status_code
        == 201
    )
    before = snapshot()
    response = bot.post(
        CREATE, {"user_id": 78, "title": "t", "idempotency_key": "k1"}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_conflict"
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

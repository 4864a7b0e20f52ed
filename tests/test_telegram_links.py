"""Managers' Telegram links, staff bots acting for them, and tickets' staff-group topics.

The service layer first (codes, confirmation, acting, topics), then the REST
API with its tables of bad input, then the credential memo (each change that
withdraws acting applies on the next request), then the streams' refusal.
"""

from __future__ import annotations

import re
import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from support import services, telegram_links
from support.actors import Actor, Credential
from support.botkeys import create_bot_key
from support.exceptions import (
    AssignedToOther,
    InvalidLinkCode,
    PermissionDenied,
    TelegramNotLinked,
    TicketResolved,
)
from support.models import BotKey, Event, Message, TelegramAccount, TelegramLinkCode, Ticket
from tests.conftest import Desk, make_manager, snapshot, token_client

TG = 777000111
CODE_SHAPE = re.compile(r"[2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4}")


@pytest.fixture
def staff_key(db: None) -> tuple[BotKey, str]:
    return create_bot_key("staff-bot", staff=True)


@pytest.fixture
def staff_client(staff_key: tuple[BotKey, str]) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {staff_key[1]}")
    return client


@pytest.fixture
def staff_actor(staff_key: tuple[BotKey, str]) -> Actor:
    return Actor.for_bot(staff_key[0])


@pytest.fixture
def linked(manager: User, staff_actor: Actor) -> User:
    """``manager`` linked to Telegram id ``TG``, by a code, as the bot would."""
    code = services.create_telegram_link_code(Actor.for_manager(manager))
    services.confirm_telegram_link(staff_actor, code=code.code, telegram_id=TG)
    return manager


def acting_client(raw_key: str, telegram_id: Any = TG) -> APIClient:
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Api-Key {raw_key}", HTTP_X_SUPPORT_ACTING_TELEGRAM_ID=str(telegram_id)
    )
    return client


# -- link codes ----------------------------------------------------------------------


def test_a_code_is_eight_unambiguous_characters_and_only_its_digest_is_stored(manager, settings):
    settings.SUPPORT_TELEGRAM_LINK_CODE_TTL = 120
    before = timezone.now()
    code = services.create_telegram_link_code(Actor.for_manager(manager))
    assert CODE_SHAPE.fullmatch(code.code)
    assert (
        before + timedelta(seconds=119) < code.expires_at <= timezone.now() + timedelta(seconds=120)
    )
    (row,) = TelegramLinkCode.objects.all()
    raw = code.code.replace("-", "")
    assert raw not in row.digest
    assert row.digest == telegram_links.digest(raw)
    assert len(row.digest) == 64
    assert not set("01IO") & set(telegram_links.ALPHABET)


def test_a_new_code_voids_the_unused_one(manager, staff_actor):
    actor = Actor.for_manager(manager)
    first = services.create_telegram_link_code(actor)
    second = services.create_telegram_link_code(actor)
    assert TelegramLinkCode.objects.count() == 1
    with pytest.raises(InvalidLinkCode):
        services.confirm_telegram_link(staff_actor, code=first.code, telegram_id=TG)
    services.confirm_telegram_link(staff_actor, code=second.code, telegram_id=TG)


@pytest.mark.parametrize(
    "spell",
    [
        str,
        lambda c: c.replace("-", ""),
        str.lower,
        lambda c: f"  {c.lower()} ",
        lambda c: c[:2] + " " + c[2:],
    ],
    ids=["as shown", "no dash", "lower case", "padded", "a space"],
)
def test_a_code_is_accepted_with_or_without_the_dash_in_any_case(manager, staff_actor, spell):
    code = services.create_telegram_link_code(Actor.for_manager(manager))
    account = services.confirm_telegram_link(staff_actor, code=spell(code.code), telegram_id=TG)
    assert (account.user, account.telegram_id) == (manager, TG)
    assert TelegramLinkCode.objects.get().used_at is not None


def _used(manager: User, staff_actor: Actor) -> str:
    code = services.create_telegram_link_code(Actor.for_manager(manager)).code
    services.confirm_telegram_link(staff_actor, code=code, telegram_id=TG + 1)
    return code


def _expired(manager: User, staff_actor: Actor) -> str:
    code = services.create_telegram_link_code(Actor.for_manager(manager)).code
    TelegramLinkCode.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    return code


def _no_longer_a_manager(manager: User, staff_actor: Actor) -> str:
    code = services.create_telegram_link_code(Actor.for_manager(manager)).code
    manager.user_permissions.clear()
    return code


def _another_secret_key(manager: User, staff_actor: Actor) -> str:
    code = services.create_telegram_link_code(Actor.for_manager(manager)).code
    TelegramLinkCode.objects.update(digest=telegram_links.digest("XXXXXXXX"))
    return code


@pytest.mark.parametrize(
    "make_code",
    [
        lambda m, s: "ABCD-EFGH",  # never issued
        lambda m, s: "ABC",
        lambda m, s: "ABCD-EFG0",  # a look-alike
        lambda m, s: "ABCD-EFGHJ",
        lambda m, s: "",
        lambda m, s: "-",
        _used,
        _expired,
        _no_longer_a_manager,
        _another_secret_key,
    ],
    ids=[
        "wrong", "short", "zero", "long", "empty", "dash", "used", "expired",
        "not a manager", "other digest",
    ],
)  # fmt: skip
def test_wrong_used_or_expired_codes_get_one_answer_and_change_nothing(
    manager, staff_actor, make_code
):
    code = make_code(manager, staff_actor)
    links = list(TelegramAccount.objects.values_list("user", "telegram_id"))
    codes = list(TelegramLinkCode.objects.values_list("pk", "used_at"))
    with pytest.raises(InvalidLinkCode) as raised:
        services.confirm_telegram_link(staff_actor, code=code, telegram_id=TG)
    assert raised.value.code == "invalid_link_code"
    assert raised.value.status == 400
    assert list(TelegramAccount.objects.values_list("user", "telegram_id")) == links
    assert list(TelegramLinkCode.objects.values_list("pk", "used_at")) == codes


def test_a_telegram_id_moves_to_the_manager_who_confirms_it(manager, other_manager, staff_actor):
    for user in (manager, other_manager):
        code = services.create_telegram_link_code(Actor.for_manager(user)).code
        services.confirm_telegram_link(staff_actor, code=code, telegram_id=TG)
    assert list(TelegramAccount.objects.values_list("user", "telegram_id")) == [
        (other_manager.pk, TG)
    ]


def test_a_managers_new_telegram_id_replaces_the_old(linked, staff_actor):
    code = services.create_telegram_link_code(Actor.for_manager(linked)).code
    services.confirm_telegram_link(staff_actor, code=code, telegram_id=TG + 5)
    assert list(TelegramAccount.objects.values_list("user", "telegram_id")) == [(linked.pk, TG + 5)]


def test_unlinking_removes_the_link_and_unused_codes(linked):
    actor = Actor.for_manager(linked)
    services.create_telegram_link_code(actor)
    services.unlink_telegram(actor)
    services.unlink_telegram(actor)  # idempotent
    assert services.telegram_link(actor) is None
    assert not TelegramLinkCode.objects.filter(used_at__isnull=True).exists()


# -- acting, in the service layer ------------------------------------------------------


def test_acting_actor_is_the_manager_spending_the_bots_budget(linked, staff_key):
    actor = telegram_links.acting_actor(staff_key[0], TG)
    assert actor.manager == linked
    assert actor.via == staff_key[0]
    assert actor.bot is None
    assert actor.credential == Credential("bot", staff_key[0].pk)
    assert actor.side == "supp"


def test_acting_is_refused_for_a_plain_key_an_unlinked_id_or_a_non_manager(
    linked, bot_key, staff_key
):
    with pytest.raises(PermissionDenied) as plain:
        telegram_links.acting_actor(bot_key[0], TG)
    assert plain.value.code == "permission_denied"
    with pytest.raises(TelegramNotLinked):
        telegram_links.acting_actor(staff_key[0], TG + 1)
    User.objects.filter(pk=linked.pk).update(is_active=False)
    with pytest.raises(PermissionDenied) as inactive:
        telegram_links.acting_actor(staff_key[0], TG)
    assert inactive.value.code == "permission_denied"


# -- topics, in the service layer ------------------------------------------------------


def test_a_topic_is_set_once_unless_replacing_the_stored_one(make_ticket, staff_actor):
    ticket = make_ticket()

    def put(topic: int, replaces: int | None = None) -> tuple[int, int]:
        stored = services.set_telegram_topic(
            staff_actor, ticket.pk, chat_id=-100, topic_id=topic, replaces=replaces
        )
        return stored.chat_id, stored.topic_id

    events_before = Event.objects.count()
    assert put(5) == (-100, 5)
    assert put(6) == (-100, 5)  # the second writer learns the first's
    assert put(7, replaces=6) == (-100, 5)  # replaces a topic that is not the stored one
    assert put(8, replaces=5) == (-100, 8)  # the stored one was deleted: recreated
    assert put(8) == (-100, 8)
    assert Event.objects.count() == events_before  # no event
    fresh = Ticket.objects.get(pk=ticket.pk)
    assert (fresh.telegram_chat_id, fresh.telegram_topic_id) == (-100, 8)


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_puts_agree_on_one_topic(tg_user, monkeypatch):
    key, _raw = create_bot_key("staff", staff=True)
    actor = Actor.for_bot(key)
    ticket = services.open_ticket(
        Actor.for_bot(create_bot_key("bot")[0]), user_id=tg_user.pk, title="t", text="x"
    )
    store = telegram_links.store_topic

    def slow_store(*args: Any) -> Any:
        time.sleep(0.2)  # under the row lock: the other writer waits for it
        return store(*args)

    monkeypatch.setattr(telegram_links, "store_topic", slow_store)
    start = threading.Barrier(2)
    results: dict[int, tuple[int, int]] = {}
    errors: list[BaseException] = []

    def put(topic: int) -> None:
        try:
            start.wait()
            stored = services.set_telegram_topic(actor, ticket.pk, chat_id=-100, topic_id=topic)
            results[topic] = (stored.chat_id, stored.topic_id)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=put, args=(topic,)) for topic in (11, 12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(set(results.values())) == 1
    (winner,) = set(results.values())
    fresh = Ticket.objects.get(pk=ticket.pk)
    assert (fresh.telegram_chat_id, fresh.telegram_topic_id) == winner


# -- acting posts and actions ----------------------------------------------------------


def test_a_post_while_acting_is_the_managers_reply_and_takes_the_ticket(
    linked, staff_key, desk: Desk
):
    client = acting_client(staff_key[1])
    start = Event.objects.order_by("-id").values_list("id", flat=True).first()
    response = client.post(
        f"/support/tickets/{desk.open.pk}/messages/", {"text": "On it"}, format="json"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["sender"], body["author"], body["via_staff_chat"]) == ("supp", linked.pk, True)
    assert Ticket.objects.get(pk=desk.open.pk).support_manager == linked
    logged = [e.type for e in Event.objects.filter(id__gt=start).order_by("id")]
    assert logged == ["ticket.assigned", "ticket.message.new"]
    new = Event.objects.filter(type="ticket.message.new").order_by("-id").first()
    assert new is not None
    assert new.data["message"]["via_staff_chat"] is True
    listed = client.get(f"/support/tickets/{desk.open.pk}/messages/").json()
    assert [m["via_staff_chat"] for m in listed] == [True, False]


@pytest.mark.parametrize(
    ("ticket", "error"),
    [("others", "assigned_to_other"), ("resolved", "ticket_resolved")],
)
def test_acting_posts_follow_the_managers_rules_and_write_nothing(
    linked, staff_key, desk, ticket, error
):
    before = snapshot()
    response = acting_client(staff_key[1]).post(
        f"/support/tickets/{getattr(desk, ticket).pk}/messages/", {"text": "hi"}, format="json"
    )
    assert (response.status_code, response.json()["code"]) == (409, error)
    assert snapshot() == before


def test_acting_service_errors_are_the_managers(linked, staff_key, desk):
    actor = telegram_links.acting_actor(staff_key[0], TG)
    with pytest.raises(AssignedToOther):
        services.post_message(actor, desk.others.pk, text="hi")
    with pytest.raises(TicketResolved):
        services.post_message(actor, desk.resolved.pk, text="hi")


def test_take_release_resolve_reopen_while_acting(linked, staff_key, desk):
    client = acting_client(staff_key[1])
    url = f"/support/tickets/{desk.open.pk}"
    assert client.post(f"{url}/assign/").json()["support_manager"]["id"] == linked.pk
    assert client.post(f"{url}/unassign/").json()["support_manager"] is None
    assert client.post(f"{url}/resolve/").json()["resolved"] is True
    assert client.post(f"{url}/reopen/").json()["resolved"] is False
    response = client.post(f"/support/tickets/{desk.others.pk}/assign/")
    assert (response.status_code, response.json()["code"]) == (409, "already_assigned")


# -- refusals of acting, over REST -----------------------------------------------------


def _plain_key(ctx: dict[str, Any]) -> APIClient:
    return acting_client(ctx["bot_key"])


def _unlinked_id(ctx: dict[str, Any]) -> APIClient:
    return acting_client(ctx["staff_key"], TG + 1)


def _inactive(ctx: dict[str, Any]) -> APIClient:
    User.objects.filter(pk=ctx["manager"].pk).update(is_active=False)
    return acting_client(ctx["staff_key"])


def _no_permission(ctx: dict[str, Any]) -> APIClient:
    ctx["manager"].user_permissions.clear()
    return acting_client(ctx["staff_key"])


def _revoked(ctx: dict[str, Any]) -> APIClient:
    services.revoke_bot_key(BotKey.objects.get(prefix=ctx["staff_key"].partition(".")[0]))
    return acting_client(ctx["staff_key"])


def _with_token(ctx: dict[str, Any]) -> APIClient:
    from rest_framework.authtoken.models import Token

    client = APIClient()
    token, _created = Token.objects.get_or_create(user=ctx["manager"])
    client.credentials(
        HTTP_AUTHORIZATION=f"Token {token.key}", HTTP_X_SUPPORT_ACTING_TELEGRAM_ID=str(TG)
    )
    return client


def _with_session(ctx: dict[str, Any]) -> APIClient:
    client = APIClient()
    client.force_login(ctx["manager"])
    client.credentials(HTTP_X_SUPPORT_ACTING_TELEGRAM_ID=str(TG))
    return client


def _malformed(value: str) -> Any:
    return lambda ctx: acting_client(ctx["staff_key"], value)


@pytest.mark.parametrize(
    ("make_client", "status", "code"),
    [
        (_plain_key, 403, "permission_denied"),
        (_unlinked_id, 403, "telegram_not_linked"),
        (_inactive, 403, "permission_denied"),
        (_no_permission, 403, "permission_denied"),
        (_revoked, 401, "not_authenticated"),
        (_with_token, 400, "invalid"),
        (_with_session, 400, "invalid"),
        (_malformed("abc"), 400, "invalid"),
        (_malformed(""), 400, "invalid"),
        (_malformed("1.5"), 400, "invalid"),
        (_malformed("12 34"), 400, "invalid"),
        (_malformed("0x10"), 400, "invalid"),
        (_malformed("+5"), 400, "invalid"),
        (_malformed(str(2**63)), 400, "invalid"),
        (_malformed("1" * 40), 400, "invalid"),
    ],
    ids=[
        "plain key", "unlinked id", "inactive manager", "permission removed", "revoked key",
        "manager token", "session", "letters", "empty", "fraction", "two numbers", "hex",
        "plus sign", "past int64", "forty digits",
    ],
)  # fmt: skip
def test_refused_acting_requests_write_nothing(
    linked, staff_key, bot_key, desk, make_client, status, code
):
    client = make_client({"manager": linked, "staff_key": staff_key[1], "bot_key": bot_key[1]})
    before = snapshot()
    response = client.post(
        f"/support/tickets/{desk.open.pk}/messages/", {"text": "hi"}, format="json"
    )
    assert (response.status_code, response.json()["code"]) == (status, code), response.json()
    assert snapshot() == before


# -- nothing of acting is remembered between requests ----------------------------------


def _unlink(ctx: dict[str, Any]) -> None:
    services.unlink_telegram(Actor.for_manager(ctx["manager"]))


def _deactivate(ctx: dict[str, Any]) -> None:
    User.objects.filter(pk=ctx["manager"].pk).update(is_active=False)  # no signal


def _deactivate_saved(ctx: dict[str, Any]) -> None:
    ctx["manager"].is_active = False
    ctx["manager"].save()


def _remove_permission(ctx: dict[str, Any]) -> None:
    ctx["manager"].user_permissions.remove(Permission.objects.get(codename="manage_tickets"))


def _move_the_id(ctx: dict[str, Any]) -> None:
    TelegramAccount.objects.filter(telegram_id=TG).update(telegram_id=TG + 9)  # no signal


def _revoke(ctx: dict[str, Any]) -> None:
    services.revoke_bot_key(ctx["key"])


def _revoke_quietly(ctx: dict[str, Any]) -> None:
    BotKey.objects.filter(pk=ctx["key"].pk).update(revoked_at=timezone.now())  # no signal


def _staff_off(ctx: dict[str, Any]) -> None:
    BotKey.objects.filter(pk=ctx["key"].pk).update(staff=False)  # no signal


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        (_unlink, 403, "telegram_not_linked"),
        (_move_the_id, 403, "telegram_not_linked"),
        (_deactivate, 403, "permission_denied"),
        (_deactivate_saved, 403, "permission_denied"),
        (_remove_permission, 403, "permission_denied"),
        (_revoke, 401, "not_authenticated"),
        (_revoke_quietly, 403, "permission_denied"),
        (_staff_off, 403, "permission_denied"),
    ],
    ids=[
        "unlinked", "id moved", "deactivated (update)", "deactivated (save)",
        "permission removed", "key revoked", "key revoked (update)", "staff flag off",
    ],
)  # fmt: skip
def test_a_change_applies_on_the_next_request(
    linked, staff_key, desk, settings, change, status, code
):
    settings.SUPPORT_CREDENTIAL_RECHECK_INTERVAL = 3600.0  # the key stays remembered
    client = acting_client(staff_key[1])
    url = f"/support/tickets/{desk.open.pk}/"
    assert client.get(url).status_code == 200  # the key is remembered now
    change({"manager": linked, "key": staff_key[0]})
    response = client.get(url)
    assert (response.status_code, response.json()["code"]) == (status, code)


# -- the link endpoints ----------------------------------------------------------------


def test_a_manager_gets_a_code_sees_the_link_and_unlinks(manager, staff_client):
    client = token_client(manager)
    assert client.get("/support/telegram/link/").json() == {"telegram_id": None, "linked_at": None}
    response = client.post("/support/telegram/link/", {}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"code", "expires_at"}
    assert CODE_SHAPE.fullmatch(body["code"])
    confirmed = staff_client.post(
        "/support/telegram/link/confirm/", {"code": body["code"], "telegram_id": TG}, format="json"
    )
    assert confirmed.status_code == 200
    assert confirmed.json() == {
        "manager": {"id": manager.pk, "username": "alice", "name": "Alice Smith"},
        "telegram_id": TG,
    }
    link = client.get("/support/telegram/link/").json()
    assert link["telegram_id"] == TG
    assert link["linked_at"]
    assert client.delete("/support/telegram/link/").status_code == 204
    assert client.get("/support/telegram/link/").json()["telegram_id"] is None


def test_a_session_manager_gets_a_code(manager):
    client = APIClient(enforce_csrf_checks=False)
    client.force_login(manager)
    assert client.post("/support/telegram/link/").status_code == 201


@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_link_endpoints_are_for_managers_themselves(linked, bot_key, staff_key, method):
    before = list(TelegramLinkCode.objects.values_list("pk", flat=True))
    for client, status in (
        (APIClient(), 401),
        (_bot(bot_key[1]), 403),
        (_bot(staff_key[1]), 403),
        (acting_client(staff_key[1]), 403),
    ):
        response = getattr(client, method)("/support/telegram/link/")
        assert response.status_code == status, (method, response.json())
    assert list(TelegramLinkCode.objects.values_list("pk", flat=True)) == before
    assert TelegramAccount.objects.filter(user=linked).exists()


def _bot(raw_key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    return client


@pytest.mark.parametrize(
    "body",
    ['{"x": 1}', "[]", '"code"', "null", "{"],
    ids=["unknown field", "list", "string", "null", "broken"],
)
def test_issuing_a_code_takes_an_empty_body(manager_client, body):
    response = manager_client.post("/support/telegram/link/", body, content_type="application/json")
    assert response.status_code == 400
    assert not TelegramLinkCode.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"code": "ABCD-EFGH"},
        {"telegram_id": TG},
        {"code": 12345678, "telegram_id": TG},
        {"code": None, "telegram_id": TG},
        {"code": "ABCD-EFGH", "telegram_id": "777"},
        {"code": "ABCD-EFGH", "telegram_id": True},
        {"code": "ABCD-EFGH", "telegram_id": 0},
        {"code": "ABCD-EFGH", "telegram_id": -5},
        {"code": "ABCD-EFGH", "telegram_id": 2**63},
        {"code": "ABCD-EFGH", "telegram_id": 1.5},
        {"code": "A" * 33, "telegram_id": TG},
        {"code": "   ", "telegram_id": TG},
        {"code": "AB\x00CD", "telegram_id": TG},
        {"code": "ABCD-EFGH", "telegram_id": TG, "manager": 1},
        None,
        [],
    ],
)
def test_bad_confirm_bodies_are_400_invalid(staff_client, manager, body):
    services.create_telegram_link_code(Actor.for_manager(manager))
    response = staff_client.post("/support/telegram/link/confirm/", body, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "invalid")
    assert not TelegramAccount.objects.exists()


@pytest.mark.parametrize("code", ["ABCD-EFGH", "ZZZZZZZZ", "xyz"])
def test_a_wrong_code_is_400_invalid_link_code(staff_client, manager, code):
    response = staff_client.post(
        "/support/telegram/link/confirm/", {"code": code, "telegram_id": TG}, format="json"
    )
    assert (response.status_code, response.json()["code"]) == (400, "invalid_link_code")


def test_confirming_is_for_staff_keys_only(manager, bot_key, linked, staff_key):
    code = services.create_telegram_link_code(Actor.for_manager(manager)).code
    body = {"code": code, "telegram_id": TG + 3}
    for client in (_bot(bot_key[1]), token_client(manager), acting_client(staff_key[1])):
        response = client.post("/support/telegram/link/confirm/", body, format="json")
        assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    assert TelegramLinkCode.objects.filter(used_at__isnull=True).count() == 1


# -- the topic endpoint ----------------------------------------------------------------


def test_put_topic_answers_the_stored_one(staff_client, make_ticket):
    ticket = make_ticket()
    url = f"/support/tickets/{ticket.pk}/telegram-topic/"
    first = staff_client.put(url, {"chat_id": -100, "topic_id": 5}, format="json")
    assert (first.status_code, first.json()) == (200, {"chat_id": -100, "topic_id": 5})
    lost = staff_client.put(url, {"chat_id": -100, "topic_id": 6, "replaces": None}, format="json")
    assert lost.json() == {"chat_id": -100, "topic_id": 5}
    again = staff_client.put(url, {"chat_id": -100, "topic_id": 7, "replaces": 5}, format="json")
    assert again.json() == {"chat_id": -100, "topic_id": 7}
    shown = staff_client.get(f"/support/tickets/{ticket.pk}/").json()
    assert shown["telegram_topic"] == {"chat_id": -100, "topic_id": 7}
    assert staff_client.get("/support/tickets/").json()[0]["telegram_topic"] == {
        "chat_id": -100,
        "topic_id": 7,
    }


def test_a_ticket_without_a_topic_shows_null(bot_client, make_ticket):
    ticket = make_ticket()
    assert bot_client.get(f"/support/tickets/{ticket.pk}/").json()["telegram_topic"] is None


def test_put_topic_while_acting(linked, staff_key, make_ticket):
    ticket = make_ticket()
    response = acting_client(staff_key[1]).put(
        f"/support/tickets/{ticket.pk}/telegram-topic/",
        {"chat_id": -1, "topic_id": 2},
        format="json",
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"chat_id": -100},
        {"topic_id": 5},
        {"chat_id": "-100", "topic_id": 5},
        {"chat_id": -100, "topic_id": "5"},
        {"chat_id": -100, "topic_id": 0},
        {"chat_id": -100, "topic_id": True},
        {"chat_id": None, "topic_id": 5},
        {"chat_id": -(2**63) - 1, "topic_id": 5},
        {"chat_id": -100, "topic_id": 5, "replaces": "4"},
        {"chat_id": -100, "topic_id": 5, "replaces": 4.0},
        {"chat_id": -100, "topic_id": 5, "title": "x"},
        None,
        [],
    ],
)
def test_bad_topic_bodies_are_400_invalid(staff_client, make_ticket, body):
    ticket = make_ticket()
    response = staff_client.put(
        f"/support/tickets/{ticket.pk}/telegram-topic/", body, format="json"
    )
    assert (response.status_code, response.json()["code"]) == (400, "invalid")
    assert Ticket.objects.get(pk=ticket.pk).telegram_topic_id is None


def test_topics_are_for_staff_keys_only(bot_client, manager_client, staff_client, make_ticket):
    ticket = make_ticket()
    url = f"/support/tickets/{ticket.pk}/telegram-topic/"
    body = {"chat_id": -100, "topic_id": 5}
    for client in (bot_client, manager_client):
        response = client.put(url, body, format="json")
        assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    assert APIClient().put(url, body, format="json").status_code == 401
    missing = staff_client.put("/support/tickets/999999/telegram-topic/", body, format="json")
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")
    assert staff_client.post(url, body, format="json").status_code == 405
    assert Ticket.objects.get(pk=ticket.pk).telegram_topic_id is None


# -- streams refuse the acting header --------------------------------------------------


@sync_to_async
def _staff_world() -> str:
    manager = make_manager("carol")
    key, raw = create_bot_key("staff", staff=True)
    code = services.create_telegram_link_code(Actor.for_manager(manager)).code
    services.confirm_telegram_link(Actor.for_bot(key), code=code, telegram_id=TG)
    return raw


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ["/support/events/", "/support/events/stream/"])
async def test_http_streams_refuse_the_acting_header(stop_hub, path):
    from django.test import AsyncClient

    raw = await _staff_world()
    headers = {"Authorization": f"Api-Key {raw}", "X-Support-Acting-Telegram-Id": str(TG)}
    response = await AsyncClient().get(path, headers=headers)
    assert (response.status_code, response.json()["code"]) == (400, "invalid")


@pytest.mark.django_db(transaction=True)
async def test_the_websocket_refuses_the_acting_header(stop_hub):
    from support import get_asgi_application
    from tests.test_realtime_websocket import connect, receive

    raw = await _staff_world()
    ws = connect(
        get_asgi_application(),
        authorization=f"Api-Key {raw}",
        x_support_acting_telegram_id=str(TG),
    )
    connected, _ = await ws.connect()
    assert connected
    error = await receive(ws)
    assert (error["type"], error["code"], error["status"]) == ("error", "invalid", 400)
    assert (await ws.receive_output(timeout=2))["type"] == "websocket.close"


@sync_to_async
def _attachment_id() -> int:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.files import png

    key, _raw = create_bot_key("bot")
    ticket = services.open_ticket(
        Actor.for_bot(key),
        user_id=5,
        title="t",
        text="",
        files=[SimpleUploadedFile("a.png", png())],
    )
    return int(Message.objects.get(ticket=ticket).attachments.get().pk)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("telegram_id", "status"), [(TG, 200), (TG + 1, 403)])
async def test_a_download_is_checked_and_made_while_acting(stop_hub, telegram_id, status):
    from tests.test_realtime_http import Client

    raw = await _staff_world()
    attachment = await _attachment_id()
    client = Client(f"Api-Key {raw}", **{"X-Support-Acting-Telegram-Id": str(telegram_id)})
    response = await client.get(f"/support/attachments/{attachment}/")
    assert response.status_code == status


@pytest.mark.parametrize(
    "path",
    [
        "/support/telegram/link/",
        "/support/telegram/link/confirm/",
        "/support/tickets/1/telegram-topic/",
    ],
)
@pytest.mark.parametrize("caller", ["manager", "bot"])
def test_options_answers_without_an_error(manager_client, bot_client, make_ticket, path, caller):
    make_ticket()
    client = manager_client if caller == "manager" else bot_client
    assert client.options(path).status_code == 200


def test_acting_spends_the_bot_keys_budget_not_the_managers(
    linked, staff_key, desk, settings, frozen_rate_clock
):
    from django.core.cache import caches

    settings.SUPPORT_THROTTLE_RATES = {"bot": "3/min", "manager": None}
    caches["default"].clear()
    acting = acting_client(staff_key[1])
    plain = _bot(staff_key[1])
    url = f"/support/tickets/{desk.open.pk}/"
    assert [
        acting.get(url).status_code,
        plain.get(url).status_code,
        acting.get(url).status_code,
    ] == [
        200,
        200,
        200,
    ]
    refused = acting.get(url)
    assert (refused.status_code, refused.json()["code"]) == (429, "rate_limited")
    assert token_client(linked).get(url).status_code == 200  # the manager's own: unlimited

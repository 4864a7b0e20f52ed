"""The service layer enforces permissions itself, whatever adapter calls it."""

from __future__ import annotations

import pytest

from support import services
from support.actors import Actor
from support.exceptions import IdempotencyConflict, NotAuthenticated, PermissionDenied
from support.models import Event, Ticket
from support.services import revoke_bot_key


def test_an_actor_without_credential_is_not_authenticated(make_ticket):
    ticket = make_ticket()
    with pytest.raises(NotAuthenticated):
        services.resolve(Actor(), ticket.pk)


def test_a_user_without_the_permission_is_refused(plain_user, make_ticket):
    ticket = make_ticket()
    with pytest.raises(PermissionDenied):
        services.assign(Actor.for_manager(plain_user), ticket.pk)
    assert Ticket.objects.get(pk=ticket.pk).support_manager is None


def test_a_revoked_key_is_refused_even_when_already_loaded(bot_actor, make_ticket):
    ticket = make_ticket()
    revoke_bot_key(bot_actor.bot)
    with pytest.raises(PermissionDenied):
        services.post_message(bot_actor, ticket.pk, text="x")


@pytest.mark.parametrize(
    ("call", "side"),
    [
        (lambda a, t: services.open_ticket(a, user_id=1, title="t"), "manager"),
        (lambda a, t: services.assign(a, t), "bot"),
        (lambda a, t: services.unassign(a, t), "bot"),
    ],
)
def test_each_action_belongs_to_one_side(call, side, manager_actor, bot_actor, make_ticket):
    ticket = make_ticket()
    actor = manager_actor if side == "manager" else bot_actor
    before = Event.objects.count()
    with pytest.raises(PermissionDenied):
        call(actor, ticket.pk)
    assert Event.objects.count() == before


@pytest.mark.parametrize("bad_id", ["1", 1.0, None, True, [1]])
def test_ticket_ids_must_be_integers(bad_id, manager_actor, db):
    from support.exceptions import Invalid

    with pytest.raises(Invalid):
        services.assign(manager_actor, bad_id)


def test_existing_telegram_user_is_reused(bot_actor, tg_user):
    from tests.zz_users.models import MyTelegramUser

    services.open_ticket(bot_actor, user_id=tg_user.pk, title="a")
    services.open_ticket(bot_actor, user_id=tg_user.pk, title="b")
    assert MyTelegramUser.objects.count() == 1


def test_opening_with_a_repeated_key_returns_the_first_ticket_and_emits_nothing(bot_actor, db):
    first = services.open_ticket_once(
        bot_actor, user_id=5, title="Bug", text="It fails", idempotency_key="tg-5-10"
    )
    events = Event.objects.count()
    again = services.open_ticket_once(
        bot_actor, user_id=5, title="Other", text="Other", idempotency_key="tg-5-10"
    )
    assert (first.created, again.created) == (True, False)
    assert again.ticket.pk == first.ticket.pk
    assert again.ticket.title == "Bug"
    assert Ticket.objects.count() == 1
    assert Event.objects.count() == events


def test_a_repeated_key_returns_the_ticket_even_once_resolved(bot_actor, db):
    first = services.open_ticket(bot_actor, user_id=5, title="Bug", idempotency_key="k")
    services.resolve(bot_actor, first.pk)
    again = services.open_ticket_once(bot_actor, user_id=5, title="Bug", idempotency_key="k")
    assert (again.created, again.ticket.pk, again.ticket.resolved) == (False, first.pk, True)


def test_tickets_without_keys_are_all_new(bot_actor, db):
    for _ in range(2):
        assert services.open_ticket_once(bot_actor, user_id=5, title="Bug").created
    assert Ticket.objects.count() == 2


def test_ticket_keys_are_scoped_to_the_bot_key(bot_actor, db):
    from support.botkeys import create_bot_key

    other = Actor.for_bot(create_bot_key("other-bot")[0])
    mine = services.open_ticket(bot_actor, user_id=5, title="a", idempotency_key="k")
    theirs = services.open_ticket(other, user_id=5, title="a", idempotency_key="k")
    assert mine.pk != theirs.pk
    assert (mine.opened_by, theirs.opened_by) == (bot_actor.bot, other.bot)


def test_a_ticket_key_reused_for_another_user_is_a_conflict(bot_actor, db):
    services.open_ticket(bot_actor, user_id=5, title="a", idempotency_key="k")
    events = Event.objects.count()
    with pytest.raises(IdempotencyConflict):
        services.open_ticket(bot_actor, user_id=6, title="a", idempotency_key="k")
    assert Ticket.objects.count() == 1
    assert Event.objects.count() == events


def test_a_key_committed_concurrently_is_replayed_not_raised(bot_actor, db, monkeypatch):
    # Another request commits the same key between our look-up and our insert.
    first = services.open_ticket(bot_actor, user_id=5, title="a", idempotency_key="k")
    calls = []
    real = services._ticket_opened_with

    def late(actor, key, user_id):
        calls.append(key)
        return None if len(calls) == 1 else real(actor, key, user_id)

    monkeypatch.setattr(services, "_ticket_opened_with", late)
    events = Event.objects.count()
    again = services.open_ticket_once(bot_actor, user_id=5, title="a", idempotency_key="k")
    assert (again.created, again.ticket.pk, len(calls)) == (False, first.pk, 2)
    assert Event.objects.count() == events


def test_the_first_message_carries_the_ticket_key(bot_actor, db):
    # A bot that sees the ticket open resends the same update as a message: no copy.
    ticket = services.open_ticket(
        bot_actor, user_id=5, title="Bug", text="It fails", idempotency_key="tg-5-10"
    )
    events = Event.objects.count()
    again = services.post_message(bot_actor, ticket.pk, text="It fails", idempotency_key="tg-5-10")
    assert again.created is False
    assert again.message.text == "It fails"
    assert ticket.messages.count() == 1
    assert Event.objects.count() == events

"""The service layer enforces permissions itself, whatever adapter calls it."""

from __future__ import annotations

import pytest

from support import services
from support.actors import Actor
from support.botkeys import revoke_bot_key
from support.exceptions import NotAuthenticated, PermissionDenied
from support.models import Event, Ticket


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

"""The service layer enforces permissions and the ticket rules itself, whatever adapter
calls it: the REST tests (``test_api_bad_input.py``, ``test_api_writes.py``) check the
same rules through the API. Idempotency keys, in both, are in ``test_idempotency.py``."""

from __future__ import annotations

from functools import partial

import pytest

from support import services
from support.actors import Actor
from support.exceptions import Conflict, NotAuthenticated, PermissionDenied
from support.models import Event, Ticket
from support.services import revoke_bot_key
from tests.conftest import snapshot


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


# -- the ticket rules: assignment and resolution ------------------------------------------

post = partial(services.post_message, text="hi")
rename = partial(services.update_ticket, title="Mine now")

# (case, actor, service, desk ticket, code): the call must raise a Conflict with this code.
REFUSED = [
    ("message: another manager's ticket", "manager", post, "others", "assigned_to_other"),
    ("message: user on a resolved ticket", "bot", post, "resolved", "ticket_resolved"),
    ("message: manager on a resolved ticket", "manager", post, "resolved", "ticket_resolved"),
    ("assign: another manager's ticket", "manager", services.assign, "others", "already_assigned"),
    ("assign: a resolved ticket", "manager", services.assign, "resolved", "ticket_resolved"),
    ("unassign: another manager's ticket", "manager", services.unassign, "others",
     "assigned_to_other"),
    ("resolve: another manager's ticket", "manager", services.resolve, "others",
     "assigned_to_other"),
    ("update: another manager's ticket", "manager", rename, "others", "assigned_to_other"),
    ("viewed: another manager's ticket", "manager", services.mark_viewed, "others",
     "assigned_to_other"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("actor", "service", "ticket", "code"),
    [case[1:] for case in REFUSED],
    ids=[case[0] for case in REFUSED],
)
def test_a_rule_breaking_call_is_a_conflict_and_changes_nothing(
    desk, manager_actor, bot_actor, actor, service, ticket, code
):
    before = snapshot()
    with pytest.raises(Conflict) as refused:
        service(manager_actor if actor == "manager" else bot_actor, getattr(desk, ticket).pk)
    assert (refused.value.status, refused.value.code) == (409, code)
    assert snapshot() == before


# (case, actor, service, desk ticket, events): the call succeeds and appends these events.
ALLOWED = [
    ("assign: one's own ticket again", "manager", services.assign, "mine", []),
    ("resolve: a resolved ticket again", "bot", services.resolve, "resolved", []),
    ("unassign: a queued ticket", "manager", services.unassign, "open", []),
    ("message: a manager's reply takes a queued ticket", "manager", post, "open",
     ["ticket.assigned", "ticket.message.new"]),
    ("message: the user writes on a ticket a manager holds", "bot", post, "others",
     ["ticket.message.new"]),
    ("resolve: the bot resolves a ticket a manager holds", "bot", services.resolve, "others",
     ["ticket.resolved"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("actor", "service", "ticket", "events"),
    [case[1:] for case in ALLOWED],
    ids=[case[0] for case in ALLOWED],
)
def test_a_call_within_the_rules_appends_exactly_its_events(
    desk, manager_actor, bot_actor, actor, service, ticket, events
):
    last = Event.objects.order_by("id").last()
    assert last is not None
    service(manager_actor if actor == "manager" else bot_actor, getattr(desk, ticket).pk)
    appended = Event.objects.filter(id__gt=last.pk).order_by("id")
    assert list(appended.values_list("type", flat=True)) == events


def test_the_assignment_survives_the_users_message(desk, bot_actor, other_actor):
    services.post_message(bot_actor, desk.others.pk, text="more")
    assert Ticket.objects.get(pk=desk.others.pk).support_manager_id == other_actor.manager_id

"""The bot's post, made cheaper without changing what it does (issue 24): the ticket's
query compiled once (:func:`support.services._locked_ticket`) reads what the ORM reads."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import caches
from django.db import connection, transaction
from django.db.transaction import TransactionManagementError

from support import blocking, ratelimit, services
from support.actors import Actor
from support.exceptions import Invalid, NotFound
from support.models import Ticket
from tests.zz_users.models import MyTelegramUser

pytestmark = pytest.mark.django_db


def fields(ticket: Ticket) -> dict[str, Any]:
    return {f.attname: getattr(ticket, f.attname) for f in Ticket._meta.concrete_fields}


@pytest.fixture
def ticket(bot_actor: Actor) -> Ticket:
    MyTelegramUser.objects.get_or_create(telegram_id=700)
    opened = services.open_ticket(bot_actor, user_id=700, title="t", text="hello")
    services.resolve(bot_actor, opened.pk)  # a resolved_at, a datetime the SQL must convert
    return Ticket.objects.get(pk=opened.pk)


@pytest.mark.parametrize("lock", [True, False])
@pytest.mark.parametrize("blocked", [True, False])
def test_the_compiled_query_reads_the_ticket_as_the_orm_does(
    ticket: Ticket, manager_actor: Actor, lock: bool, blocked: bool
) -> None:
    with transaction.atomic():
        read = services._locked_ticket(ticket.pk, lock=lock, blocked=blocked)
    assert type(read) is Ticket
    assert fields(read) == fields(Ticket.objects.get(pk=ticket.pk))
    assert read._state.adding is False
    assert read._state.db == "default"
    if blocked:
        assert read.user_blocked is False  # type: ignore[attr-defined]
        blocking.block(manager_actor, 700, reason="spam")
        with transaction.atomic():
            again = services._locked_ticket(ticket.pk, lock=lock, blocked=True)
        assert again.user_blocked is True  # type: ignore[attr-defined]
    else:
        assert not hasattr(read, "user_blocked")


@pytest.mark.parametrize(
    ("ticket_id", "error"),
    [
        (10**9, NotFound),
        (-1, NotFound),
        (2**63, NotFound),  # past 64 bits: the driver cannot bind it (schemathesis found a 500)
        (-(2**63) - 1, NotFound),
        ("1", Invalid),
        (True, Invalid),
        (1.0, Invalid),
    ],
)
def test_a_bad_or_unknown_id_is_refused_as_before(ticket_id: Any, error: type[Exception]) -> None:
    with transaction.atomic(), pytest.raises(error):
        services._locked_ticket(ticket_id, blocked=True)


@pytest.mark.django_db(transaction=True)
def test_a_lock_outside_a_transaction_is_refused_where_rows_lock(bot_actor: Actor) -> None:
    MyTelegramUser.objects.get_or_create(telegram_id=701)
    opened = services.open_ticket(bot_actor, user_id=701, title="t", text="hello")
    if not connection.features.has_select_for_update:
        assert services._locked_ticket(opened.pk).pk == opened.pk  # as the ORM: no lock here
        return
    with pytest.raises(TransactionManagementError):
        services._locked_ticket(opened.pk)


class CountingCache:
    """A cache that records each operation, and can lose a key between two of them."""

    def __init__(self, cache: Any) -> None:
        self.cache = cache
        self.lose: set[str] = set()
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        operation = getattr(self.cache, name)

        def recorded(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            if name == "incr" and args[0] in self.lose:
                self.lose.discard(args[0])
                self.cache.delete(args[0])  # expired since it was read
            return operation(*args, **kwargs)

        return recorded


@pytest.fixture
def counting(monkeypatch: pytest.MonkeyPatch, settings: Any) -> CountingCache:
    settings.SUPPORT_THROTTLE_RATES = {"bot": "100/min", "manager": None}
    caches["default"].clear()
    monkeypatch.setattr("support.ratelimit.time.time", lambda: 600.0)  # a window's start
    recorder = CountingCache(caches["default"])
    monkeypatch.setattr("support.sharedcache.shared_cache", lambda: recorder)
    return recorder


def test_a_spend_costs_two_cache_operations(bot_actor: Actor, counting: CountingCache) -> None:
    """The counts read, then one write: ``add`` to start a window, ``incr`` after."""
    for expected in (["get_many", "add"], ["get_many", "incr"], ["get_many", "incr"]):
        counting.calls.clear()
        ratelimit.spend(bot_actor)
        assert counting.calls == expected
    assert counting.cache.get(f"support-throttle-{bot_actor.credential}-10") == 3


def test_a_counter_that_expires_between_the_read_and_the_count_starts_again(
    bot_actor: Actor, counting: CountingCache
) -> None:
    key = f"support-throttle-{bot_actor.credential}-10"
    ratelimit.spend(bot_actor)
    counting.lose.add(key)
    counting.calls.clear()
    ratelimit.spend(bot_actor)
    assert counting.calls == ["get_many", "incr", "add"]
    assert counting.cache.get(key) == 1  # this request starts the window again

"""``manage.py support_auto_resolve [--dry-run]``: idle tickets resolved, with ``"auto": true``."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.utils import timezone

from support import events, services
from support.models import Message, Ticket
from tests.conftest import Desk, new_events, snapshot

pytestmark = pytest.mark.django_db

AFTER = timedelta(days=1)


def run(*args: str) -> str:
    out = StringIO()
    call_command("support_auto_resolve", *args, stdout=out)
    return out.getvalue()


def aged(ticket: Ticket, age: timedelta, *, messages: timedelta | None = None) -> None:
    """The ticket opened *age* ago, its messages *messages* ago (default: as old)."""
    now = timezone.now()
    Ticket.objects.filter(pk=ticket.pk).update(created_at=now - age)
    Message.objects.filter(ticket=ticket).update(created_at=now - (messages or age))


@override_settings(SUPPORT_AUTO_RESOLVE_AFTER=AFTER)
@pytest.mark.parametrize(
    ("opened", "last_message", "resolved"),
    [
        pytest.param(timedelta(days=3), timedelta(days=3), True, id="idle for days"),
        pytest.param(
            AFTER + timedelta(seconds=5), AFTER + timedelta(seconds=5), True, id="just past it"
        ),
        pytest.param(timedelta(days=3), timedelta(hours=2), False, id="a recent message"),
        pytest.param(timedelta(hours=23), timedelta(hours=23), False, id="not idle long enough"),
        pytest.param(timedelta(days=3), None, True, id="no messages, opened long ago"),
    ],
)
def test_which_tickets_are_resolved(desk: Desk, opened, last_message, resolved):
    ticket = desk.open
    if last_message is None:
        Message.objects.filter(ticket=ticket).delete()
        aged(ticket, opened)
    else:
        aged(ticket, opened, messages=last_message)
    start = events.current_position()
    output = run()
    after = Ticket.objects.get(pk=ticket.pk)
    assert after.resolved is resolved
    logged = new_events(start)
    if resolved:
        assert logged == [("ticket.resolved", {"id": ticket.pk, "auto": True})]
        assert after.resolved_at is not None
        assert "Resolved 1 ticket(s)" in output
    else:
        assert logged == []
        assert "Resolved 0 ticket(s)" in output


@override_settings(SUPPORT_AUTO_RESOLVE_AFTER=AFTER)
def test_every_idle_ticket_is_resolved_once_and_others_are_left(desk: Desk):
    for ticket in (desk.open, desk.mine, desk.resolved):
        aged(ticket, timedelta(days=2))
    start = events.current_position()
    assert "Resolved 2 ticket(s)" in run()
    assert new_events(start) == [
        ("ticket.resolved", {"id": desk.open.pk, "auto": True}),
        ("ticket.resolved", {"id": desk.mine.pk, "auto": True}),
    ]
    assert Ticket.objects.get(pk=desk.others.pk).resolved is False
    # A second run finds nothing.
    before = snapshot()
    assert "Resolved 0 ticket(s)" in run()
    assert snapshot() == before


@override_settings(SUPPORT_AUTO_RESOLVE_AFTER=AFTER)
def test_dry_run_counts_and_changes_nothing(desk: Desk):
    aged(desk.open, timedelta(days=2))
    aged(desk.mine, timedelta(days=2))
    before = snapshot()
    output = run("--dry-run")
    assert "2 ticket(s)" in output
    assert "would be resolved" in output
    assert snapshot() == before


@pytest.mark.parametrize("args", [(), ("--dry-run",)])
def test_without_the_setting_nothing_happens(desk: Desk, args):
    aged(desk.open, timedelta(days=365))
    before = snapshot()
    assert "SUPPORT_AUTO_RESOLVE_AFTER is None" in run(*args)
    assert snapshot() == before


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(("--dry-runn",), id="a misspelt option"),
        pytest.param(("--all",), id="an unknown option"),
        pytest.param(("5",), id="an argument"),
    ],
)
def test_bad_arguments_are_refused_and_change_nothing(desk: Desk, args):
    aged(desk.open, timedelta(days=2))
    before = snapshot()
    with override_settings(SUPPORT_AUTO_RESOLVE_AFTER=AFTER), pytest.raises(CommandError):
        run(*args)
    assert snapshot() == before


@override_settings(SUPPORT_AUTO_RESOLVE_AFTER=AFTER)
def test_a_message_that_arrives_meanwhile_keeps_its_ticket_open(desk: Desk, bot_actor, monkeypatch):
    """Looked at again under the ticket's lock: a message since the list was read wins."""
    aged(desk.open, timedelta(days=2))
    listed = services.idle_tickets

    def then_a_message(now: Any = None) -> Any:
        found = list(listed(now))
        services.post_message(bot_actor, desk.open.pk, text="still there?")
        monkeypatch.setattr(services, "idle_tickets", listed)
        return Ticket.objects.filter(pk__in=[t.pk for t in found])

    monkeypatch.setattr(services, "idle_tickets", then_a_message)
    assert services.auto_resolve() == []
    assert Ticket.objects.get(pk=desk.open.pk).resolved is False


def test_manual_resolutions_keep_their_payload(desk: Desk, bot_actor):
    start = events.current_position()
    services.resolve(bot_actor, desk.open.pk)
    assert new_events(start) == [("ticket.resolved", {"id": desk.open.pk})]

"""``GET stats/?days=7|30``: the numbers of a desk seeded at fixed times, who may read
them, what is refused, and a constant number of queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from support import services, stats
from support.actors import Actor
from support.exceptions import Invalid, PermissionDenied
from support.models import Message, Rating, Ticket
from tests.conftest import make_manager, managers_only, token_client

pytestmark = pytest.mark.django_db

STATS = "/support/stats/"
#: The seeded desk's "now": a Sunday afternoon (UTC); the 7 days are Nov 30 to Dec 6.
NOW = datetime(2026, 12, 6, 15, 0, tzinfo=UTC)


def at(day: int, hour: int, minute: int = 0, month: int = 12) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


@dataclass
class Team:
    anna: User
    bob: User
    carol: User


@pytest.fixture
def team(db: None) -> Team:
    return Team(
        anna=make_manager("anna", first_name="Anna", last_name="K"),
        bob=make_manager("bob"),
        carol=make_manager("carol"),
    )


class Seeder:
    """Tickets with their replies, resolutions and ratings at the times given."""

    def __init__(self, bot: Actor, user_id: int) -> None:
        self.bot = bot
        self.user_id = user_id

    def ticket(
        self,
        opened: datetime,
        *,
        replies: tuple[tuple[User, datetime], ...] = (),
        holder: User | None = None,
        resolved: datetime | None = None,
        rating: tuple[int, datetime] | None = None,
    ) -> Ticket:
        ticket = services.open_ticket(self.bot, user_id=self.user_id, title="t", text="help")
        Ticket.objects.filter(pk=ticket.pk).update(created_at=opened)
        Message.objects.filter(ticket=ticket).update(created_at=opened)
        for manager, when in replies:
            posted = services.post_message(Actor.for_manager(manager), ticket.pk, text="on it")
            Message.objects.filter(pk=posted.message.pk).update(created_at=when)
        if holder is not None and not replies:
            services.assign(Actor.for_manager(holder), ticket.pk)
        if resolved is not None:
            services.resolve(self.bot, ticket.pk)
            Ticket.objects.filter(pk=ticket.pk).update(resolved_at=resolved)
        if rating is not None:
            Rating.objects.create(ticket=ticket, score=rating[0], created_at=rating[1])
        return ticket


@pytest.fixture
def seed(bot_actor, tg_user) -> Seeder:
    return Seeder(bot_actor, tg_user.pk)


@pytest.fixture
def desk(seed: Seeder, team: Team) -> Seeder:
    """The desk of the expected numbers below (times in UTC)."""
    anna, bob, carol = team.anna, team.bob, team.carol
    # Nov 30: first reply after 5 minutes, resolved after 1.5 hours, rated 5.
    opened = at(30, 10, month=11)
    seed.ticket(
        opened,
        replies=((anna, opened + timedelta(seconds=300)),),
        resolved=opened + timedelta(seconds=5400),
        rating=(5, at(30, 12, month=11)),
    )
    # Dec 1: bob after 10 minutes, resolved after an hour, rated 3.
    opened = at(1, 9)
    seed.ticket(
        opened,
        replies=((bob, opened + timedelta(seconds=600)),),
        resolved=opened + timedelta(seconds=3600),
        rating=(3, at(1, 11)),
    )
    # Today: one answered after 100 s (and again later), one not answered yet.
    opened = at(6, 14)
    seed.ticket(
        opened,
        replies=((anna, opened + timedelta(seconds=100)), (anna, opened + timedelta(minutes=30))),
    )
    seed.ticket(at(6, 14, 30))
    # Opened before the period: its reply, resolution and rating are in it, its first reply not.
    opened = at(29, 23, month=11)
    seed.ticket(
        opened,
        replies=((anna, at(30, 1, month=11)),),
        resolved=at(2, 12),
        rating=(4, at(2, 13)),
    )
    # All before the period: carol's, who then did nothing.
    opened = at(20, 10, month=11)
    seed.ticket(
        opened,
        replies=((carol, opened + timedelta(minutes=1)),),
        resolved=at(25, 10, month=11),
        rating=(1, at(25, 11, month=11)),
    )
    return seed


def expected_7_days(team: Team) -> dict[str, Any]:
    zero = {"opened": 0, "resolved": 0}
    return {
        "days": 7,
        "since": "2026-11-30",
        "until": "2026-12-06",
        "per_day": [
            {"date": "2026-11-30", "opened": 1, "resolved": 1},
            {"date": "2026-12-01", "opened": 1, "resolved": 1},
            {"date": "2026-12-02", "opened": 0, "resolved": 1},
            {"date": "2026-12-03", **zero},
            {"date": "2026-12-04", **zero},
            {"date": "2026-12-05", **zero},
            {"date": "2026-12-06", "opened": 2, "resolved": 0},
        ],
        "first_reply_median_seconds": 300.0,  # of 300, 600 and 100
        "resolution_median_seconds": 5400.0,  # of 5400, 3600 and 2 days 13 hours
        "ratings": {
            "count": 3,
            "average": 4.0,
            "by_score": {"1": 0, "2": 0, "3": 1, "4": 1, "5": 1},
        },
        "managers": [
            {
                "id": team.anna.pk,
                "username": "anna",
                "name": "Anna K",
                "replies": 4,
                "resolved": 2,
                "first_reply_median_seconds": 200.0,  # of 300 and 100
                "rating_average": 4.5,
                "ratings": 2,
            },
            {
                "id": team.bob.pk,
                "username": "bob",
                "name": "bob",  # no full name
                "replies": 1,
                "resolved": 1,
                "first_reply_median_seconds": 600.0,
                "rating_average": 3.0,
                "ratings": 1,
            },
        ],
    }


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stats' clock stopped at :data:`NOW` (its other time functions as they are)."""
    clock = SimpleNamespace(
        now=lambda: NOW,
        localdate=timezone.localdate,
        localtime=timezone.localtime,
        make_aware=timezone.make_aware,
    )
    monkeypatch.setattr(stats, "timezone", clock)


@pytest.fixture
def clients(team, plain_user, bot_key) -> dict[str, APIClient]:
    bot = APIClient()
    bot.credentials(HTTP_AUTHORIZATION=f"Api-Key {bot_key[1]}")
    return {
        "manager": token_client(team.anna),
        "bot": bot,
        "plain": token_client(plain_user),
        "anon": APIClient(),
    }


# -- the numbers ---------------------------------------------------------------------------


def test_the_numbers_of_the_last_7_days(desk, team, frozen, clients):
    response = clients["manager"].get(STATS, {"days": "7"})
    assert response.status_code == 200, response.content
    assert response.json() == expected_7_days(team)


def test_7_days_is_the_default(desk, team, frozen, clients):
    assert clients["manager"].get(STATS).json() == expected_7_days(team)
    assert clients["manager"].get(STATS, {"days": ""}).json() == expected_7_days(team)


def test_the_last_30_days_take_in_what_came_before(desk, team):
    body = stats.compute(30, now=NOW)
    assert (body["since"], body["until"], len(body["per_day"])) == ("2026-11-07", "2026-12-06", 30)
    assert body["per_day"][0] == {"date": "2026-11-07", "opened": 0, "resolved": 0}
    opened = {day["date"]: day["opened"] for day in body["per_day"] if day["opened"]}
    assert opened == {
        "2026-11-20": 1,
        "2026-11-29": 1,
        "2026-11-30": 1,
        "2026-12-01": 1,
        "2026-12-06": 2,
    }
    assert body["ratings"]["by_score"] == {"1": 1, "2": 0, "3": 1, "4": 1, "5": 1}
    assert body["ratings"]["average"] == 3.25
    assert [m["username"] for m in body["managers"]] == ["anna", "bob", "carol"]
    assert body["managers"][2]["first_reply_median_seconds"] == 60.0


def test_an_empty_desk_has_zeros_and_nulls(db):
    body = stats.compute(7, now=NOW)
    assert [day["opened"] + day["resolved"] for day in body["per_day"]] == [0] * 7
    assert body["first_reply_median_seconds"] is None
    assert body["resolution_median_seconds"] is None
    assert body["ratings"] == {
        "count": 0,
        "average": None,
        "by_score": {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0},
    }
    assert body["managers"] == []


def test_a_ticket_reopened_since_is_not_resolved(seed, team, bot_actor):
    ticket = seed.ticket(at(6, 9), replies=((team.anna, at(6, 10)),), resolved=at(6, 11))
    services.reopen(bot_actor, ticket.pk)
    body = stats.compute(7, now=NOW)
    assert body["per_day"][-1] == {"date": "2026-12-06", "opened": 1, "resolved": 0}
    assert body["resolution_median_seconds"] is None
    assert body["managers"][0]["resolved"] == 0


@pytest.mark.parametrize(
    ("zone", "counted_on"),
    [("UTC", None), ("Europe/Moscow", "2026-11-30")],  # 22:00 UTC is 01:00 in Moscow
)
def test_days_are_the_servers_local_days(seed, zone, counted_on):
    seed.ticket(at(29, 22, month=11))
    with override_settings(TIME_ZONE=zone):
        timezone.activate(zone)
        try:
            body = stats.compute(7, now=NOW)
        finally:
            timezone.deactivate()
    opened = [day["date"] for day in body["per_day"] if day["opened"]]
    assert opened == ([] if counted_on is None else [counted_on])
    assert body["since"] == "2026-11-30"


def test_the_edge_of_the_period_is_local_midnight(seed):
    seed.ticket(at(29, 23, 59, month=11))  # just before: out
    seed.ticket(at(30, 0, 0, month=11))  # the first instant: in
    body = stats.compute(7, now=at(6, 23, 59))
    assert body["per_day"][0] == {"date": "2026-11-30", "opened": 1, "resolved": 0}
    assert sum(day["opened"] for day in body["per_day"]) == 1


# -- who may, and what is refused -------------------------------------------------------------


@pytest.mark.parametrize(("caller", "status", "code"), managers_only(200))
def test_who_may_read_the_stats(clients, desk, caller, status, code):
    response = clients[caller].get(STATS)
    assert response.status_code == status
    if code is not None:
        assert response.json()["code"] == code
        assert "per_day" not in response.content.decode()


@pytest.mark.parametrize(
    "days", ["8", "0", "-7", "1", "14", "seven", "7.0", " 7", "07", "30d", "x" * 5000]
)
def test_other_periods_are_400(clients, team, days):
    response = clients["manager"].get(STATS, {"days": days})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "days" in response.json()["errors"]


def test_a_bot_is_refused_before_its_query_is_read(clients):
    response = clients["bot"].get(STATS, {"days": "bogus"})
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")


@pytest.mark.parametrize("days", [7, 30, "7", "30"])
def test_the_service_takes_7_or_30(team, days):
    assert stats.stats(Actor.for_manager(team.anna), days, now=NOW)["days"] == int(days)


@pytest.mark.parametrize("days", [8, 0, True, None, 7.0, "x", [7]])
def test_the_service_refuses_other_periods(team, days):
    with pytest.raises(Invalid):
        stats.stats(Actor.for_manager(team.anna), days, now=NOW)


def test_the_service_refuses_a_bot(bot_actor):
    with pytest.raises(PermissionDenied):
        stats.stats(bot_actor, 7)


# -- queries -----------------------------------------------------------------------------------


def test_a_constant_number_of_queries_whatever_the_data(seed, team, django_assert_num_queries):
    with django_assert_num_queries(stats.QUERIES):
        stats.compute(30, now=NOW)
    for day in range(1, 7):
        for hour in (8, 9, 10):
            opened = at(day, hour)
            seed.ticket(
                opened,
                replies=((team.anna, opened + timedelta(minutes=5)),),
                resolved=opened + timedelta(hours=1),
                rating=(day % 5 + 1, opened + timedelta(hours=2)),
            )
            seed.ticket(opened, replies=((team.bob, opened + timedelta(minutes=9)),))
    with django_assert_num_queries(stats.QUERIES):
        body = stats.compute(30, now=NOW)
    assert body["ratings"]["count"] == 18
    assert [m["username"] for m in body["managers"]] == ["anna", "bob"]


def test_the_request_costs_the_same_whatever_the_data(clients, seed, team, frozen):
    client = clients["manager"]
    client.get(STATS)  # the token's first lookup is cached after
    with CaptureQueriesContext(connection) as empty:
        client.get(STATS)
    for hour in range(8, 14):
        seed.ticket(at(5, hour), replies=((team.bob, at(5, hour, 5)),), resolved=at(5, hour, 30))
    with CaptureQueriesContext(connection) as busy:
        assert client.get(STATS).json()["per_day"][-2]["resolved"] == 6
    assert len(busy) == len(empty)

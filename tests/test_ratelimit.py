"""The rate limit's sliding window (two weighted counters), with a clock the test moves."""

from __future__ import annotations

import pytest
from django.core.cache import caches

from support import ratelimit
from support.actors import Actor
from support.exceptions import RateLimited


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch, settings) -> Clock:
    settings.SUPPORT_THROTTLE_RATES = {"bot": "4/min", "manager": None}
    caches["default"].clear()
    clock = Clock(600.0)  # the start of a one-minute window
    monkeypatch.setattr("support.ratelimit.time.time", clock)
    return clock


def spend_until_refused(actor: Actor, tries: int = 10) -> tuple[int, float]:
    for spent in range(tries):
        try:
            ratelimit.spend(actor)
        except RateLimited as refusal:
            return spent, refusal.retry_after
    return tries, 0.0


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("first_at", "then_at", "allowed_then"),
    [
        (0, 30, 0),  # the same window: the budget is spent
        (0, 60, 0),  # the next window begins: the previous one still counts whole
        (0, 75, 1),  # a quarter of it has slid out: one request's worth
        (0, 90, 2),  # half
        (0, 120, 4),  # all of it
        (45, 60, 0),  # spent late in the window: it weighs on the next one
    ],
)
def test_the_window_slides(bot_actor, clock, first_at, then_at, allowed_then):
    clock.now = 600.0 + first_at
    assert spend_until_refused(bot_actor)[0] == 4
    clock.now = 600.0 + then_at
    assert spend_until_refused(bot_actor)[0] == allowed_then


@pytest.mark.django_db
def test_retry_after_says_when_a_request_would_pass(bot_actor, clock):
    clock.now = 610.0
    spent, wait = spend_until_refused(bot_actor)
    assert spent == 4
    assert 0 < wait <= 60
    clock.now += wait + 0.01
    ratelimit.spend(bot_actor)  # no refusal


@pytest.mark.parametrize(
    ("current", "previous", "into", "expected"),
    [
        (4, 0, 10.0, 50.0),  # this window is full: until it has slid out past the limit
        (2, 4, 0.0, 30.0),  # half of the previous window must slide out
        (0, 8, 15.0, 15.0),
    ],
)
def test_retry_after(current, previous, into, expected):
    assert ratelimit.retry_after(4, 60, into, current, previous) == pytest.approx(expected)

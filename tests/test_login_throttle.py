"""Failed sign-ins pause sign-in per username and per address (support.login_throttle).

Through ``django.contrib.auth.authenticate`` (what every login view calls), the
console's and the admin's forms, and the example project's own login page.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import Permission, User
from django.core.cache import cache
from django.test import RequestFactory, override_settings

from support.login_throttle import (
    BACKEND,
    ThrottledAdminAuthenticationForm,
    ThrottledAuthenticationForm,
    paused_for,
)

pytestmark = pytest.mark.django_db

BACKENDS = [BACKEND, "django.contrib.auth.backends.ModelBackend"]
RATES = {"username": "3/h", "address": "5/h"}
PASSWORD = "correct horse"


@pytest.fixture(autouse=True)
def throttled(frozen_rate_clock: float) -> Any:
    cache.clear()
    with override_settings(AUTHENTICATION_BACKENDS=BACKENDS, SUPPORT_LOGIN_FAILURE_RATES=RATES):
        yield
    cache.clear()


@pytest.fixture
def manager() -> User:
    user = User.objects.create_user("anna", password=PASSWORD, is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="manage_tickets"))
    return user


def request_from(address: str) -> Any:
    return RequestFactory().post("/accounts/login/", REMOTE_ADDR=address)


def sign_in(username: str, password: str, address: str = "203.0.113.7") -> User | None:
    return authenticate(request_from(address), username=username, password=password)


def fail(times: int, username: str = "anna", address: str = "203.0.113.7") -> None:
    for _ in range(times):
        assert sign_in(username, "wrong", address) is None


def test_a_username_that_failed_its_budget_is_paused_even_with_the_right_password(manager):
    fail(2)
    assert sign_in("anna", PASSWORD) == manager  # two failures: still allowed
    fail(3)
    assert sign_in("anna", PASSWORD) is None
    # From another address too: the budget is the username's.
    assert sign_in("anna", PASSWORD, "198.51.100.1") is None
    assert paused_for(request_from("198.51.100.1"), "anna") is not None


def test_an_address_that_failed_its_budget_is_paused_for_every_username(manager):
    for name in ("a", "b", "c", "d", "e"):
        fail(1, username=name)
    assert sign_in("anna", PASSWORD) is None
    assert sign_in("anna", PASSWORD, "198.51.100.1") == manager


@pytest.mark.parametrize(
    ("rates", "after_failures", "signed_in"),
    [
        ({"username": "3/h", "address": "5/h"}, 3, False),
        ({"username": None, "address": "5/h"}, 3, True),  # None turns the username's off
        ({"username": None, "address": None}, 20, True),
        ({"username": "3/h", "address": None}, 3, False),
        ({"address": "100/h"}, 10, False),  # a key left out keeps its default (10/h)
    ],
)
def test_each_budget_can_be_tuned_or_turned_off(manager, rates, after_failures, signed_in):
    with override_settings(SUPPORT_LOGIN_FAILURE_RATES=rates):
        fail(after_failures)
        assert (sign_in("anna", PASSWORD) == manager) is signed_in


def test_usernames_are_counted_whatever_their_case(manager):
    fail(2, username="ANNA")
    fail(1, username=" anna ")
    assert sign_in("anna", PASSWORD) is None


def test_successful_sign_ins_spend_nothing(manager):
    for _ in range(10):
        assert sign_in("anna", PASSWORD) == manager
    assert paused_for(request_from("203.0.113.7"), "anna") is None


def test_without_the_backend_nothing_is_counted_or_paused(manager):
    with override_settings(AUTHENTICATION_BACKENDS=["django.contrib.auth.backends.ModelBackend"]):
        fail(10)
        assert sign_in("anna", PASSWORD) == manager
    # Turned on afterwards: those failures were never counted.
    assert sign_in("anna", PASSWORD) == manager


def test_a_failing_cache_pauses_nobody(manager):
    caches = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                          "LOCATION": "redis://127.0.0.1:1/0"}}  # fmt: skip
    with override_settings(CACHES=caches):
        fail(5)
        assert sign_in("anna", PASSWORD) == manager


@pytest.mark.parametrize(
    "form_class", [ThrottledAuthenticationForm, ThrottledAdminAuthenticationForm]
)
def test_the_forms_say_that_sign_in_is_paused_and_for_how_long(manager, form_class):
    fail(3)
    form = form_class(request_from("203.0.113.7"), data={"username": "anna", "password": PASSWORD})
    assert not form.is_valid()
    assert [error.code for error in form.non_field_errors().as_data()] == ["too_many_attempts"]
    assert form.non_field_errors()[0].startswith("Too many failed sign-ins. Try again in ")
    assert form.paused_minutes is not None
    assert 1 <= form.paused_minutes <= 60


def test_a_form_before_the_pause_still_says_wrong_password(manager):
    form = ThrottledAuthenticationForm(
        request_from("203.0.113.7"), data={"username": "anna", "password": "wrong"}
    )
    assert not form.is_valid()
    assert [error.code for error in form.non_field_errors().as_data()] == ["invalid_login"]
    assert form.paused_minutes is None

"""Failed sign-ins counted per username and per client address; past the budget, refused.

A manager's password is the key to every ticket, so guessing it must be slow.
:class:`LoginThrottleBackend`, listed first in ``AUTHENTICATION_BACKENDS``,
refuses a sign-in before any backend checks a password when the username or
the address has failed more often this window than
``SUPPORT_LOGIN_FAILURE_RATES`` allows; every failed sign-in (Django's
``user_login_failed``, sent by ``authenticate()`` whatever the view) spends
from both budgets. So it covers the console's login, the admin's and DRF's
``obtain_auth_token`` alike, and a correct password does not get through a
locked username either. The counters are the rate limiter's
(:func:`support.ratelimit.spend_key`), in ``SUPPORT_THROTTLE_CACHE``: share
that cache between workers, or each counts on its own.

The address is ``REMOTE_ADDR``: behind a proxy, have the server set it from
the proxy's header (``uvicorn --proxy-headers``, ``daphne --proxy-headers``),
or every client is the proxy's one address.

:class:`ThrottledAuthenticationForm` (and its admin twin) says in words that
sign-in is paused, and for how long, instead of Django's "enter a correct
username and password".
"""

from __future__ import annotations

import math
from typing import Any

from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import PermissionDenied, ValidationError
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils.translation import ngettext

from support.conf import support_settings
from support.ratelimit import spend_key

BACKEND = "support.login_throttle.LoginThrottleBackend"
#: Cache keys of the two budgets (the username is folded to lower case).
_KEYS = {"username": "support-login-user-{}", "address": "support-login-addr-{}"}


def _budgets(request: HttpRequest | None, username: str | None) -> list[tuple[str, str]]:
    """``(cache key, rate)`` of each budget this attempt spends from."""
    names = {
        "username": (username or "").strip().lower() or None,
        "address": request.META.get("REMOTE_ADDR") if request is not None else None,
    }
    rates = support_settings.LOGIN_FAILURE_RATES
    return [
        (_KEYS[kind].format(name), rate)
        for kind, name in names.items()
        if name and (rate := rates.get(kind)) is not None
    ]


def paused_for(request: HttpRequest | None, username: str | None) -> float | None:
    """Seconds until this username and address may try again, or ``None`` if they may now."""
    waits = [spend_key(key, rate, count=False) for key, rate in _budgets(request, username)]
    return max((wait for wait in waits if wait is not None), default=None)


def _username(credentials: dict[str, Any]) -> str | None:
    value = credentials.get(get_user_model().USERNAME_FIELD, credentials.get("username"))
    return value if isinstance(value, str) else None


def _enabled() -> bool:
    return BACKEND in settings.AUTHENTICATION_BACKENDS


@receiver(user_login_failed)
def count_failure(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    """Every failed sign-in spends one from its username's and its address's budgets."""
    if _enabled():
        for key, rate in _budgets(request, _username(credentials)):
            spend_key(key, rate)


class LoginThrottleBackend:
    """Refuses (``PermissionDenied``: no later backend is asked) a paused username or address.

    It never signs anyone in: the backends after it do.
    """

    def authenticate(self, request: HttpRequest | None, **credentials: Any) -> None:
        if paused_for(request, _username(credentials)) is not None:
            raise PermissionDenied("too many failed sign-ins")
        return None

    def get_user(self, user_id: Any) -> None:
        return None


class _SaysPaused:
    """Checks the pause before the password, and says so with the time left."""

    request: HttpRequest | None
    #: Set when sign-in is paused: the minutes left (the login page says it in words).
    paused_minutes: int | None = None

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = self.cleaned_data  # type: ignore[attr-defined]
        wait = paused_for(self.request, cleaned.get("username")) if _enabled() else None
        if wait is not None:
            self.paused_minutes = minutes = max(1, math.ceil(wait / 60))
            raise ValidationError(
                ngettext(
                    "Too many failed sign-ins. Try again in %(minutes)d minute.",
                    "Too many failed sign-ins. Try again in %(minutes)d minutes.",
                    minutes,
                )
                % {"minutes": minutes},
                code="too_many_attempts",
            )
        return super().clean()  # type: ignore[misc,no-any-return]


class ThrottledAuthenticationForm(_SaysPaused, AuthenticationForm):
    """Django's sign-in form, saying when sign-in is paused (the console's login page)."""


class ThrottledAdminAuthenticationForm(_SaysPaused, AdminAuthenticationForm):
    """The admin's sign-in form, saying when sign-in is paused (``admin.site.login_form``)."""

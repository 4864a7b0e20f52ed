"""DRF authentication for the two sides: bot keys, and managers' tokens or sessions."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from support.botkeys import authenticate_bot_key
from support.models import BotKey

API_KEY_KEYWORD = "Api-Key"


class BotPrincipal:
    """``request.user`` for a bot: authenticated, but no Django user and no permissions."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None
    id = None

    def __init__(self, key: BotKey) -> None:
        self.key = key

    def __str__(self) -> str:
        return f"bot:{self.key.name}"

    def has_perm(self, perm: str, obj: Any = None) -> bool:
        return False

    def get_username(self) -> str:
        return str(self)


class BotKeyAuthentication(authentication.BaseAuthentication):
    """``Authorization: Api-Key <key>``."""

    def authenticate(self, request: Request) -> tuple[BotPrincipal, BotKey] | None:
        raw = parse_authorization(request.META.get("HTTP_AUTHORIZATION", ""), API_KEY_KEYWORD)
        if raw is None:
            return None
        key = authenticate_bot_key(raw)
        if key is None:
            raise exceptions.AuthenticationFailed(_("Invalid or revoked bot key."))
        return BotPrincipal(key), key

    def authenticate_header(self, request: Request) -> str:
        return API_KEY_KEYWORD


def parse_authorization(header: str, keyword: str) -> str | None:
    """The credential of an ``Authorization: <keyword> <credential>`` header, or ``None``."""
    scheme, _sep, credential = header.strip().partition(" ")
    if scheme.lower() != keyword.lower():
        return None
    credential = credential.strip()
    if not credential or " " in credential:
        raise exceptions.AuthenticationFailed(_("Malformed Authorization header."))
    return credential


def authentication_classes() -> list[type[authentication.BaseAuthentication]]:
    """Bot keys, DRF tokens when ``rest_framework.authtoken`` is installed, sessions."""
    classes: list[type[authentication.BaseAuthentication]] = [BotKeyAuthentication]
    if apps.is_installed("rest_framework.authtoken"):
        classes.append(authentication.TokenAuthentication)
    # The browser's session; DRF enforces CSRF on unsafe methods for it.
    classes.append(authentication.SessionAuthentication)
    return classes

"""DRF's side of :mod:`support.credentials`: one authentication class for the API.

``request.user`` is the manager, or a :class:`BotPrincipal` for a bot;
``request.auth`` is the :class:`~support.actors.Actor` when a header named it.
A staff bot acting for a manager (``X-Support-Acting-Telegram-Id``) is that
manager here: ``request.user`` is the manager, ``request.auth`` the acting actor.
"""

from __future__ import annotations

from typing import Any

from rest_framework import authentication
from rest_framework.request import Request

from support import credentials
from support.models import BotKey


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


class SupportAuthentication(authentication.SessionAuthentication):
    """``Authorization: Api-Key …`` or ``Token …``, else the session (with DRF's CSRF check)."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        acting = request.META.get(credentials.ACTING_META)
        actor = credentials.actor_for_header(request.META.get("HTTP_AUTHORIZATION"))
        if actor is None:
            signed_in = super().authenticate(request)
            if signed_in is not None and acting is not None:
                credentials.act_for(credentials.actor_for_user(signed_in[0]), acting)  # 400
            return signed_in
        if acting is not None:
            actor = credentials.act_for(actor, acting)
        user = actor.manager if actor.bot is None else BotPrincipal(actor.bot)
        return user, actor

    def authenticate_header(self, request: Request) -> str:
        return credentials.API_KEY

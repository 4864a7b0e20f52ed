"""Credentials for the realtime transports, the same ones the REST API takes.

WebSocket, SSE and long-poll accept ``Authorization: Api-Key <key>`` (bots),
``Authorization: Token <key>`` (managers) or the session cookie (managers in
a browser). Only managers and bots get an :class:`~support.actors.Actor`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from channels.db import database_sync_to_async
from django.apps import apps
from django.http import HttpRequest

from support.actors import Actor, is_manager
from support.botkeys import authenticate_bot_key
from support.exceptions import NotAuthenticated, PermissionDenied


def actor_for_authorization(header: str) -> Actor:
    """The actor named by an ``Authorization`` header; raises if it names nobody."""
    scheme, _sep, credential = header.strip().partition(" ")
    credential = credential.strip()
    if not credential or " " in credential:
        raise NotAuthenticated()
    if scheme.lower() == "api-key":
        key = authenticate_bot_key(credential)
        if key is None:
            raise NotAuthenticated()
        return Actor.for_bot(key)
    if scheme.lower() == "token" and apps.is_installed("rest_framework.authtoken"):
        from rest_framework.authtoken.models import Token

        token = Token.objects.select_related("user").filter(key=credential).first()
        if token is None or not token.user.is_active:
            raise NotAuthenticated()
        return actor_for_user(token.user)
    raise NotAuthenticated()


def actor_for_user(user: Any) -> Actor:
    """A signed-in user is an actor if a manager; 401 if anonymous, 403 otherwise."""
    if user is None or not getattr(user, "is_authenticated", False):
        raise NotAuthenticated()
    if not is_manager(user):
        raise PermissionDenied()
    return Actor.for_manager(user)


def actor_for_request(request: HttpRequest) -> Actor:
    """For plain Django views (SSE, long-poll): the header first, else the session."""
    header = request.headers.get("Authorization")
    if header:
        return actor_for_authorization(header)
    return actor_for_user(getattr(request, "user", None))


actor_for_request_async: Callable[[HttpRequest], Awaitable[Actor]] = database_sync_to_async(
    actor_for_request
)


def still_allowed(actor: Actor) -> bool:
    """Re-check a long-lived connection's credential (a key revoked meanwhile, say)."""
    if actor.bot is not None:
        from support.models import BotKey

        return BotKey.objects.active().filter(pk=actor.bot.pk).exists()
    if actor.manager is not None:
        user_model = type(actor.manager)
        fresh = user_model._default_manager.filter(pk=actor.manager.pk).first()
        return fresh is not None and is_manager(fresh)
    return False


still_allowed_async: Callable[[Actor], Awaitable[bool]] = database_sync_to_async(still_allowed)

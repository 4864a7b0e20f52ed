"""Credentials for the realtime transports, the same ones the REST API takes.

WebSocket, SSE and long-poll accept ``Authorization: Api-Key <key>`` (bots),
``Authorization: Token <key>`` (managers) or the session cookie (managers in
a browser). Only managers and bots get an :class:`~support.actors.Actor`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from django.apps import apps
from django.contrib.auth import get_user_model
from django.http import HttpRequest

from support.actors import Actor, is_manager
from support.botkeys import authenticate_bot_key
from support.exceptions import NotAuthenticated, PermissionDenied
from support.realtime.db import db_read


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


actor_for_request_async: Callable[[HttpRequest], Awaitable[Actor]] = db_read(actor_for_request)


#: A credential, whichever connection uses it: ``("bot", key id)`` or ``("manager", user id)``.
CredentialId = tuple[str, int]


def credential_id(actor: Actor) -> CredentialId:
    if actor.bot is not None:
        return ("bot", int(actor.bot.pk))
    return ("manager", int(actor.manager.pk))


def revoked_credentials(credentials: Iterable[CredentialId]) -> set[CredentialId]:
    """Those of *credentials* that may no longer act (key revoked, manager no longer one).

    One query for all the bot keys and one for all the users, plus Django's
    permission check per distinct manager: a worker re-checks its open
    connections with this in one go, so the cost follows the number of
    credentials (a handful of managers, the bots), not of connections.
    """
    from support.models import BotKey

    wanted = set(credentials)
    bot_ids = {pk for kind, pk in wanted if kind == "bot"}
    manager_ids = {pk for kind, pk in wanted if kind == "manager"}
    allowed: set[CredentialId] = set()
    if bot_ids:
        active = BotKey.objects.active().filter(pk__in=bot_ids).values_list("pk", flat=True)
        allowed.update(("bot", int(pk)) for pk in active)
    if manager_ids:
        users = get_user_model()._default_manager.filter(pk__in=manager_ids)
        allowed.update(("manager", int(user.pk)) for user in users if is_manager(user))
    return wanted - allowed


revoked_credentials_async: Callable[[Iterable[CredentialId]], Awaitable[set[CredentialId]]] = (
    db_read(revoked_credentials)
)

"""WebSocket routing: origin check, then credentials, then the consumer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from importlib import import_module
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlparse

from channels.routing import URLRouter
from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.contrib.auth import get_user
from django.http import parse_cookie
from django.http.request import validate_host
from django.urls import path

from support.actors import Actor
from support.conf import support_settings
from support.credentials import ACTING_HEADER, act_for, authenticate
from support.db import pooled
from support.error_bodies import error_for
from support.exceptions import SupportError
from support.realtime.consumer import SupportConsumer
from support.scope import remember_server_send

Scope = dict[str, Any]


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin1")
    return None


class OriginCheck:
    """Refuse handshakes whose ``Origin`` is not one of ``ALLOWED_HOSTS``.

    A browser always sends ``Origin`` on a WebSocket handshake, so a page on
    another site can never ride on the manager's cookie. A handshake without
    it comes from a non-browser client (a bot, the SDK), which proves who it
    is with its ``Authorization`` header instead.
    """

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> Any:
        origin = _header(scope, b"origin")
        if origin is not None and not self.allowed(origin):
            return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)

    @staticmethod
    def allowed(origin: str) -> bool:
        host = urlparse(origin).hostname
        if not host:
            return False
        allowed_hosts = settings.ALLOWED_HOSTS
        if settings.DEBUG and not allowed_hosts:
            allowed_hosts = [".localhost", "127.0.0.1", "[::1]"]
        return validate_host(host, allowed_hosts)


class ActorMiddleware:
    """Put the caller's :class:`~support.actors.Actor` (or ``None``) in ``scope``.

    The ``Authorization`` header wins; otherwise the user of the session the
    cookie names. Both are looked up in one call in :mod:`support.db`'s
    threads, and nothing wraps the connection after the handshake: channels'
    ``AuthMiddlewareStack`` would load the session for every handshake, token
    or not, in channels' single database thread, and add a layer to every
    frame sent. When the lookup itself fails (the database can't serve now),
    the error goes in ``scope`` instead, for the consumer to send.
    """

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> Any:
        # The scope is this connection's own copy already (remember_server_send
        # made it, outermost): one copy fewer kept for the connection's life.
        try:
            scope["support_actor"] = await _resolve_actor(scope)
        except Exception as exc:
            scope["support_actor"] = error_for(exc, where="WebSocket handshake")
        return await self.application(scope, receive, send)


def resolve_actor(scope: Scope) -> Actor | None:
    """The handshake's actor, ``None`` for no valid credential (refused with 403).

    A staff bot's acting header raises 400 ``invalid`` (a stream runs as the
    bot itself): the consumer says so in an ``error`` frame and closes.
    """
    header = _header(scope, b"authorization")
    try:
        actor = authenticate(header, None if header is not None else session_user(scope))
    except SupportError:
        return None
    acting = _header(scope, ACTING_HEADER.lower().encode())
    if acting is not None:
        act_for(actor, acting, stream=True)
    return actor


def session_user(scope: Scope) -> Any | None:
    """The user whose session the handshake's cookie names, as Django's auth checks it."""
    key = parse_cookie(_header(scope, b"cookie") or "").get(settings.SESSION_COOKIE_NAME)
    if not key:
        return None
    store = import_module(settings.SESSION_ENGINE).SessionStore
    return get_user(SimpleNamespace(session=store(key)))  # type: ignore[arg-type]  # only .session is read


_resolve_actor: Callable[[Scope], Awaitable[Actor | None]] = pooled(resolve_actor)


def websocket_urlpatterns() -> list[Any]:
    return [path(route, SupportConsumer.as_asgi()) for route in support_settings.WEBSOCKET_PATHS]


def websocket_application() -> Any:
    """The app's WebSocket side, ready for ``ProtocolTypeRouter``."""
    stack = OriginCheck(ActorMiddleware(URLRouter(websocket_urlpatterns())))
    return remember_server_send(stack)

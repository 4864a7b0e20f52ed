"""Plain async Django views of the app (no DRF): GET only, a manager or a bot, JSON errors.

The SSE and long-poll streams (:func:`support_view`) and the attachment
downloads (:func:`acting_view`) are built on it.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBase

from support.actors import Actor
from support.credentials import ACTING_HEADER, authenticate
from support.db import pooled
from support.error_bodies import error_for, error_response
from support.exceptions import MethodNotAllowed

#: ``view(request, actor, **url_kwargs)``.
View = Callable[..., Awaitable[HttpResponseBase]]


@pooled
def actor_for_request(request: HttpRequest, *, stream: bool = True) -> Actor:
    """The caller of a plain view: the ``Authorization`` header, else the session.

    A staff bot's ``X-Support-Acting-Telegram-Id`` is refused by a *stream*
    (400), and acts for the manager otherwise.
    """
    return authenticate(
        request.headers.get("Authorization"),
        getattr(request, "user", None),
        request.headers.get(ACTING_HEADER),
        stream=stream,
    )


def json_text_response(body: str, status: int = 200) -> HttpResponse:
    """A response from JSON text that is already built (events are serialised once)."""
    return HttpResponse(body, status=status, content_type="application/json")


def support_view(view: View) -> Callable[..., Awaitable[HttpResponseBase]]:
    """GET only; authenticate a manager or a bot; render :class:`SupportError` as JSON.

    For streams: a staff bot streams as itself, so the acting header is a 400.
    """
    return _plain(view, stream=True)


def acting_view(view: View) -> Callable[..., Awaitable[HttpResponseBase]]:
    """:func:`support_view` for a request a staff bot may make acting for a manager."""
    return _plain(view, stream=False)


def _plain(view: View, *, stream: bool) -> Callable[..., Awaitable[HttpResponseBase]]:
    @wraps(view)
    async def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        try:
            if request.method not in ("GET", "HEAD"):
                raise MethodNotAllowed(str(request.method), ["GET", "HEAD"])
            actor = await actor_for_request(request, stream=stream)
            return await view(request, actor, *args, **kwargs)
        except Exception as exc:  # every failure is the JSON shape, a bug a logged 500
            return error_response(error_for(exc, request))

    wrapper.csrf_exempt = True  # type: ignore[attr-defined]  # GET only: nothing to forge
    return wrapper


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

"""Plain-Django plumbing shared by the SSE and long-poll views."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse

from support.actors import Actor
from support.exceptions import SupportError
from support.realtime.auth import actor_for_request_async

View = Callable[[HttpRequest, Actor], Awaitable[HttpResponse]]


def error_response(error: SupportError) -> JsonResponse:
    response = JsonResponse(error.as_dict(), status=error.status)
    if error.status == 401:
        response["WWW-Authenticate"] = "Api-Key"
    return response


def json_text_response(body: str, status: int = 200) -> HttpResponse:
    """A response from JSON text that is already built (events are serialised once)."""
    return HttpResponse(body, status=status, content_type="application/json")


def support_view(view: View) -> Callable[[HttpRequest], Awaitable[HttpResponse]]:
    """GET only; authenticate a manager or a bot; render :class:`SupportError` as JSON."""

    @wraps(view)
    async def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method not in ("GET", "HEAD"):
            response = JsonResponse(
                {"code": "method_not_allowed", "detail": f"Method {request.method} not allowed."},
                status=405,
            )
            response["Allow"] = "GET, HEAD"
            return response
        try:
            actor = await actor_for_request_async(request)
            return await view(request, actor)
        except SupportError as error:
            return error_response(error)

    wrapper.csrf_exempt = True  # type: ignore[attr-defined]  # GET only: nothing to forge
    return wrapper


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

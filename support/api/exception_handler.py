"""DRF's exception handler: every API error in the one shape (:mod:`support.error_bodies`)."""

from __future__ import annotations

from typing import Any

from rest_framework.response import Response
from rest_framework.views import set_rollback

from support.error_bodies import error_for


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """Service, DRF and Django errors as they are; anything else a logged JSON 500."""
    request = context.get("request")
    error = error_for(exc, getattr(request, "_request", request))
    set_rollback()
    return Response(error.as_dict(), status=error.status, headers=error.headers())

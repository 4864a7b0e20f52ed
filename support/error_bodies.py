"""One error body for every transport: ``{"code", "detail", "errors"?}`` and its status.

DRF's exception handler, the plain views (long-poll, SSE, the API's JSON
404), and WebSocket ``error`` frames all render through here, so a client
reads one shape whichever way it came. Exceptions from DRF and Django are
first translated into :class:`~support.exceptions.SupportError`; anything
else is a bug, logged with a request id that the 500 body carries too.
"""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.db import DatabaseError
from django.http import Http404, HttpRequest, JsonResponse
from django.utils.translation import gettext as _
from rest_framework import exceptions as drf

from support.exceptions import (
    Invalid,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    RateLimited,
    ServerError,
    SupportError,
    TooLarge,
    Unavailable,
)

#: The name documented for the 500s logged here (docs/api.md), kept from before this module
#: was renamed.
logger = logging.getLogger("support.errors")

#: DRF's codes renamed to the API's documented ones.
DRF_CODES = {
    "parse_error": "bad_json",
    "throttled": "rate_limited",
    "authentication_failed": "not_authenticated",
}

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def _flatten(detail: Any) -> list[str]:
    if isinstance(detail, dict):
        return [f"{key}: {msg}" for key, value in detail.items() for msg in _flatten(value)]
    if isinstance(detail, list):
        return [msg for item in detail for msg in _flatten(item)]
    return [str(detail)]


def field_errors(detail: Any) -> dict[str, list[str]]:
    """DRF's validation detail as ``{field: [message, ...]}``."""
    errors = detail if isinstance(detail, dict) else {"non_field_errors": _flatten(detail)}
    return {str(key): _flatten(value) for key, value in errors.items()}


def _from_drf(exc: drf.APIException) -> SupportError:
    if isinstance(exc, drf.ValidationError):
        return Invalid(_("Invalid input."), errors=field_errors(exc.detail))
    if isinstance(exc, drf.Throttled):
        return RateLimited(getattr(exc, "wait", None) or 1)
    if isinstance(exc, drf.NotAuthenticated | drf.AuthenticationFailed):
        return NotAuthenticated(" ".join(_flatten(exc.detail)))
    code = exc.get_codes()
    code = code if isinstance(code, str) else exc.default_code
    error = SupportError(" ".join(_flatten(exc.detail)))
    error.status = exc.status_code
    error.code = DRF_CODES.get(code, code)
    return error


def as_support_error(exc: BaseException) -> SupportError | None:
    """*exc* as the API's error, or ``None`` when it is not one the API expects."""
    if isinstance(exc, SupportError):
        return exc
    if isinstance(exc, drf.APIException):
        return _from_drf(exc)
    if isinstance(exc, Http404):
        return NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        return PermissionDenied()
    if isinstance(exc, RequestDataTooBig | TooManyFieldsSent):
        return TooLarge()
    if isinstance(exc, DatabaseError) and is_contention(exc):
        return Unavailable()
    return None


#: PostgreSQL's "try again" states: serialization failure, deadlock, lock timeout.
_RETRYABLE_SQLSTATES = {"40001", "40P01", "55P03"}


def is_contention(exc: BaseException) -> bool:
    """Whether a database error means "busy, retry" rather than a bug.

    SQLite says "database is locked" when the busy timeout ran out;
    PostgreSQL gives a SQLSTATE on the driver's exception.
    """
    cause = exc.__cause__
    if getattr(cause, "sqlstate", None) in _RETRYABLE_SQLSTATES:
        return True
    message = str(exc).lower()
    return "database is locked" in message or "database table is locked" in message


def request_id(request: HttpRequest | None) -> str:
    """The client's ``X-Request-ID`` when it is a sane token, else a new one."""
    given = request.headers.get("X-Request-ID", "") if request is not None else ""
    return given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex


def server_error(
    exc: BaseException, request: HttpRequest | None = None, *, where: str = ""
) -> ServerError:
    """Log an unexpected exception under a request id; the 500 the client gets."""
    rid = request_id(request)
    if request is not None:
        where = f"{request.method} {request.path}"
    logger.error("Unhandled error in %s [request_id=%s]", where, rid, exc_info=exc)
    return ServerError(rid)


def error_for(
    exc: BaseException, request: HttpRequest | None = None, *, where: str = ""
) -> SupportError:
    """Whatever was raised, the error to send: expected ones as they are, others a 500."""
    return as_support_error(exc) or server_error(exc, request, where=where)


def error_response(error: SupportError) -> JsonResponse:
    response = JsonResponse(error.as_dict(), status=error.status)
    for name, value in error.headers().items():
        response[name] = value
    return response


def error_frame(error: SupportError, request_id: Any) -> dict[str, Any]:
    """The WebSocket ``error`` frame: the REST body plus its HTTP-equivalent ``status``.

    ``request_id`` is the command's; a 500's log id goes in ``log_id``.
    """
    body = error.as_dict()
    if "request_id" in body:
        body["log_id"] = body.pop("request_id")
    return {"type": "error", "request_id": request_id, "status": error.status, **body}

"""One error body for every transport: ``{"code", "detail", "errors"?}`` and its status.

DRF's exception handler, the plain views (long-poll, SSE, the API's JSON
404), and WebSocket ``error`` frames all render through here, so a client
reads one shape whichever way it came. Exceptions from DRF and Django are
first translated into :class:`~support.exceptions.SupportError`; a database
that can't serve now (unreachable, or busy) is a ``503 busy``, logged as one
warning line; anything else is a bug, logged with a request id that the 500
body carries too.
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
    DatabaseUnreachable,
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
    if is_unreachable(exc):
        return DatabaseUnreachable()
    if is_contention(exc):
        return Unavailable()
    return None


#: SQLSTATEs (a whole class by its two characters, or one code) that mean the
#: database can't be reached or used now: connection exceptions, shutdowns,
#: no connection slot left.
UNREACHABLE_SQLSTATES = frozenset({"08", "57P01", "57P02", "57P03", "53300"})
#: SQLSTATEs that mean "busy, retry": a serialization failure, a deadlock, a
#: lock or statement timeout, a server short of resources (disk, memory), an
#: operating system error.
BUSY_SQLSTATES = frozenset({"40001", "40P01", "55P03", "57014", "53", "58"})
#: The database drivers whose ``OperationalError`` or ``InterfaceError`` without
#: a SQLSTATE is about the connection (refused, lost, closed, a pool's timeout),
#: never about the request. (SQLite's ``OperationalError`` also says "no such
#: table", so it is not one of them.)
_DRIVERS = frozenset({"psycopg", "psycopg2", "psycopg_pool"})
_CONNECTION_ERRORS = frozenset({"OperationalError", "InterfaceError"})


def _chain(exc: BaseException) -> list[BaseException]:
    """*exc* and what it was raised from (Django's database errors wrap the driver's)."""
    links = [exc]
    while (cause := links[-1].__cause__) is not None and len(links) < 8:
        links.append(cause)
    return links


def _sqlstate(exc: BaseException) -> str | None:
    state = getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)  # psycopg 3, 2
    return state if isinstance(state, str) else None


def _matches(state: str, states: frozenset[str]) -> bool:
    return state in states or state[:2] in states


def is_unreachable(exc: BaseException) -> bool:
    """Whether *exc* says the database can't be reached: refused, lost, closed, shut down,
    out of connections, or a connection pool that gave none in time."""
    for link in _chain(exc):
        state = _sqlstate(link)
        if state is not None:
            return _matches(state, UNREACHABLE_SQLSTATES)
        for cls in type(link).__mro__:
            if cls.__name__ in _CONNECTION_ERRORS and cls.__module__.split(".")[0] in _DRIVERS:
                return True
    return False


def is_unavailable(exc: BaseException) -> bool:
    """Whether *exc* means the database can't serve now (a ``503 busy``), not a bug."""
    return isinstance(as_support_error(exc), Unavailable)


def is_contention(exc: BaseException) -> bool:
    """Whether a database error means "busy, retry" rather than a bug.

    SQLite says "database is locked" when the busy timeout ran out;
    PostgreSQL gives a SQLSTATE on the driver's exception.
    """
    if not isinstance(exc, DatabaseError):
        return False
    if any((state := _sqlstate(link)) and _matches(state, BUSY_SQLSTATES) for link in _chain(exc)):
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


def unavailable(
    error: Unavailable, exc: BaseException, request: HttpRequest | None = None, *, where: str = ""
) -> Unavailable:
    """Log a database that can't serve now: one warning line under a request id, no traceback.

    It is no bug of the app's (the database restarts, or is down), so it is no
    500 and no traceback; the 503 carries the id, which the line names.
    """
    rid = request_id(request)
    if request is not None:
        where = f"{request.method} {request.path}"
    reason = " ".join(str(exc).split()) or type(exc).__name__
    logger.warning("%s in %s [request_id=%s]: %s", error.code, where, rid, reason[:300])
    error.request_id = rid
    return error


def error_for(
    exc: BaseException, request: HttpRequest | None = None, *, where: str = ""
) -> SupportError:
    """Whatever was raised, the error to send: expected ones as they are, others a 500.

    A database that can't serve now is a logged 503 (:func:`unavailable`).
    """
    error = as_support_error(exc)
    if isinstance(error, Unavailable):
        return unavailable(error, exc, request, where=where)
    return error or server_error(exc, request, where=where)


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

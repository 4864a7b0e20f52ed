"""The SDK's errors: one hierarchy, one class per HTTP status the server sends.

``SupportError`` > ``APIError`` > ``APIStatusError`` > one class per status
(with ``code`` and ``detail`` from the error body); ``APIConnectionError`` >
``APITimeoutError`` for requests that got no answer. The statuses are those of
the server's error table (docs/api.md): 400, 401, 403, 404, 405, 409, 410,
413, 415, 429, 500 and 503; any other status raises ``APIStatusError`` itself
(any other 5xx, e.g. a proxy's 502, an ``InternalServerError``).
"""

from __future__ import annotations

from typing import Any, Literal

import httpx


class SupportError(Exception):
    """Base of every error this SDK raises."""


class APIError(SupportError):
    """A request to the API failed."""

    def __init__(self, message: str, *, request: httpx.Request | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.request = request


class APIResponseValidationError(APIError):
    """The server answered 2xx with something that is not what the API documents."""


class APIConnectionError(APIError):
    """No answer: the connection failed or broke."""


class APITimeoutError(APIConnectionError):
    """No answer in time."""


class APIStatusError(APIError):
    """The server answered with an error status."""

    status_code: int

    def __init__(
        self,
        message: str,
        *,
        response: httpx.Response | None = None,
        status_code: int | None = None,
        code: str | None = None,
        detail: str | None = None,
        errors: dict[str, list[str]] | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message, request=response.request if response is not None else None)
        self.response = response
        if status_code is not None:
            self.status_code = status_code
        elif response is not None:
            self.status_code = response.status_code
        self.code = code
        self.detail = detail
        self.errors = errors or {}
        self.body = body


class BadRequestError(APIStatusError):
    """400: ``invalid`` (with ``errors`` per field), ``bad_json``, ``unknown_user``, …"""

    status_code: Literal[400] = 400


class InvalidLinkCodeError(BadRequestError):
    """400 ``invalid_link_code``: a Telegram link code that is wrong, used or expired."""


class AuthenticationError(APIStatusError):
    status_code: Literal[401] = 401


class PermissionDeniedError(APIStatusError):
    status_code: Literal[403] = 403


class TelegramNotLinkedError(PermissionDeniedError):
    """403 ``telegram_not_linked``: a staff bot acted for a Telegram id no manager linked
    (the member should link their account: a code from the console, ``/link CODE``)."""


class UserBlockedError(PermissionDeniedError):
    """403 ``user_blocked``: a manager blocked this Telegram user; the desk takes nothing
    from them (no ticket, no message, no edit, no rating) until they are unblocked."""


class NotFoundError(APIStatusError):
    status_code: Literal[404] = 404


class MethodNotAllowedError(APIStatusError):
    """405: the path does not take this method (the ``Allow`` header lists those it takes)."""

    status_code: Literal[405] = 405


class ConflictError(APIStatusError):
    """409: ``already_assigned``, ``assigned_to_other``, ``ticket_resolved``, …"""

    status_code: Literal[409] = 409


class CursorExpiredError(APIStatusError):
    """410: the cursor is older than the server's event retention; re-read over REST."""

    status_code: Literal[410] = 410


class RequestTooLargeError(APIStatusError):
    """413 ``too_large``: a body over the server's limit (``frame_too_large`` on WebSocket)."""

    status_code: Literal[413] = 413


class UnsupportedMediaTypeError(APIStatusError):
    """415 ``unsupported_media_type``: a body of a ``Content-Type`` the API does not read."""

    status_code: Literal[415] = 415


class UnprocessableEntityError(APIStatusError):
    """422. This server never answers it (invalid input is a 400 ``BadRequestError``); the
    class stays, as the SDK's specification lists it, for a gateway in front that does."""

    status_code: Literal[422] = 422


class RateLimitError(APIStatusError):
    """429: ``rate_limited`` (with ``Retry-After``), ``too_many_streams``."""

    status_code: Literal[429] = 429


class InternalServerError(APIStatusError):
    """500 ``server_error`` (its ``request_id`` is in the body and the server's log), or
    any other status of 500 or more: ``except InternalServerError`` catches every 5xx."""


class ServiceUnavailableError(InternalServerError):
    """503 ``busy``: the server could not take the request now (it did not run); retry."""

    status_code: Literal[503] = 503


class StreamError(SupportError):
    """An event stream could not go on (every transport failed, or a fatal refusal)."""


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    405: MethodNotAllowedError,
    409: ConflictError,
    410: CursorExpiredError,
    413: RequestTooLargeError,
    415: UnsupportedMediaTypeError,
    422: UnprocessableEntityError,
    429: RateLimitError,
    503: ServiceUnavailableError,
}


#: Codes with a class of their own (a subclass of their status's class).
_BY_CODE: dict[str, type[APIStatusError]] = {
    "telegram_not_linked": TelegramNotLinkedError,
    "invalid_link_code": InvalidLinkCodeError,
    "user_blocked": UserBlockedError,
}


def error_class(status: int, code: str | None = None) -> type[APIStatusError]:
    default = InternalServerError if status >= 500 else APIStatusError
    by_status = _BY_STATUS.get(status, default)
    by_code = _BY_CODE.get(code or "")
    if by_code is not None and issubclass(by_code, by_status):
        return by_code
    return by_status


def from_error_body(
    status: int, body: Any, response: httpx.Response | None = None
) -> APIStatusError:
    """The error for an error body ``{"code", "detail", "errors"?}`` (HTTP or WebSocket)."""
    code = detail = None
    errors = None
    if isinstance(body, dict):
        code = body.get("code") if isinstance(body.get("code"), str) else None
        detail = body.get("detail") if isinstance(body.get("detail"), str) else None
        errors = body.get("errors") if isinstance(body.get("errors"), dict) else None
    message = f"{status} {code or 'error'}: {detail or body!r}"
    return error_class(status, code)(
        message,
        response=response,
        status_code=status,
        code=code,
        detail=detail,
        errors=errors,
        body=body,
    )


def make_status_error(response: httpx.Response) -> APIStatusError:
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text
    return from_error_body(response.status_code, body, response)

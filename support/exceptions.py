"""Errors the service layer raises; every adapter renders them the same way.

Each carries an HTTP ``status``, a snake_case ``code`` and a human ``detail``
(and ``errors`` per field for validation), which is exactly the error body of
the REST API and of WebSocket ``error`` frames (:mod:`support.error_bodies`).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from django.utils.translation import gettext_lazy as _

from support.conf import support_settings


class SupportError(Exception):
    status: int = 400
    code: str = "invalid"
    default_detail: ClassVar[Any] = _("Invalid request.")

    def __init__(self, detail: Any = None, *, errors: dict[str, list[str]] | None = None) -> None:
        self.detail = str(detail if detail is not None else self.default_detail)
        self.errors = errors
        super().__init__(self.detail)

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "detail": self.detail}
        if self.errors:
            body["errors"] = self.errors
        return body

    def headers(self) -> dict[str, str]:
        """HTTP headers that go with the error's response."""
        return {}


class Invalid(SupportError):
    """The request's values break a rule (length, emptiness, type)."""

    @classmethod
    def field(cls, name: str, message: Any) -> Invalid:
        return cls(_("Invalid input."), errors={name: [str(message)]})


class NotAuthenticated(SupportError):
    status = 401
    code = "not_authenticated"
    default_detail = _("Authentication credentials were not provided or are not valid.")

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Api-Key"}


class PermissionDenied(SupportError):
    status = 403
    code = "permission_denied"
    default_detail = _("You do not have permission to perform this action.")


class TelegramNotLinked(PermissionDenied):
    """A staff bot acted for a Telegram id that no manager has linked."""

    code = "telegram_not_linked"
    default_detail = _(
        "No manager has linked this Telegram account; link it with a code from the console."
    )


class InvalidLinkCode(Invalid):
    """A Telegram link code that is wrong, used or expired: one answer for the three."""

    code = "invalid_link_code"
    default_detail = _("This link code is wrong, used or expired; get a new one in the console.")


class UserBlocked(PermissionDenied):
    """A manager blocked this Telegram user: their tickets and messages are refused."""

    code = "user_blocked"
    default_detail = _("This user is blocked.")


class MethodNotAllowed(SupportError):
    status = 405
    code = "method_not_allowed"

    def __init__(self, method: str, allowed: list[str]) -> None:
        self.allowed = allowed
        super().__init__(_('Method "%(method)s" not allowed.') % {"method": method[:32]})

    def headers(self) -> dict[str, str]:
        return {"Allow": ", ".join(self.allowed)}


class NotFound(SupportError):
    status = 404
    code = "not_found"
    default_detail = _("Not found.")


class UnknownUser(SupportError):
    code = "unknown_user"
    default_detail = _("No Telegram user has this id, and none can be created.")


class Conflict(SupportError):
    status = 409
    code = "conflict"
    default_detail = _("The ticket's state does not allow this.")


class AlreadyAssigned(Conflict):
    code = "already_assigned"
    default_detail = _("Another manager has already taken this ticket.")


class AssignedToOther(Conflict):
    code = "assigned_to_other"
    default_detail = _("This ticket is assigned to another manager.")


class TicketResolved(Conflict):
    code = "ticket_resolved"
    default_detail = _("This ticket is resolved; open a new one or reopen it.")


class EditWindowClosed(Conflict):
    code = "edit_window_closed"
    default_detail = _("This message can no longer be edited or deleted.")


class TicketNotResolved(Conflict):
    code = "ticket_not_resolved"
    default_detail = _("Only a resolved ticket can be rated.")


class IdempotencyConflict(Conflict):
    code = "idempotency_conflict"
    default_detail = _("This idempotency key was already used by the other side.")


class ShortcutTaken(Conflict):
    code = "shortcut_taken"
    default_detail = _("Another saved reply has this shortcut.")


class InvalidCursor(Invalid):
    """A cursor beyond the log's head: this server never issued it."""

    code = "invalid_cursor"
    default_detail = _(
        "This cursor is ahead of the event log; it was not issued by this server. "
        "Start again without one."
    )


class CursorExpired(SupportError):
    status = 410
    code = "cursor_expired"
    default_detail = _(
        "The cursor is older than the event log's retention; re-read the state over REST."
    )


class RateLimited(SupportError):
    """The credential spent its request budget (``SUPPORT_THROTTLE_RATES``)."""

    status = 429
    code = "rate_limited"
    default_detail = _("Request was throttled.")

    def __init__(self, retry_after: float, detail: Any = None) -> None:
        self.retry_after = max(1, math.ceil(retry_after))
        if detail is None:
            detail = _("Request was throttled. Expected available in %(n)d seconds.") % {
                "n": self.retry_after
            }
        super().__init__(detail)

    def as_dict(self) -> dict[str, Any]:
        return {**super().as_dict(), "retry_after": self.retry_after}

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class TooManyStreams(SupportError):
    """The credential holds ``SUPPORT_MAX_STREAMS_PER_CREDENTIAL`` streams on this worker."""

    status = 429
    code = "too_many_streams"
    default_detail = _(
        "This credential has too many open streams; close one, or raise "
        "SUPPORT_MAX_STREAMS_PER_CREDENTIAL."
    )


class TooLarge(SupportError):
    status = 413
    code = "too_large"
    default_detail = _("The request body is larger than the server accepts.")


class UnsupportedType(SupportError):
    """An attachment whose bytes are of no type ``SUPPORT_ATTACHMENT_CONTENT_TYPES`` allows."""

    status = 415
    code = "unsupported_type"
    default_detail = _("This kind of file is not accepted.")


class TooManyFiles(Invalid):
    code = "too_many_files"
    default_detail = _("Too many attachments for one message.")

    @classmethod
    def over_the_limit(cls) -> TooManyFiles:
        limit = support_settings.MAX_ATTACHMENTS_PER_MESSAGE
        return cls(
            _("A message may carry at most %(n)d attachments.") % {"n": limit},
            errors={"files": [_("At most %(n)d files.") % {"n": limit}]},
        )


class EmptyFile(Invalid):
    code = "empty_file"
    default_detail = _("An attachment is empty.")


class BadMultipart(Invalid):
    code = "bad_multipart"
    default_detail = _("The multipart/form-data body could not be read.")


class ServerError(SupportError):
    """An unexpected failure; the body names the request id the log has too."""

    status = 500
    code = "server_error"
    default_detail = _("The server failed to handle this request; nothing was changed.")

    def __init__(self, request_id: str, detail: Any = None) -> None:
        self.request_id = request_id
        super().__init__(detail)

    def as_dict(self) -> dict[str, Any]:
        return {**super().as_dict(), "request_id": self.request_id}

    def headers(self) -> dict[str, str]:
        return {"X-Request-ID": self.request_id}


class Unavailable(SupportError):
    """The database can't serve the request now, through no fault of the request's.

    Busy (locked, a serialization failure, a deadlock) or unreachable (down,
    restarting, out of connections): either way ``503 busy`` with
    ``Retry-After``, which clients retry. :func:`support.error_bodies.error_for`
    logs it as a warning under a request id, which the body carries too.
    """

    status = 503
    code = "busy"
    default_detail = _("The server is busy; retry the request.")

    def __init__(self, detail: Any = None, *, request_id: str | None = None) -> None:
        self.request_id = request_id
        super().__init__(detail)

    def as_dict(self) -> dict[str, Any]:
        body = super().as_dict()
        if self.request_id is not None:
            body["request_id"] = self.request_id
        return body

    def headers(self) -> dict[str, str]:
        headers = {"Retry-After": "1"}
        if self.request_id is not None:
            headers["X-Request-ID"] = self.request_id
        return headers


class DatabaseUnreachable(Unavailable):
    """The database can't be reached: stopped, restarting, or refusing connections."""

    default_detail = _("The database is unavailable; retry the request in a moment.")

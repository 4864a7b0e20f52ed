"""Errors the service layer raises; every adapter renders them the same way.

Each carries an HTTP ``status``, a snake_case ``code`` and a human ``detail``
(and ``errors`` per field for validation), which is exactly the error body of
the REST API and of WebSocket ``error`` frames.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.utils.translation import gettext_lazy as _


class SupportError(Exception):
    status: ClassVar[int] = 400
    code: ClassVar[str] = "invalid"
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


class Invalid(SupportError):
    """The request's values break a rule (length, emptiness, type)."""

    @classmethod
    def field(cls, name: str, message: Any) -> Invalid:
        return cls(_("Invalid input."), errors={name: [str(message)]})


class NotAuthenticated(SupportError):
    status = 401
    code = "not_authenticated"
    default_detail = _("Authentication credentials were not provided or are not valid.")


class PermissionDenied(SupportError):
    status = 403
    code = "permission_denied"
    default_detail = _("You do not have permission to perform this action.")


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


class IdempotencyConflict(Conflict):
    code = "idempotency_conflict"
    default_detail = _("This idempotency key was already used by the other side.")


class CursorExpired(SupportError):
    status = 410
    code = "cursor_expired"
    default_detail = _(
        "The cursor is older than the event log's retention; re-read the state over REST."
    )

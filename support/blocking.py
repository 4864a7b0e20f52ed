"""Blocking a Telegram user: what a manager does to a user who should not be heard.

Managers only (a bot, or a staff bot as itself, is ``permission_denied``). The
block is kept on the user's :class:`~support.models.TelegramProfile` row
(``blocked_at``, ``blocked_reason``, ``blocked_by``), created when missing, so
the project's Telegram user model is not touched. While it stands,
:mod:`support.services` refuses the user's new tickets and messages (and
:mod:`support.ratings` their ratings) with ``403 user_blocked`` before
anything is stored: no row, no file, no event.

:func:`block`, in one transaction: the row blocked, ``user.blocked``
``{"user": <user>}``, then for each of the user's open tickets a private
note saying why (``ticket.note.new``, managers only, as :mod:`support.notes`
sends it) and ``ticket.resolved``: nothing is left waiting for a reply the
user can no longer answer. Blocking a blocked user changes nothing (the
first reason stays) and says nothing. :func:`unblock` clears the row and
says ``user.unblocked``; tickets stay resolved.

Locks: a bot's post locks the ticket, then the user's profile row (a
profile sent with it); :func:`block` takes them in that order too (the
user's open tickets, the row, then the open tickets again, which now include
any ticket opened while it waited for the row), so the two never wait for
each other in a circle.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import serializers

from support import events, profiles
from support.actors import Actor
from support.exceptions import Invalid, NotAuthenticated, NotFound, PermissionDenied, UserBlocked
from support.inputs import BLOCK_REASON_MAX_LENGTH, INT64_MAX, string_problem
from support.models import Note, TelegramProfile, Ticket
from support.notes import note_data
from support.serializers import TelegramUserSerializer, user_data

#: One DRF field, so dates follow ``REST_FRAMEWORK``'s format as everywhere else.
_DATETIME = serializers.DateTimeField(read_only=True)


# -- the representation of ``users/{telegram_id}/`` -------------------------------------


class BlockSerializer(serializers.Serializer[Any]):
    """A user's block: why, by whom, since when."""

    reason = serializers.CharField(read_only=True)
    blocked_by = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="The manager (null once that user is deleted)."
    )
    blocked_at = serializers.DateTimeField(read_only=True)


class UserTicketSerializer(serializers.Serializer[Any]):
    """One of the user's tickets, as the contact panel lists them."""

    id = serializers.IntegerField(read_only=True)
    title = serializers.CharField(read_only=True)
    resolved = serializers.BooleanField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)


class UserDetailSerializer(serializers.Serializer[Any]):
    """``GET users/{telegram_id}/``: the user, their block (or null), their tickets newest first."""

    user = TelegramUserSerializer(read_only=True)
    block = BlockSerializer(read_only=True, allow_null=True)
    tickets = UserTicketSerializer(many=True, read_only=True)


def block_data(row: TelegramProfile | None) -> dict[str, Any] | None:
    if row is None or row.blocked_at is None:
        return None
    return {
        "reason": row.blocked_reason,
        "blocked_by": row.blocked_by_id,
        "blocked_at": _DATETIME.to_representation(row.blocked_at),
    }


# -- checks: what the service layer asks --------------------------------------------------


def is_blocked(row: TelegramProfile | None) -> bool:
    """Whether the user of this profile row (``None``: no row) is blocked."""
    return row is not None and row.blocked_at is not None


def check_not_blocked(telegram_id: int, *, lock: bool = False) -> None:
    """``UserBlocked`` if the user is blocked (one query; *lock*: the row locked until the
    transaction ends, so a block cannot commit between this look and the caller's write)."""
    rows = TelegramProfile.objects.select_for_update() if lock else TelegramProfile.objects
    if rows.filter(pk=telegram_id, blocked_at__isnull=False).exists():
        raise UserBlocked()


def blocked_annotation() -> Exists:
    """``Exists`` of a block of the ticket's user: a ticket query learns it with no query more."""
    return Exists(TelegramProfile.objects.filter(pk=OuterRef("user_id"), blocked_at__isnull=False))


# -- the manager's actions ------------------------------------------------------------------


def require_manager(actor: Actor) -> None:
    """Blocking is a manager's: a bot is refused whatever it asks, before anything is read."""
    if actor.manager is None and actor.bot is None:
        raise NotAuthenticated()
    if actor.is_bot:
        raise PermissionDenied(_("Bots cannot do this; it is a manager's action."))
    if not actor.is_allowed():
        raise PermissionDenied()


def _clean_telegram_id(telegram_id: Any) -> int:
    """A Telegram user id; one outside 1..2**63-1 names nobody the desk has seen."""
    if isinstance(telegram_id, bool) or not isinstance(telegram_id, int):
        raise Invalid.field("telegram_id", _("A Telegram user id is an integer."))
    if not 1 <= telegram_id <= INT64_MAX:
        raise _unknown(telegram_id)
    return telegram_id


def _unknown(telegram_id: int) -> NotFound:
    return NotFound(_("The desk has never heard of Telegram user %(id)s.") % {"id": telegram_id})


def _require_seen(telegram_id: int) -> None:
    """``not_found`` for a Telegram id with no profile row and no ticket."""
    seen = (
        TelegramProfile.objects.filter(pk=telegram_id).exists()
        or Ticket.objects.filter(user_id=telegram_id).exists()
    )
    if not seen:
        raise _unknown(telegram_id)


def _clean_reason(reason: Any) -> str:
    if reason is None:
        raise Invalid.field("reason", _("This field is required."))
    if not isinstance(reason, str):
        raise Invalid.field("reason", _("Must be a string."))
    problem = string_problem(reason, limit=BLOCK_REASON_MAX_LENGTH)
    if problem is not None:
        raise Invalid.field("reason", problem)
    return reason


def user_detail(actor: Actor, telegram_id: Any) -> dict[str, Any]:
    """``GET users/{telegram_id}/``: the user, their block, their tickets (newest first)."""
    require_manager(actor)
    clean_id = _clean_telegram_id(telegram_id)
    row = TelegramProfile.objects.filter(pk=clean_id).first()
    tickets = [
        {
            "id": ticket["id"],
            "title": ticket["title"],
            "resolved": ticket["resolved"],
            "created_at": _DATETIME.to_representation(ticket["created_at"]),
        }
        for ticket in Ticket.objects.filter(user_id=clean_id)
        .order_by("-created_at", "-id")
        .values("id", "title", "resolved", "created_at")
    ]
    if row is None and not tickets:
        raise _unknown(clean_id)
    return {"user": user_data(clean_id, row), "block": block_data(row), "tickets": tickets}


def block(actor: Actor, telegram_id: Any, *, reason: Any = None) -> TelegramProfile:
    """Block the user (see the module's docstring); returns their profile row."""
    require_manager(actor)
    clean_id = _clean_telegram_id(telegram_id)
    clean_reason = _clean_reason(reason)
    with transaction.atomic():
        _require_seen(clean_id)
        open_tickets = Ticket.objects.select_for_update().filter(user_id=clean_id, resolved=False)
        list(open_tickets.values_list("pk", flat=True))  # the tickets first: the posts' order
        # The row locked, created (dated from the first ticket) when missing; no event for
        # that: user.blocked below carries the user.
        row = profiles.apply(clean_id, None, opening=True)
        assert row is not None  # opening=True creates it
        if row.blocked_at is not None:
            return row  # already blocked: the first reason stays, nothing is said
        now = timezone.now()
        row.blocked_at, row.blocked_reason, row.blocked_by = now, clean_reason, actor.manager
        row.save(update_fields=["blocked_at", "blocked_reason", "blocked_by"])
        events.append(events.USER_BLOCKED, {"user": user_data(clean_id, row)})
        # Again: a ticket opened while this waited for the row is resolved too.
        for ticket in open_tickets.order_by("id"):
            _resolve_with_note(actor, ticket, clean_reason, now)
    return row


def _resolve_with_note(actor: Actor, ticket: Ticket, reason: str, now: Any) -> None:
    note = Note.objects.create(
        ticket=ticket, author=actor.manager, text=_("Blocked: %(reason)s") % {"reason": reason}
    )
    events.append(events.NOTE_NEW, {"note": note_data(note)}, managers_only=True)
    ticket.resolved, ticket.resolved_at = True, now
    ticket.save(update_fields=["resolved", "resolved_at"])
    events.append(events.TICKET_RESOLVED, {"id": ticket.pk})


def unblock(actor: Actor, telegram_id: Any) -> TelegramProfile | None:
    """Lift the user's block (a user not blocked: nothing changes, nothing is said)."""
    require_manager(actor)
    clean_id = _clean_telegram_id(telegram_id)
    with transaction.atomic():
        _require_seen(clean_id)
        row = TelegramProfile.objects.select_for_update().filter(pk=clean_id).first()
        if row is None or row.blocked_at is None:
            return row
        row.blocked_at, row.blocked_reason, row.blocked_by = None, "", None
        row.save(update_fields=["blocked_at", "blocked_reason", "blocked_by"])
        events.append(events.USER_UNBLOCKED, {"user": user_data(clean_id, row)})
    return row

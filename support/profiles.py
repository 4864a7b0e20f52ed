"""Telegram users' profiles: what the bot tells of a user with each post, kept by the app.

A bot's ``POST tickets/`` and ``POST tickets/{id}/messages/`` may carry a
``profile`` (first and last name, username, language code). The app keeps it
in :class:`~support.models.TelegramProfile`, its own table keyed by the
Telegram id (the project's Telegram user model is not touched), and shows it
in a ticket's ``user``. The row is created with the user's first ticket, so
``first_contact_at`` is when the desk first heard of them. A post whose
profile differs from the row updates it and appends ``user.updated`` in the
post's transaction; an unchanged profile writes nothing.

:mod:`support.services` calls these under its transaction; nothing else
writes the table.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from support import events
from support.exceptions import Invalid
from support.inputs import PROFILE_LIMITS, USERNAME_PATTERN, string_problem
from support.models import TelegramProfile, Ticket
from support.serializers import user_data

_USERNAME = re.compile(USERNAME_PATTERN)


def clean(profile: Any) -> dict[str, str] | None:
    """*profile* as the service layer takes it (``None``: none sent), or ``Invalid``.

    The rule :class:`~support.inputs.ProfileInput` states for the REST inputs,
    applied to every caller: an object of optional strings, each at most its
    limit, empty allowed (the user has no last name), not blank otherwise, no
    NUL or lone surrogate; ``username`` of Telegram's characters; no other keys.
    """
    if profile is None:
        return None
    if not isinstance(profile, Mapping):
        raise Invalid.field("profile", _("Expected a JSON object."))
    unknown = sorted(str(key) for key in profile if key not in PROFILE_LIMITS)
    if unknown:
        raise Invalid(
            _("Invalid input."),
            errors={"profile": [f"{key}: {_('Unknown field.')}" for key in unknown]},
        )
    cleaned: dict[str, str] = {}
    for field, value in profile.items():
        problem = _problem(field, value)
        if problem is not None:
            raise Invalid(_("Invalid input."), errors={"profile": [f"{field}: {problem}"]})
        cleaned[field] = value
    return cleaned


def _problem(field: str, value: Any) -> str | None:
    if not isinstance(value, str):
        return _("Must be a string.")
    problem = string_problem(value, limit=PROFILE_LIMITS[field], allow_empty=True)
    if problem is None and field == "username" and _USERNAME.fullmatch(value) is None:
        return _("Letters a-z, digits and underscores only.")
    return problem


def apply(
    telegram_id: int, profile: dict[str, str] | None, *, opening: bool
) -> TelegramProfile | None:
    """Store what *profile* changes of the user's row, in the caller's transaction.

    *opening*: a ticket is being opened, so the row is created if missing
    (without a profile too), and its creation is no event: ``ticket.created``
    carries the user. A message's profile for a user without a row (tickets
    from before profiles were kept) creates it, dated from their first
    ticket. A change appends ``user.updated``. Returns the row as it is now
    (``None``: no row, and nothing to store).
    """
    found = _locked_row(telegram_id, create=opening or profile is not None)
    if found is None:
        return None
    row, created = found
    changed = [f for f, value in (profile or {}).items() if getattr(row, f) != value]
    if changed:
        for field in changed:
            setattr(row, field, (profile or {})[field])
        row.updated_at = timezone.now()
        row.save(update_fields=[*changed, "updated_at"])
    # Who saw the user before saw them without this row (or with the old values).
    if (changed and not created) or (created and not opening):
        events.append(events.USER_UPDATED, {"user": user_data(telegram_id, row)})
    return row


def _locked_row(telegram_id: int, *, create: bool) -> tuple[TelegramProfile, bool] | None:
    """The row locked until the transaction ends, and whether it was just created
    (when missing and *create*); ``None`` when missing."""
    rows = TelegramProfile.objects.select_for_update()
    row = rows.filter(pk=telegram_id).first()
    if row is not None or not create:
        return None if row is None else (row, False)
    first = Ticket.objects.filter(user_id=telegram_id).order_by("created_at").first()
    try:
        with transaction.atomic():
            row = TelegramProfile.objects.create(
                telegram_id=telegram_id,
                first_contact_at=timezone.now() if first is None else first.created_at,
            )
    except IntegrityError:  # a concurrent first post created it since we looked
        return rows.get(pk=telegram_id), False
    return row, True

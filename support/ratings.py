"""Ratings: the user's word on the help, 1 to 5, once per resolved ticket.

Bots only (the bot asks the user with buttons after ``ticket.resolved``); a
manager is ``permission_denied``, a blocked user ``user_blocked``. A rating
is given once: the first press stores it and appends ``ticket.rated``
``{"ticket": id, "rating": <rating>}``; any later press, whatever its score,
is answered with that first rating and changes nothing (a user tapping twice,
or a bot retrying, cannot change the score). A ticket not resolved is
``ticket_not_resolved``.

The user may then add a comment (:func:`add_comment`): to a rating without
one it is stored and ``ticket.rated`` is appended again with the whole
rating; a rating that has a comment keeps it (the same idempotence).

Both run under the ticket's row lock, so two presses at once store one rating.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from support import blocking, events
from support.actors import Actor
from support.exceptions import (
    Invalid,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    TicketNotResolved,
    UserBlocked,
)
from support.inputs import RATING_COMMENT_MAX_LENGTH, RATING_MAX, RATING_MIN, string_problem
from support.models import Rating, Ticket
from support.serializers import rating_data


@dataclass(frozen=True, slots=True)
class Rated:
    """What :func:`rate` did: the ticket's rating, and whether this call stored it."""

    rating: Rating
    created: bool


def require_bot(actor: Actor) -> None:
    """Ratings are the user's, sent by a bot: a manager is refused whatever they ask."""
    if actor.manager is None and actor.bot is None:
        raise NotAuthenticated()
    if not actor.is_allowed():
        raise PermissionDenied()
    if not actor.is_bot:
        raise PermissionDenied(_("Managers cannot do this; it is a bot's action."))


def _clean_score(score: Any) -> int:
    if score is None:
        raise Invalid.field("score", _("This field is required."))
    if isinstance(score, bool) or not isinstance(score, int):
        raise Invalid.field("score", _("Must be an integer."))
    if not RATING_MIN <= score <= RATING_MAX:
        raise Invalid.field(
            "score", _("From %(min)d to %(max)d.") % {"min": RATING_MIN, "max": RATING_MAX}
        )
    return score


def _clean_comment(comment: Any, *, allow_empty: bool) -> str:
    if comment is None:
        if allow_empty:
            return ""
        raise Invalid.field("comment", _("This field is required."))
    if not isinstance(comment, str):
        raise Invalid.field("comment", _("Must be a string."))
    problem = string_problem(comment, limit=RATING_COMMENT_MAX_LENGTH, allow_empty=allow_empty)
    if problem is not None:
        raise Invalid.field("comment", problem)
    return comment


def _locked_ticket(ticket_id: Any) -> Ticket:
    if isinstance(ticket_id, bool) or not isinstance(ticket_id, int):
        raise Invalid.field("ticket_id", _("A ticket id is an integer."))
    tickets = Ticket.objects.select_for_update().annotate(
        user_blocked=blocking.blocked_annotation()
    )
    try:
        ticket = tickets.get(pk=ticket_id)
    except Ticket.DoesNotExist:
        raise NotFound(_("Ticket %(id)s does not exist.") % {"id": ticket_id}) from None
    if getattr(ticket, "user_blocked", False):
        raise UserBlocked()
    return ticket


def _rating_of(ticket: Ticket) -> Rating | None:
    return Rating.objects.filter(ticket=ticket).first()


def rate(actor: Actor, ticket_id: Any, *, score: Any = None, comment: Any = None) -> Rated:
    """Store the user's rating of a resolved ticket, or answer the one stored first."""
    require_bot(actor)
    clean_score = _clean_score(score)
    clean_comment = _clean_comment(comment, allow_empty=True)
    with transaction.atomic():
        ticket = _locked_ticket(ticket_id)
        first = _rating_of(ticket)
        if first is not None:
            return Rated(first, created=False)
        if not ticket.resolved:
            raise TicketNotResolved()
        try:
            with transaction.atomic():
                rating = Rating.objects.create(
                    ticket=ticket, score=clean_score, comment=clean_comment
                )
        except IntegrityError:  # stored since we looked (a database without row locks)
            first = _rating_of(ticket)
            if first is None:
                raise
            return Rated(first, created=False)
        events.append(events.TICKET_RATED, {"ticket": ticket.pk, "rating": rating_data(rating)})
    return Rated(rating, created=True)


def add_comment(actor: Actor, ticket_id: Any, *, comment: Any = None) -> Rating:
    """Add the user's comment to the ticket's rating, if it has none yet (``None``: nothing
    to add, as a ``PATCH`` of nothing; the rating is answered as it is)."""
    require_bot(actor)
    clean_comment = None if comment is None else _clean_comment(comment, allow_empty=False)
    with transaction.atomic():
        ticket = _locked_ticket(ticket_id)
        rating = _rating_of(ticket)
        if rating is None:
            raise NotFound(_("Ticket %(id)s has no rating yet.") % {"id": ticket.pk})
        if clean_comment is None or rating.comment:
            return rating  # nothing to add, or the first comment stays
        rating.comment = clean_comment
        rating.save(update_fields=["comment"])
        events.append(events.TICKET_RATED, {"ticket": ticket.pk, "rating": rating_data(rating)})
    return rating

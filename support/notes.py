"""Private notes: a manager's words on a ticket that only managers ever read.

Managers only, checked here: a bot is ``permission_denied`` whatever it asks
(before any ticket is looked up or any body is judged), as is any other
credential that is not a manager's. A note is allowed on a resolved ticket
too, and on another manager's.

A new note appends ``ticket.note.new`` ``{"note": <note>}`` to the event log
in the note's transaction, marked ``managers_only``: no bot's transport ever
carries it (REST ``events/``, long-poll, SSE, WebSocket, a replay from any
cursor, the live fan-out), see :mod:`support.realtime.replay`.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from rest_framework import serializers

from support import events
from support.actors import Actor
from support.conf import support_settings
from support.exceptions import Invalid, NotAuthenticated, NotFound, PermissionDenied
from support.inputs import string_problem
from support.models import Note, Ticket

#: One DRF field, so dates follow ``REST_FRAMEWORK``'s format as everywhere else.
_DATETIME = serializers.DateTimeField(read_only=True)


class NoteSerializer(serializers.ModelSerializer[Note]):
    """The schema of a note; :func:`note_data` builds the dict."""

    ticket: serializers.PrimaryKeyRelatedField[Ticket] = serializers.PrimaryKeyRelatedField(
        read_only=True
    )
    author: serializers.PrimaryKeyRelatedField[Any] = serializers.PrimaryKeyRelatedField(
        read_only=True,
        allow_null=True,
        help_text="The manager who wrote it (null once that user is deleted).",
    )

    class Meta:
        model = Note
        fields = ("id", "ticket", "author", "text", "created_at")
        read_only_fields = fields

    def to_representation(self, instance: Note) -> dict[str, Any]:
        return note_data(instance)


def note_data(note: Note) -> dict[str, Any]:
    """A note as the API and its event show it."""
    return {
        "id": note.pk,
        "ticket": note.ticket_id,
        "author": note.author_id,
        "text": note.text,
        "created_at": _DATETIME.to_representation(note.created_at),
    }


def require_manager(actor: Actor) -> None:
    """Notes are a manager's: a bot (or anyone else) is refused whatever it asks."""
    if actor.manager is None and actor.bot is None:
        raise NotAuthenticated()
    if actor.is_bot:
        raise PermissionDenied(
            _("Notes are private to managers; a bot never reads or writes them.")
        )
    if not actor.is_allowed():
        raise PermissionDenied()


def _ticket(ticket_id: Any) -> Ticket:
    if isinstance(ticket_id, bool) or not isinstance(ticket_id, int):
        raise Invalid.field("ticket_id", _("A ticket id is an integer."))
    try:
        return Ticket.objects.get(pk=ticket_id)
    except Ticket.DoesNotExist:
        raise NotFound(_("Ticket %(id)s does not exist.") % {"id": ticket_id}) from None


def _clean_text(text: Any) -> str:
    """The note's text, under the one rule for a client's strings (:func:`string_problem`)."""
    if text is None:
        raise Invalid.field("text", _("This field is required."))
    if not isinstance(text, str):
        raise Invalid.field("text", _("Must be a string."))
    problem = string_problem(text, limit=support_settings.MAX_TEXT_LENGTH)
    if problem is not None:
        raise Invalid.field("text", problem)
    return text


def notes_of(actor: Actor, ticket_id: Any) -> QuerySet[Note]:
    """The ticket's notes, oldest first (``not_found`` for an unknown ticket)."""
    require_manager(actor)
    ticket = _ticket(ticket_id)
    return Note.objects.filter(ticket=ticket).order_by("created_at", "id")


def add_note(actor: Actor, ticket_id: Any, *, text: Any = None) -> Note:
    """A manager writes a note on the ticket; ``ticket.note.new`` goes to managers only."""
    require_manager(actor)
    clean_text = _clean_text(text)
    with transaction.atomic():
        ticket = _ticket(ticket_id)
        note = Note.objects.create(ticket=ticket, author=actor.manager, text=clean_text)
        events.append(events.NOTE_NEW, {"note": note_data(note)}, managers_only=True)
    return note

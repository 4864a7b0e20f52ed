"""Edits and deletions of messages, and the history of a message's texts.

Who may change what (checked here, as :mod:`support.services` checks posting):

* a bot edits a ``user`` message of the ticket, whatever its age: the user
  edited their Telegram message, and the desk's copy follows it (a blocked
  user's edit is ``user_blocked``, as their posts are);
* a manager edits or deletes their *own* reply (``author`` is them) within
  ``SUPPORT_EDIT_WINDOW`` of its ``created_at`` (the edge included), after
  which it is ``edit_window_closed``: the user may already have read it, and
  Telegram lets the bot change its messages for 48 hours only;
* anything else, another manager's reply, a user's message by a manager or a
  support message by a bot, is ``permission_denied``; a bot never deletes.

Edits are allowed on a resolved ticket (a correction is not a new message).
An edit keeps the text it replaces in a :class:`~support.models.MessageEdit`
(the history managers open), stamps ``edited_at`` and appends
``ticket.message.edited`` ``{"message": <message>}`` in its transaction; the
same text again changes nothing and sends nothing. A deletion removes the
row with its attachments (their files go once the deletion commits:
:func:`support.attachments.remove_files_of`) and its history, and appends
``ticket.message.deleted`` ``{"ticket": <id>, "id": <message id>}``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import serializers

from support import blocking, events
from support.actors import Actor
from support.conf import support_settings
from support.exceptions import (
    Conflict,
    EditWindowClosed,
    Invalid,
    NotFound,
    PermissionDenied,
)
from support.models import Message, MessageEdit, Side, Ticket
from support.serializers import message_data, remember_attachments
from support.services import _clean_text, _locked_ticket, _require

#: One DRF field, so dates follow ``REST_FRAMEWORK``'s format as everywhere else.
_DATETIME = serializers.DateTimeField(read_only=True)


class TextRequired(Conflict):
    """An empty text for a message without attachments (only a caption may be empty).

    A 409, not a 400: whether the text may be empty depends on the message as
    stored, which no schema of the request can know (the body ``{"text": ""}``
    is a valid edit of a photo's caption).
    """

    code = "text_required"
    default_detail = gettext_lazy(
        "This message has no attachments: its text may not be empty (only a caption may)."
    )


class MessageEditSerializer(serializers.Serializer[Any]):
    """The schema of one entry of a message's history; :func:`edit_data` builds the dict."""

    text = serializers.CharField(read_only=True, help_text="The text before this edit.")
    edited_at = serializers.DateTimeField(read_only=True)
    editor = serializers.IntegerField(
        read_only=True,
        allow_null=True,
        help_text="The manager who edited it; null for the user's own edit (through the bot).",
    )

    def to_representation(self, instance: MessageEdit) -> dict[str, Any]:
        return edit_data(instance)


def edit_data(edit: MessageEdit) -> dict[str, Any]:
    """One entry of a message's history as the API shows it."""
    return {
        "text": edit.text,
        "edited_at": _DATETIME.to_representation(edit.edited_at),
        "editor": edit.editor_id,
    }


def _require_manager(actor: Actor) -> None:
    """A manager's action: a bot is refused before anything is looked up."""
    _require(actor, bots=False)


def _message_id(message_id: Any) -> int:
    if isinstance(message_id, bool) or not isinstance(message_id, int):
        raise Invalid.field("message_id", _("A message id is an integer."))
    return message_id


def _message_of(ticket: Ticket, message_id: int, *, lock: bool = False) -> Message:
    messages = Message.objects.select_for_update() if lock else Message.objects.all()
    try:
        return messages.get(pk=message_id, ticket=ticket)
    except Message.DoesNotExist:
        raise NotFound(
            _("Message %(id)s does not exist in ticket %(ticket)s.")
            % {"id": message_id, "ticket": ticket.pk}
        ) from None


def _check_may_change(actor: Actor, message: Message, ticket: Ticket) -> None:
    """The rules of the module's docstring: the side, the author, the window, the block."""
    if actor.is_bot:
        if message.sender != Side.USER:
            raise PermissionDenied(_("A bot edits the user's messages only."))
        # Locked, as a post locks it: a block cannot commit between this look and the edit.
        blocking.check_not_blocked(ticket.user_id, lock=True)
        return
    if message.sender != Side.SUPPORT or message.author_id != actor.manager_id:
        raise PermissionDenied(_("A manager edits or deletes their own replies only."))
    if timezone.now() - message.created_at > edit_window():
        raise EditWindowClosed()


def edit_window() -> timedelta:
    """How long a manager may change their reply (``SUPPORT_EDIT_WINDOW``, at most 48 h)."""
    window: timedelta = support_settings.EDIT_WINDOW
    return window


def edit_message(actor: Actor, ticket_id: Any, message_id: Any, *, text: Any = None) -> Message:
    """Change a message's text (see the module's docstring for who may).

    The text follows the rule of posting (``SUPPORT_MAX_TEXT_LENGTH``, not
    blank); it may be empty only when the message has attachments (then it is
    their caption), else ``text_required``. The same text as now, or none,
    returns the message unchanged (after the same checks): no history entry,
    no ``edited_at``, no event.
    """
    _require(actor)
    # Empty: only for a caption, judged below; None: nothing to change (a PATCH of nothing).
    clean_text = None if text is None else _clean_text(text, caption=True)
    message_id = _message_id(message_id)
    with transaction.atomic():
        ticket = _locked_ticket(ticket_id)
        message = _message_of(ticket, message_id, lock=True)
        _check_may_change(actor, message, ticket)
        attachments = list(message.attachments.all())
        remember_attachments(message, attachments)
        if clean_text == "" and not attachments:
            raise TextRequired()
        if clean_text is not None and clean_text != message.text:
            now = timezone.now()
            MessageEdit.objects.create(
                message=message, text=message.text, edited_at=now, editor=actor.manager
            )
            message.text = clean_text
            message.edited_at = now
            message.save(update_fields=["text", "edited_at"])
            events.append(events.MESSAGE_EDITED, {"message": message_data(message)})
    return message


def delete_message(actor: Actor, ticket_id: Any, message_id: Any) -> None:
    """A manager deletes their own reply within the window, its attachments and history too.

    The attachments' files leave the storage once the deletion commits (a
    rolled-back deletion keeps them).
    """
    _require_manager(actor)
    message_id = _message_id(message_id)
    with transaction.atomic():
        ticket = _locked_ticket(ticket_id)
        message = _message_of(ticket, message_id, lock=True)
        _check_may_change(actor, message, ticket)
        message.delete()  # its attachments' post_delete removes their files on commit
        events.append(events.MESSAGE_DELETED, {"ticket": ticket.pk, "id": message_id})


def edits_of(actor: Actor, ticket_id: Any, message_id: Any) -> QuerySet[MessageEdit]:
    """A message's texts before each of its edits, oldest first (managers only)."""
    _require_manager(actor)
    message_id = _message_id(message_id)
    ticket = _locked_ticket(ticket_id, lock=False)
    message = _message_of(ticket, message_id)
    return MessageEdit.objects.filter(message=message).order_by("edited_at", "id")

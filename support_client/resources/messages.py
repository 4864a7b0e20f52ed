"""``client.messages``: list, send (with files; safely retried), mark viewed."""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from support_client._base_client import Call, RequesterT
from support_client._resource import Resource, endpoint, given
from support_client._uploads import KINDS_FIELD, FileInput, uploads
from support_client.types.tickets import (
    AttachmentKind,
    Message,
    MessageEdit,
    MessageOrdering,
    Profile,
    profile_json,
)


class Messages(Resource[RequesterT]):
    @endpoint(builtins.list[Message])
    def list(
        self,
        ticket_id: int,
        *,
        ordering: MessageOrdering | None = "created_at",
        limit: int | None = None,
        offset: int | None = None,
        idempotency_key: str | None = None,
    ) -> Call:
        """A ticket's messages, oldest first.

        ``ordering`` is ``"created_at"`` (oldest first), ``"-created_at"``,
        ``"id"`` or ``"-id"``; ``None`` leaves the order to the server (newest
        first, as 1.2.0 listed them). Equal times are ordered by id.
        ``idempotency_key`` keeps the message posted with that key (none or one):
        how a bot finds the desk's copy of a Telegram message the user edited.
        """
        params = {
            "ordering": ordering,
            "limit": limit,
            "offset": offset,
            "idempotency_key": idempotency_key,
        }
        return Call("GET", f"tickets/{ticket_id}/messages/", params=params)

    @endpoint(Message)
    def send(
        self,
        ticket_id: int,
        text: str = "",
        *,
        files: Sequence[FileInput] = (),
        kinds: Sequence[AttachmentKind] | None = None,
        idempotency_key: str | None = None,
        profile: Profile | Mapping[str, str] | None = None,
    ) -> Call:
        """Post a message as your side (a bot writes as the user, a manager as support).

        ``files`` are its attachments (``text``, then possibly empty, is their
        caption): paths, bytes or binary files, or ``(filename, content[,
        content_type])``, or :class:`~support_client.Upload`; they are read when
        the request is sent. ``kinds`` names each one's kind (``"voice"``, …),
        one per file; without it the server tells from the type.

        Pass ``idempotency_key`` (e.g. built from the Telegram chat and message
        ids) to make a resend after a crash return the first message too.
        A bot may pass the user's Telegram ``profile`` (as :meth:`Tickets.create
        <support_client.resources.tickets.Tickets.create>`); a manager's is refused.
        """
        attached = uploads(files, kinds)
        # Every send carries a key, so a retry after a lost answer returns the
        # first message instead of posting it twice (and sends its files again).
        key = idempotency_key or f"sdk-{uuid.uuid4().hex}"
        body: dict[str, Any] = {"text": text, "idempotency_key": key}
        if kinds is not None:
            body[KINDS_FIELD] = builtins.list(kinds)
        if profile is not None:
            body["profile"] = profile_json(profile)
        return Call("POST", f"tickets/{ticket_id}/messages/", json=body, files=attached)

    @endpoint(builtins.list[Message])
    def mark_viewed(self, ticket_id: int, *, up_to: int | None = None) -> Call:
        """Mark the other side's messages viewed (up to a message id); returns those marked."""
        return Call("POST", f"tickets/{ticket_id}/messages/viewed/", json=given(up_to=up_to))

    @endpoint(Message)
    def edit(self, ticket_id: int, message_id: int, *, text: str) -> Call:
        """Change a message's text: a bot edits its user's messages (any age), a manager
        their own reply within the desk's edit window (later:
        :class:`~support_client.ConflictError` ``edit_window_closed``). The same text
        again changes nothing. The old text is kept (:meth:`edits`)."""
        return Call("PATCH", f"tickets/{ticket_id}/messages/{message_id}/", json={"text": text})

    @endpoint(type(None))
    def delete(self, ticket_id: int, message_id: int) -> Call:
        """Delete a manager's own reply within the edit window (managers only); its files go
        too. Bots get the event ``ticket.message.deleted`` and remove it from the chat.

        A retry after a lost answer may find it gone: :class:`~support_client.NotFoundError`.
        """
        return Call("DELETE", f"tickets/{ticket_id}/messages/{message_id}/")

    @endpoint(builtins.list[MessageEdit])
    def edits(self, ticket_id: int, message_id: int) -> Call:
        """A message's edits, oldest first: the text it had before each (managers only)."""
        return Call("GET", f"tickets/{ticket_id}/messages/{message_id}/edits/")

"""``client.messages``: list, send (safely retried), mark viewed."""

from __future__ import annotations

import builtins
import uuid

from support_client._base_client import Call, RequesterT
from support_client._resource import Resource, endpoint, given
from support_client.types.tickets import Message, MessageOrdering


class Messages(Resource[RequesterT]):
    @endpoint(builtins.list[Message])
    def list(
        self,
        ticket_id: int,
        *,
        ordering: MessageOrdering | None = "created_at",
        limit: int | None = None,
        offset: int | None = None,
    ) -> Call:
        """A ticket's messages, oldest first.

        ``ordering`` is ``"created_at"`` (oldest first), ``"-created_at"``,
        ``"id"`` or ``"-id"``; ``None`` leaves the order to the server (newest
        first, as 1.2.0 listed them). Equal times are ordered by id.
        """
        params = {"ordering": ordering, "limit": limit, "offset": offset}
        return Call("GET", f"tickets/{ticket_id}/messages/", params=params)

    @endpoint(Message)
    def send(self, ticket_id: int, text: str, *, idempotency_key: str | None = None) -> Call:
        """Post a message as your side (a bot writes as the user, a manager as support).

        Pass ``idempotency_key`` (e.g. the Telegram update id) to make a resend
        after a crash return the first message too.
        """
        # Every send carries a key, so a retry after a lost answer returns the
        # first message instead of posting it twice.
        body = {"text": text, "idempotency_key": idempotency_key or f"sdk-{uuid.uuid4().hex}"}
        return Call("POST", f"tickets/{ticket_id}/messages/", json=body)

    @endpoint(builtins.list[Message])
    def mark_viewed(self, ticket_id: int, *, up_to: int | None = None) -> Call:
        """Mark the other side's messages viewed (up to a message id); returns those marked."""
        return Call("POST", f"tickets/{ticket_id}/messages/viewed/", json=given(up_to=up_to))

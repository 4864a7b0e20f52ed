"""``client.messages``: list, send (safely retried), mark viewed."""

from __future__ import annotations

import builtins
import uuid
from typing import Any

from support_client._base_client import AsyncRequester, SyncRequester, validate, validate_list
from support_client.types.tickets import Message


def _send_body(text: str, idempotency_key: str | None) -> dict[str, Any]:
    # Every send carries a key, so a retry after a lost answer returns the
    # first message instead of posting it twice.
    return {"text": text, "idempotency_key": idempotency_key or f"sdk-{uuid.uuid4().hex}"}


def _viewed_body(up_to: int | None) -> dict[str, Any]:
    return {} if up_to is None else {"up_to": up_to}


def _messages(data: Any) -> list[Message]:
    return validate_list(Message, data)


class Messages:
    def __init__(self, requester: SyncRequester) -> None:
        self._t = requester

    def list(
        self, ticket_id: int, *, limit: int | None = None, offset: int | None = None
    ) -> list[Message]:
        """A ticket's messages, oldest first."""
        params = {"limit": limit, "offset": offset}
        return _messages(self._t.request("GET", f"tickets/{ticket_id}/messages/", params=params))

    def send(self, ticket_id: int, text: str, *, idempotency_key: str | None = None) -> Message:
        """Post a message as your side (a bot writes as the user, a manager as support).

        Pass ``idempotency_key`` (e.g. the Telegram update id) to make a resend
        after a crash return the first message too.
        """
        body = _send_body(text, idempotency_key)
        data = self._t.request("POST", f"tickets/{ticket_id}/messages/", json=body)
        return validate(Message, data)

    def mark_viewed(self, ticket_id: int, *, up_to: int | None = None) -> builtins.list[Message]:
        """Mark the other side's messages viewed (up to a message id); returns those marked."""
        body = _viewed_body(up_to)
        return _messages(
            self._t.request("POST", f"tickets/{ticket_id}/messages/viewed/", json=body)
        )


class AsyncMessages:
    def __init__(self, requester: AsyncRequester) -> None:
        self._t = requester

    async def list(
        self, ticket_id: int, *, limit: int | None = None, offset: int | None = None
    ) -> list[Message]:
        params = {"limit": limit, "offset": offset}
        return _messages(
            await self._t.request("GET", f"tickets/{ticket_id}/messages/", params=params)
        )

    async def send(
        self, ticket_id: int, text: str, *, idempotency_key: str | None = None
    ) -> Message:
        body = _send_body(text, idempotency_key)
        data = await self._t.request("POST", f"tickets/{ticket_id}/messages/", json=body)
        return validate(Message, data)

    async def mark_viewed(
        self, ticket_id: int, *, up_to: int | None = None
    ) -> builtins.list[Message]:
        body = _viewed_body(up_to)
        return _messages(
            await self._t.request("POST", f"tickets/{ticket_id}/messages/viewed/", json=body)
        )

"""``client.tickets``: list, read, open, assign, unassign, resolve, reopen, update."""

from __future__ import annotations

from typing import Any

from support_client._base_client import AsyncRequester, SyncRequester, validate, validate_list
from support_client.types.tickets import Ticket


def _list_params(
    user_id: int | None,
    resolved: bool | None,
    manager: int | None,
    manager_isnull: bool | None,
    limit: int | None,
    offset: int | None,
) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "resolved": resolved,
        "manager": manager,
        "manager__isnull": manager_isnull,
        "limit": limit,
        "offset": offset,
    }


def _update_body(title: str | None, resolved: bool | None) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if title is not None:
        body["title"] = title
    if resolved is not None:
        body["resolved"] = resolved
    return body


def _create_body(
    user_id: int, title: str, text: str | None, idempotency_key: str | None
) -> dict[str, Any]:
    body: dict[str, Any] = {"user_id": user_id, "title": title}
    if text is not None:
        body["text"] = text
    if idempotency_key is not None:
        body["idempotency_key"] = idempotency_key
    return body


class Tickets:
    def __init__(self, requester: SyncRequester) -> None:
        self._t = requester

    def list(
        self,
        *,
        user_id: int | None = None,
        resolved: bool | None = None,
        manager: int | None = None,
        manager_isnull: bool | None = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> list[Ticket]:
        """Tickets, oldest first, filtered as given."""
        params = _list_params(user_id, resolved, manager, manager_isnull, limit, offset)
        return validate_list(Ticket, self._t.request("GET", "tickets/", params=params))

    def get(self, ticket_id: int) -> Ticket:
        return validate(Ticket, self._t.request("GET", f"tickets/{ticket_id}/"))

    def create(
        self,
        *,
        user_id: int,
        title: str,
        text: str | None = None,
        idempotency_key: str | None = None,
    ) -> Ticket:
        """Open a ticket for a Telegram user (bots only), with an optional first message.

        With ``idempotency_key`` (e.g. built from the Telegram chat and message
        ids) a repeat returns the ticket the first call opened, so the call is
        retried like any other. Without one it is not retried once the request
        may have reached the server: opening a ticket twice is worse than an error.
        """
        body = _create_body(user_id, title, text, idempotency_key)
        data = self._t.request(
            "POST", "tickets/", json=body, idempotent=idempotency_key is not None
        )
        return validate(Ticket, data)

    def update(
        self, ticket_id: int, *, title: str | None = None, resolved: bool | None = None
    ) -> Ticket:
        body = _update_body(title, resolved)
        return validate(Ticket, self._t.request("PATCH", f"tickets/{ticket_id}/", json=body))

    def assign(self, ticket_id: int) -> Ticket:
        return self._action(ticket_id, "assign")

    def unassign(self, ticket_id: int) -> Ticket:
        return self._action(ticket_id, "unassign")

    def resolve(self, ticket_id: int) -> Ticket:
        return self._action(ticket_id, "resolve")

    def reopen(self, ticket_id: int) -> Ticket:
        return self._action(ticket_id, "reopen")

    def _action(self, ticket_id: int, action: str) -> Ticket:
        return validate(Ticket, self._t.request("POST", f"tickets/{ticket_id}/{action}/"))


class AsyncTickets:
    def __init__(self, requester: AsyncRequester) -> None:
        self._t = requester

    async def list(
        self,
        *,
        user_id: int | None = None,
        resolved: bool | None = None,
        manager: int | None = None,
        manager_isnull: bool | None = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> list[Ticket]:
        params = _list_params(user_id, resolved, manager, manager_isnull, limit, offset)
        data = await self._t.request("GET", "tickets/", params=params)
        return validate_list(Ticket, data)

    async def get(self, ticket_id: int) -> Ticket:
        return validate(Ticket, await self._t.request("GET", f"tickets/{ticket_id}/"))

    async def create(
        self,
        *,
        user_id: int,
        title: str,
        text: str | None = None,
        idempotency_key: str | None = None,
    ) -> Ticket:
        body = _create_body(user_id, title, text, idempotency_key)
        data = await self._t.request(
            "POST", "tickets/", json=body, idempotent=idempotency_key is not None
        )
        return validate(Ticket, data)

    async def update(
        self, ticket_id: int, *, title: str | None = None, resolved: bool | None = None
    ) -> Ticket:
        body = _update_body(title, resolved)
        data = await self._t.request("PATCH", f"tickets/{ticket_id}/", json=body)
        return validate(Ticket, data)

    async def assign(self, ticket_id: int) -> Ticket:
        return await self._action(ticket_id, "assign")

    async def unassign(self, ticket_id: int) -> Ticket:
        return await self._action(ticket_id, "unassign")

    async def resolve(self, ticket_id: int) -> Ticket:
        return await self._action(ticket_id, "resolve")

    async def reopen(self, ticket_id: int) -> Ticket:
        return await self._action(ticket_id, "reopen")

    async def _action(self, ticket_id: int, action: str) -> Ticket:
        data = await self._t.request("POST", f"tickets/{ticket_id}/{action}/")
        return validate(Ticket, data)

"""``client.users``: a Telegram user as the desk knows them; block and unblock (managers)."""

from __future__ import annotations

from support_client._base_client import Call, RequesterT
from support_client._resource import Resource, endpoint
from support_client.types.users import UserRecord


class Users(Resource[RequesterT]):
    @endpoint(UserRecord)
    def get(self, telegram_id: int) -> Call:
        """The user's profile, block and tickets (newest first); managers only.

        A Telegram id the desk has never seen raises :class:`~support_client.NotFoundError`.
        """
        return Call("GET", f"users/{telegram_id}/")

    @endpoint(UserRecord)
    def block(self, telegram_id: int, *, reason: str) -> Call:
        """Block the user (``reason``: 1 to 500 characters): the desk refuses their posts
        (:class:`~support_client.UserBlockedError`) and resolves their open tickets with
        a note. A user blocked already stays as they are (the first reason stays)."""
        return Call("POST", f"users/{telegram_id}/block/", json={"reason": reason})

    @endpoint(UserRecord)
    def unblock(self, telegram_id: int) -> Call:
        """Unblock the user (one not blocked: nothing changes)."""
        return Call("POST", f"users/{telegram_id}/unblock/", json={})

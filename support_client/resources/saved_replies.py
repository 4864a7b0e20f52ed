"""``client.saved_replies``: managers' saved replies (a bot's key is refused, 403)."""

from __future__ import annotations

import builtins

from support_client._base_client import Call, RequesterT
from support_client._resource import Resource, endpoint, given
from support_client.types.saved_replies import SavedReply


class SavedReplies(Resource[RequesterT]):
    @endpoint(builtins.list[SavedReply])
    def list(self, *, limit: int | None = None, offset: int | None = None) -> Call:
        """Every saved reply, by shortcut (a page of them with ``limit``)."""
        return Call("GET", "saved-replies/", params={"limit": limit, "offset": offset})

    @endpoint(SavedReply)
    def get(self, reply_id: int) -> Call:
        return Call("GET", f"saved-replies/{reply_id}/")

    @endpoint(SavedReply)
    def create(self, *, shortcut: str, text: str) -> Call:
        """A new saved reply; a shortcut another one has raises
        :class:`~support_client.ConflictError` (``code == "shortcut_taken"``).

        Resent only when the first try surely did not reach the server (a second
        try that did would be refused as ``shortcut_taken``).
        """
        body = {"shortcut": shortcut, "text": text}
        return Call("POST", "saved-replies/", json=body, idempotent=False)

    @endpoint(SavedReply)
    def update(
        self, reply_id: int, *, shortcut: str | None = None, text: str | None = None
    ) -> Call:
        """Change the shortcut or the text: only the fields given are sent."""
        body = given(shortcut=shortcut, text=text)
        return Call("PATCH", f"saved-replies/{reply_id}/", json=body)

    @endpoint(type(None))
    def delete(self, reply_id: int) -> Call:
        return Call("DELETE", f"saved-replies/{reply_id}/")

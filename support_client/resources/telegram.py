"""``client.telegram``: managers' link codes and links, and tickets' staff-group topics.

A manager (token) gets a code and sees or removes their link; a staff bot
(a key with the staff capability) confirms codes and stores topics. To act
for a linked manager, a staff bot uses :meth:`SupportClient.acting
<support_client.SupportClient.acting>`.
"""

from __future__ import annotations

from support_client._base_client import Call, RequesterT
from support_client._resource import Resource, endpoint
from support_client.types.telegram import LinkCode, LinkedManager, TelegramLink, TelegramTopic


class Telegram(Resource[RequesterT]):
    @endpoint(LinkCode)
    def create_link_code(self) -> Call:
        """A new one-time code for the manager (managers only); their unused codes stop working.

        Not resent after it may have reached the server: a second code would void the first.
        """
        return Call("POST", "telegram/link/", json={}, idempotent=False)

    @endpoint(TelegramLink)
    def link(self) -> Call:
        """The manager's own link (``telegram_id`` ``None`` when not linked)."""
        return Call("GET", "telegram/link/")

    @endpoint(type(None))
    def unlink(self) -> Call:
        """Remove the manager's own link (idempotent)."""
        return Call("DELETE", "telegram/link/")

    @endpoint(LinkedManager)
    def confirm_link(self, code: str, telegram_id: int) -> Call:
        """Confirm a ``/link CODE`` sent by the Telegram user *telegram_id* (staff bots).

        A wrong, used or expired code raises :class:`~support_client.InvalidLinkCodeError`.
        Not resent after it may have reached the server: the code works once.
        """
        body = {"code": code, "telegram_id": telegram_id}
        return Call("POST", "telegram/link/confirm/", json=body, idempotent=False)

    @endpoint(TelegramTopic)
    def set_topic(
        self, ticket_id: int, *, chat_id: int, topic_id: int, replaces: int | None = None
    ) -> Call:
        """Store the ticket's topic in the staff group, once (staff bots, acting or not).

        Returns the stored topic: if it is not the one sent, another writer was
        first (delete yours). ``replaces`` names a stored topic that was deleted,
        to store this one instead.
        """
        body = {"chat_id": chat_id, "topic_id": topic_id, "replaces": replaces}
        return Call("PUT", f"tickets/{ticket_id}/telegram-topic/", json=body)

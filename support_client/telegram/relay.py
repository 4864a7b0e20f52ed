"""From the desk to Telegram: managers' replies and files, assignment, resolution, reopening.

The desk's event stream (``events.stream``, transport ``auto``) is followed from
a cursor kept in the state store, saved after each event, so a restart neither
repeats nor misses a reply: delivery is at least once, and the window for a
repeat is a crash between Telegram's answer and that save. A reply's files are
read from the desk and uploaded to Telegram, never handed to it as a URL.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Sequence
from pathlib import Path

from support_client import (
    AsyncSupportClient,
    Attachment,
    Event,
    MessageNew,
    NotFoundError,
    StreamReset,
    TicketAssigned,
    TicketCreated,
    TicketReopened,
    TicketResolved,
)
from support_client.telegram.desk import TRANSIENT, Known
from support_client.telegram.media import Outgoing, scratch_directory
from support_client.telegram.state import StateStore
from support_client.telegram.telegram import TelegramChat
from support_client.telegram.texts import text_for

log = logging.getLogger("support_client.telegram")


class Relay:
    """Sends the desk's events for each ticket to its user's private chat."""

    def __init__(
        self,
        client: AsyncSupportClient,
        telegram: TelegramChat,
        state: StateStore,
        known: Known | None = None,
        *,
        retry_delay: float = 1.0,
    ) -> None:
        self.client = client
        self.telegram = telegram
        self.state = state
        self.known = known or Known()
        self.retry_delay = retry_delay

    async def start_cursor(self) -> str:
        """The saved cursor, or the desk's present one (saved at once, so a crash
        before the first event does not lose what comes after)."""
        cursor = await self.state.get_cursor()
        while cursor is None:
            try:
                cursor = (await self.client.events.poll(timeout=0)).cursor
            except TRANSIENT as error:
                log.warning("the desk is unreachable (%s); retrying in 5s", error)
                await asyncio.sleep(5)
                continue
            await self.state.set_cursor(cursor)
        return cursor

    async def follow(self) -> None:
        """Forward the desk's events to users' chats, forever, saving the cursor."""
        cursor = await self.start_cursor()
        stream = self.client.events.stream(after=cursor, transport="auto")
        log.info("following the desk's events from %s", cursor)
        async for event in stream:
            if isinstance(event, StreamReset):
                log.warning(
                    "stream.reset: the saved cursor is older than the desk keeps events; "
                    "replies from before %s may not have been forwarded; going on from there",
                    event.event_id,
                )
            else:
                await self._until_handled(event)
            await self.state.set_cursor(event.event_id)

    async def _until_handled(self, event: Event) -> None:
        delay = self.retry_delay
        while True:
            try:
                await self.handle_event(event)
                return
            except TRANSIENT as error:
                log.warning(
                    "event %s: the desk is unreachable (%s); retrying", event.event_id, error
                )
                await asyncio.sleep(delay * random.uniform(0.5, 1.0))
                delay = min(delay * 2, 30.0)

    async def handle_event(self, event: Event) -> None:
        """Tell the ticket's user what *event* means for them, if anything."""
        if isinstance(event, TicketCreated):
            self.known.chats[event.ticket.id] = event.ticket.user.telegram_id
        elif isinstance(event, MessageNew):
            if event.message.sender == "supp":
                message = event.message
                await self._to_user(message.ticket, text=message.text, files=message.attachments)
        elif isinstance(event, TicketAssigned):
            await self._to_user(event.id, announce="assigned")
        elif isinstance(event, TicketResolved):
            if event.id in self.known.closed_here:
                self.known.closed_here.discard(event.id)  # the user closed it; answered already
            else:
                await self._to_user(event.id, announce="resolved")
        elif isinstance(event, TicketReopened):
            await self._to_user(event.id, announce="reopened")

    async def _to_user(
        self,
        ticket_id: int,
        *,
        text: str = "",
        announce: str = "",
        files: Sequence[Attachment] = (),
    ) -> None:
        chat = await self._chat_of(ticket_id)
        if chat is None:
            return
        if announce:
            language = await self.state.get_language(chat) or "en"
            text = text_for(language, announce, id=ticket_id)
        if not files:
            delivered = await self.telegram.send(chat, text, patient=True)
        else:
            async with scratch_directory() as folder:
                outgoing = await self._from_desk(files, folder)
                delivered = await self.telegram.send_files(chat, text, outgoing, patient=True)
        if not delivered:
            log.warning("ticket %s: chat %s did not take the message", ticket_id, chat)

    async def _from_desk(self, files: Sequence[Attachment], folder: Path) -> list[Outgoing]:
        """A reply's files, read from the desk into *folder* (all of them before anything
        goes to Telegram: a desk that fails makes the event retried from the start)."""
        outgoing = []
        for index, attachment in enumerate(files):
            path = folder / str(index)
            try:
                size = await self.client.attachments.download(attachment, to=path)
            except NotFoundError:
                log.warning("attachment %s is gone from the desk; skipped", attachment.id)
                continue
            outgoing.append(Outgoing(path, attachment.filename, attachment.kind, size))
        return outgoing

    async def _chat_of(self, ticket_id: int) -> int | None:
        chats = self.known.chats
        if ticket_id not in chats:
            try:
                ticket = await self.client.tickets.get(ticket_id)
            except NotFoundError:
                log.warning("ticket %s is gone; its event is skipped", ticket_id)
                return None
            chats[ticket_id] = ticket.user.telegram_id
        return chats[ticket_id]

"""From the desk to Telegram: managers' replies and files, their edits and deletes,
assignment, resolution (then the rating question), reopening.

The desk's event stream (``events.stream``, transport ``auto``) is followed from
a cursor kept in the state store, saved after each event, so a restart neither
repeats nor misses a reply: delivery is at least once, and the window for a
repeat is a crash between Telegram's answer and that save. A reply's files are
read from the desk and uploaded to Telegram, never handed to it as a URL.

Which Telegram messages each reply became is kept in a :class:`ReplyStore` for
48 hours, so ``ticket.message.edited`` edits them (``editMessageText``, or the
caption when the text was a file's) and ``ticket.message.deleted`` deletes them.
A blocked user (``user.blocked``) hears nothing of their tickets' resolution.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Sequence
from pathlib import Path

from support_client import (
    AsyncSupportClient,
    Attachment,
    Event,
    Message,
    MessageDeleted,
    MessageEdited,
    MessageNew,
    NotFoundError,
    StreamReset,
    Ticket,
    TicketAssigned,
    TicketCreated,
    TicketReopened,
    TicketResolved,
    UserBlocked,
    UserUnblocked,
)
from support_client.telegram.desk import TRANSIENT, Known
from support_client.telegram.media import TELEGRAM_CAPTION_LIMIT, Outgoing, scratch_directory
from support_client.telegram.ratings import Ratings
from support_client.telegram.state import (
    MemoryReplies,
    PartKind,
    ReplyStore,
    SentReply,
    StateStore,
)
from support_client.telegram.telegram import (
    TelegramActions,
    TelegramChat,
    split_text,
    utf16_length,
)
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
        replies: ReplyStore | None = None,
        ratings: Ratings | None = None,
    ) -> None:
        self.client = client
        self.telegram = telegram
        self.state = state
        self.known = known or Known()
        self.retry_delay = retry_delay
        if replies is None:
            replies = state if isinstance(state, ReplyStore) else MemoryReplies()
        self.replies = replies
        self.ratings = ratings or Ratings(client, telegram, state, replies)
        self.clock = time.time

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
                await self._reply(event.message)
        elif isinstance(event, MessageEdited):
            if event.message.sender == "supp":
                await self._edited(event.message)
        elif isinstance(event, MessageDeleted):
            await self._deleted(event.id)
        elif isinstance(event, TicketAssigned):
            await self._to_user(event.id, announce="assigned")
        elif isinstance(event, TicketResolved):
            await self._resolved(event)
        elif isinstance(event, TicketReopened):
            await self._to_user(event.id, announce="reopened")
        elif isinstance(event, UserBlocked):
            self.known.blocked.add(event.user.telegram_id)
        elif isinstance(event, UserUnblocked):
            self.known.blocked.discard(event.user.telegram_id)

    async def _resolved(self, event: TicketResolved) -> None:
        """The resolution told (unless the user's /close was answered already, or the user
        is blocked), then the rating question (once the desk says it is still resolved
        and not rated)."""
        closed_here = event.id in self.known.closed_here
        self.known.closed_here.discard(event.id)
        if closed_here and not self.ratings.enabled:
            return  # the user's /close was answered already
        chat = await self._chat_of(event.id)
        if chat is None:
            return
        ticket: Ticket | None = None
        if self.ratings.enabled:
            try:
                ticket = await self.client.tickets.get(event.id)
            except NotFoundError:
                return
        if chat in self.known.blocked or (ticket is not None and ticket.user.blocked):
            log.info("ticket %s resolved: its user is blocked and told nothing", event.id)
            return
        if not closed_here:
            await self._to_user(event.id, announce="resolved_auto" if event.auto else "resolved")
        if ticket is not None and ticket.resolved and ticket.rating is None:
            await self.ratings.ask(chat, event.id)

    async def _to_user(self, ticket_id: int, *, announce: str) -> None:
        chat = await self._chat_of(ticket_id)
        if chat is None:
            return
        language = await self.state.get_language(chat) or "en"
        delivered = await self.telegram.send(
            chat, text_for(language, announce, id=ticket_id), patient=True
        )
        if not delivered:
            log.warning("ticket %s: chat %s did not take the message", ticket_id, chat)

    async def _reply(self, message: Message) -> None:
        """A manager's reply to the user's chat; which messages it became is remembered."""
        chat = await self._chat_of(message.ticket)
        if chat is None:
            return
        text, files = message.text, message.attachments
        telegram = self.telegram
        parts: list[tuple[int, PartKind]] = []
        async with scratch_directory() as folder:
            outgoing = await self._from_desk(files, folder) if files else []
            if isinstance(telegram, TelegramActions):
                delivery = await telegram.deliver(chat, text, outgoing, patient=True)
                delivered, parts = delivery.ok, delivery.parts
            elif files:
                delivered = await telegram.send_files(chat, text, outgoing, patient=True)
            else:
                delivered = await telegram.send(chat, text, patient=True)
        if parts:
            await self.replies.set_reply(message.id, SentReply(chat, tuple(parts), self.clock()))
        if not delivered:
            log.warning("ticket %s: chat %s did not take the message", message.ticket, chat)

    async def _edited(self, message: Message) -> None:
        """A manager edited a reply: its Telegram messages follow (those remembered)."""
        telegram = self.telegram
        sent = await self.replies.get_reply(message.id)
        if sent is None or not isinstance(telegram, TelegramActions):
            log.info("message %s edited: not one this bot remembers sending", message.id)
            return
        chat, parts = sent.chat_id, list(sent.parts)
        caption = next((i for i, kind in parts if kind == "caption"), None)
        texts = [i for i, kind in parts if kind == "text"]
        new = message.text
        if caption is not None:
            await telegram.edit_caption(chat, caption, fit_caption(new), patient=True)
        elif texts:
            pieces = split_text(new)
            for index, part in enumerate(texts):
                if index < len(pieces):
                    await telegram.edit_text(chat, part, pieces[index], patient=True)
                else:
                    await telegram.delete(chat, part, patient=True)
                    parts.remove((part, "text"))
            for piece in pieces[len(texts) :]:
                parts.extend((await telegram.deliver(chat, piece, patient=True)).parts)
        elif new.strip() and parts:  # files alone, now with a text: it becomes the caption
            first = parts[0][0]
            if await telegram.edit_caption(chat, first, fit_caption(new), patient=True):
                parts[0] = (first, "caption")
        if parts != list(sent.parts):
            await self.replies.set_reply(message.id, SentReply(chat, tuple(parts), sent.at))

    async def _deleted(self, message_id: int) -> None:
        """A manager deleted a reply: its Telegram messages are deleted (those remembered)."""
        telegram = self.telegram
        sent = await self.replies.get_reply(message_id)
        if sent is None or not isinstance(telegram, TelegramActions):
            log.info("message %s deleted: not one this bot remembers sending", message_id)
            return
        for part, _kind in sent.parts:
            if not await telegram.delete(sent.chat_id, part, patient=True):
                log.warning("message %s: Telegram kept its part %s", message_id, part)
        await self.replies.drop_reply(message_id)

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


def fit_caption(text: str, limit: int = TELEGRAM_CAPTION_LIMIT) -> str:
    """*text* as a caption: cut (with "…") to Telegram's *limit* of UTF-16 units."""
    if utf16_length(text) <= limit:
        return text
    cut, units = [], 0
    for char in text:
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit - 1:
            break
        cut.append(char)
    return "".join(cut).rstrip() + "…"

"""The staff group: a forum supergroup where managers answer tickets, one topic per ticket.

:class:`StaffGroup` does both directions:

* :meth:`StaffGroup.run` mirrors the desk into the group, from the desk's event
  stream with a cursor of its own (``staff_cursor`` in the state store, saved
  after each event is delivered, so a restart resumes and posts nothing twice):
  a ticket's topic is created on its first mirrored message and stored on the
  desk (``set_topic``, set once: a second writer gets the first one's topic and
  deletes its own); the user's messages and files, console replies, assignment,
  resolution (the topic is closed) and reopening; edits (a line with the new
  text), deleted replies, ratings (a line each), and blocked or unblocked users
  (a line in the General topic). Messages written from the group
  (``via_staff_chat``) are not mirrored back. A topic someone deleted is
  created again with a short summary of the ticket.
* :meth:`StaffGroup.router` takes the group's messages: a linked manager's
  message in a ticket's topic is posted as that manager (the desk applies the
  console's rules: it takes an unassigned ticket; a refusal is answered in
  words), ``/take``, ``/release``, ``/resolve`` and ``/reopen`` in a topic,
  ``/note text`` (a private note on the ticket: managers see it in the console,
  the user never does), closing and reopening a topic in Telegram; and ``/link CODE`` in a private
  chat, which links the sender's Telegram account to the manager who got the
  code in the console.

Everything posted into the group goes through one queue per chat that waits
out Telegram's flood control (``retry_after``; about 20 messages a minute to a
group) and network failures, and never drops a message.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from aiogram import Bot, F, Router
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.filters import Command, CommandObject
from aiogram.types import (
    ChatMemberAdministrator,
    ChatMemberOwner,
    FSInputFile,
    InputMediaAudio,
    InputMediaDocument,
    InputMediaPhoto,
    InputMediaVideo,
)
from aiogram.types import Message as TelegramMessage

from support_client import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AsyncSupportClient,
    Attachment,
    AuthenticationError,
    Event,
    InternalServerError,
    Message,
    MessageDeleted,
    MessageEdited,
    MessageNew,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    StreamReset,
    SupportError,
    Ticket,
    TicketAssigned,
    TicketCreated,
    TicketRated,
    TicketReopened,
    TicketResolved,
    TicketUnassigned,
    TicketUpdated,
    UserBlocked,
    UserUnblocked,
)
from support_client.telegram.config import ConfigError
from support_client.telegram.desk import idempotency_key
from support_client.telegram.media import (
    Outgoing,
    batches,
    media_of,
    scratch_directory,
    text_of,
)
from support_client.telegram.ratings import stars
from support_client.telegram.staff_texts import text
from support_client.telegram.state import StateStore
from support_client.telegram.telegram import (
    DownloadFailed,
    FileTooBig,
    Telegram,
    split_text,
    utf16_length,
)
from support_client.telegram.texts import Language, language_of

log = logging.getLogger("support_client.telegram.staff")

T = TypeVar("T")

#: Telegram's limits: a topic's name; a caption (UTF-16 units).
TOPIC_NAME_LIMIT = 128
CAPTION_LIMIT = 1024
RESOLVED_MARK = "✅ "
#: Desk failures worth trying again (the desk is down, restarting, or busy).
TRANSIENT = (APIConnectionError, InternalServerError, RateLimitError)
#: What Telegram says of a topic that is gone (deleted by a member, or never was).
TOPIC_GONE = ("message thread not found", "topic_deleted", "topic_id_invalid")
#: How often a handler of the group's messages tries a desk that is unreachable.
HANDLER_ATTEMPTS = 3
_COMMANDS = ("take", "release", "resolve", "reopen")


class NoteUnanswered(SupportError):
    """The desk did not answer a note in time: it may have saved it, so it is not sent again
    (notes have no idempotency key)."""


#: The kinds an album (``sendMediaGroup``) may carry, each as its input.
ALBUM_ITEMS = {
    "photo": InputMediaPhoto,
    "video": InputMediaVideo,
    "document": InputMediaDocument,
    "audio": InputMediaAudio,
}


# -- helpers -----------------------------------------------------------------------


def manager_name(manager: Any) -> str:
    """A manager's name as the desk gives it (first and last), or their id."""
    first = getattr(manager, "first_name", "") or ""
    last = getattr(manager, "last_name", "") or ""
    name = f"{first} {last}".strip()
    return name or f"Manager #{getattr(manager, 'id', '?')}"


def topic_name(ticket: Ticket, who: str) -> str:
    """``#<id> · <user> · <title>`` within Telegram's 128 characters, ✅ when resolved."""
    mark = RESOLVED_MARK if ticket.resolved else ""
    head = f"{mark}#{ticket.id} · {who} · "
    room = TOPIC_NAME_LIMIT - len(head)
    title = " ".join(ticket.title.split()) or "…"
    if len(title) > room:
        title = title[: max(room - 1, 0)].rstrip() + "…"
    return (head + title)[:TOPIC_NAME_LIMIT]


def stored_topic(ticket: Ticket) -> tuple[int, int] | None:
    """The topic the desk stores for *ticket*: (chat id, topic id), or None."""
    topic = ticket.telegram_topic
    return None if topic is None else (topic.chat_id, topic.topic_id)


def topic_gone(error: TelegramAPIError) -> bool:
    return any(marker in error.message.lower() for marker in TOPIC_GONE)


def _ticket_number(message: TelegramMessage) -> int | None:
    """The ticket a topic is named after, from the topic-creation message Telegram
    attaches to the messages in it (``#<id> · …``)."""
    created = message.reply_to_message.forum_topic_created if message.reply_to_message else None
    if created is None:
        return None
    found = re.match(r"(?:✅ )?#(\d+) ", created.name)
    return int(found.group(1)) if found else None


def _code(error: SupportError) -> str | None:
    return error.code if isinstance(error, APIStatusError) else None


# -- Telegram: one queue per chat --------------------------------------------------


class ChatQueue:
    """Calls into one chat, one at a time and in order; Telegram's flood control
    (``retry_after``) and network failures are waited out, so nothing is dropped.
    A call Telegram refuses (a bad request, a chat the bot is not in) raises."""

    def __init__(self, *, max_network_delay: float = 30.0) -> None:
        self._locks: dict[int, asyncio.Lock] = {}
        self.max_network_delay = max_network_delay
        #: How many times flood control made a call wait (for logs and tests).
        self.waits = 0

    async def call(self, chat_id: int, request: Callable[[], Awaitable[T]]) -> T:
        lock = self._locks.setdefault(chat_id, asyncio.Lock())
        async with lock:  # asyncio's locks are fair: first come, first sent
            failures = 0
            while True:
                try:
                    return await request()
                except TelegramRetryAfter as flood:
                    self.waits += 1
                    log.info(
                        "Telegram flood control in chat %s: waiting %ss", chat_id, flood.retry_after
                    )
                    await asyncio.sleep(flood.retry_after)
                except (TelegramNetworkError, TelegramServerError) as error:
                    failures += 1
                    delay = min(self.max_network_delay, 0.5 * 2**failures)
                    log.warning("Telegram unreachable (%s); retrying in %.1fs", error, delay)
                    await asyncio.sleep(delay)


# -- the staff group ---------------------------------------------------------------


class StaffGroup:
    """The desk's tickets mirrored into a forum supergroup, and managers' answers back.

    ``client`` is the staff bot's client (a bot key with the staff capability);
    ``state`` keeps the mirror's cursor and the topics cache; ``chat_id`` is the
    group's id (``-100…``). Run :meth:`check` once at start, include
    :meth:`router` in the dispatcher (before the private-chat router, so
    ``/link`` reaches it) and run :meth:`run` as a task.
    """

    def __init__(
        self,
        *,
        bot: Bot,
        client: AsyncSupportClient,
        state: StateStore,
        chat_id: int,
        retry_delay: float = 1.0,
        refused_delay: float = 60.0,
        language: Language = "en",
        queue: ChatQueue | None = None,
    ) -> None:
        self.bot = bot
        self.client = client
        self.state = state
        self.chat_id = chat_id
        self.retry_delay = retry_delay
        #: How long the mirror waits when the group refuses the bot, between tries.
        self.refused_delay = refused_delay
        #: The language of what the mirror posts into the group.
        self.language: Language = language
        self.queue = queue or ChatQueue()
        self._topic_locks: dict[int, asyncio.Lock] = {}
        self._names: dict[int, str] = {}  # Telegram user id -> name
        self._managers: dict[int, str] = {}  # manager id -> name
        self._tickets: dict[int, Ticket] = {}
        self._threads: dict[int, int] = {}  # topic id -> ticket id, this run's
        self._confirmed: set[int] = set()
        self._background: set[asyncio.Task[None]] = set()  # tickets whose cached topic the desk has
        self.telegram = Telegram(bot)
        self._checked = False

    def _text(self, key: str, **values: object) -> str:
        """A text the mirror posts into the group, in the group's language."""
        return text(key, self.language, **values)

    # -- start ---------------------------------------------------------------------

    async def check(self) -> str | None:
        """One line saying why the group cannot be used, or None when it can: it must
        be a forum (topics on) where the bot is an admin that may manage topics."""
        where = f"SUPPORT_STAFF_CHAT_ID {self.chat_id}"
        try:
            chat = await self.bot.get_chat(self.chat_id)
            if not chat.is_forum:
                return f"{where} is not a forum: turn on Topics in the group's settings"
            me = await self.bot.get_chat_member(self.chat_id, self.bot.id)
        except (TelegramBadRequest, TelegramForbiddenError, TelegramNotFound) as error:
            return f"{where}: Telegram refused to show the group to the bot ({error.message})"
        except TelegramAPIError as error:
            return f"{where}: cannot check the group ({error.message})"
        self._checked = True
        if isinstance(me, ChatMemberOwner):
            return None
        if not isinstance(me, ChatMemberAdministrator):
            return (
                f"{where}: the bot is not an admin of the group; make it one that may manage topics"
            )
        if not me.can_manage_topics:
            return f"{where}: the bot is an admin but may not manage topics; give it that right"
        return None

    # -- desk -> group -------------------------------------------------------------

    async def run(self) -> None:
        """Mirror the desk's events into the group, forever, resuming from the saved
        cursor (the desk's present one on a first start)."""
        if not self._checked:
            problem = await self.check()
            if problem is not None:
                raise ConfigError(problem)
        cursor = await self.state.get_staff_cursor()
        if cursor is None:
            cursor = (await self._desk(lambda: self.client.events.poll(timeout=0))).cursor
            await self.state.set_staff_cursor(cursor)
        log.info("mirroring the desk into chat %s from %s", self.chat_id, cursor)
        stream = self.client.events.stream(after=cursor, transport="auto")
        async for event in stream:
            if isinstance(event, StreamReset):
                log.warning(
                    "stream.reset: the staff cursor is older than the desk keeps events; "
                    "going on from %s (earlier events are not mirrored)",
                    event.event_id,
                )
            else:
                await self._until_delivered(event)
            await self.state.set_staff_cursor(event.event_id)

    async def _until_delivered(self, event: Event) -> None:
        """Handle *event*; while the group refuses the bot (removed, or its right to
        manage topics taken), wait and try again: the cursor waits with it."""
        while True:
            try:
                await self.handle_event(event)
                return
            except (TelegramForbiddenError, TelegramBadRequest) as error:
                log.error(
                    "chat %s refuses the bot (%s); the mirror waits %ss at event %s",
                    self.chat_id, error.message, self.refused_delay, event.event_id,
                )  # fmt: skip
                await asyncio.sleep(self.refused_delay)

    async def handle_event(self, event: Event) -> None:
        """Deliver one event into its ticket's topic (a desk that fails is waited for)."""
        try:
            if isinstance(event, TicketCreated | TicketUpdated):
                self._remember(event.ticket)
                if isinstance(event, TicketUpdated):
                    await self._rename(event.ticket.id)
            elif isinstance(event, MessageNew):
                await self._mirror_message(event.message)
            elif isinstance(event, TicketAssigned):
                name = await self._manager_name(event.id, event.support_manager)
                await self._announce(event.id, self._text("taken", name=name))
            elif isinstance(event, TicketUnassigned):
                await self._announce(event.id, self._text("released"))
            elif isinstance(event, TicketResolved):
                await self._announce(event.id, self._text("resolved"), state="resolved")
            elif isinstance(event, TicketReopened):
                await self._announce(event.id, self._text("reopened"), state="reopened")
            elif isinstance(event, MessageEdited):
                await self._mirror_edit(event.message)
            elif isinstance(event, MessageDeleted):
                await self._announce(event.ticket, self._text("deleted"))
            elif isinstance(event, TicketRated):
                rating = event.rating
                key = "rated_comment" if rating.comment else "rated"
                line = self._text(
                    key, score=rating.score, stars=stars(rating.score), comment=rating.comment
                )
                await self._announce(event.ticket, line)
            elif isinstance(event, UserBlocked | UserUnblocked):
                key = "blocked" if isinstance(event, UserBlocked) else "unblocked"
                user = event.user
                await self._general(self._text(key, name=user.name, id=user.telegram_id))
        except NotFoundError:
            log.warning("event %s: its ticket is gone; skipped", event.event_id)
        except (AuthenticationError, PermissionDeniedError) as error:
            raise ConfigError(f"the desk stopped accepting SUPPORT_API_KEY: {error}") from None
        except APIStatusError as error:  # the desk refuses to show it: nothing to mirror
            log.error("event %s could not be mirrored (%s); skipped", event.event_id, error)

    async def _mirror_message(self, message: Message) -> None:
        if message.via_staff_chat:
            return  # written in the group: it is there already
        caption = message.text
        if message.sender != "user":
            name = await self._manager_name(message.ticket, message.author)
            caption = self._text("said", name=name, text=message.text).rstrip()
        async with scratch_directory() as folder:
            files = await self._read_files(message.attachments, folder)
            if len(files) < len(message.attachments):
                caption = f"{caption}\n{self._text('file_gone')}".strip()
            thread = await self.topic_for(message.ticket, first_message=message.id)
            await self._post(message.ticket, thread, caption, files)

    async def _mirror_edit(self, message: Message) -> None:
        """An edited message: a line with its new text in the topic (its copy stays)."""
        if message.sender == "user":
            ticket = await self._ticket(message.ticket)
            name = await self._who(ticket.user.telegram_id)
        else:
            name = await self._manager_name(message.ticket, message.author)
        await self._announce(message.ticket, self._text("edited", name=name, text=message.text))

    async def _general(self, line: str) -> None:
        """A line into the group's General topic (about a user, not a ticket)."""
        try:
            for part in split_text(line):
                await self.queue.call(
                    self.chat_id, partial(self.bot.send_message, self.chat_id, part)
                )
        except TelegramBadRequest as error:
            log.warning("chat %s refused a line: %s; skipped", self.chat_id, error.message)

    async def _announce(self, ticket_id: int, line: str, *, state: str | None = None) -> None:
        """A line into the ticket's topic (none: nothing to do), then the topic's state."""
        thread = await self._known_topic(ticket_id)
        if thread is None:
            return
        thread = await self._post(ticket_id, thread, line, [])
        if state is not None:
            self._tickets.pop(ticket_id, None)  # its state changed: read it again
            closing = state == "resolved"
            await self._topic_call(
                lambda: (
                    self.bot.close_forum_topic(self.chat_id, thread)
                    if closing
                    else self.bot.reopen_forum_topic(self.chat_id, thread)
                )
            )
            await self._rename(ticket_id)

    # -- topics --------------------------------------------------------------------

    async def topic_for(self, ticket_id: int, *, first_message: int | None = None) -> int:
        """The ticket's topic in the group, created (and stored on the desk) if it has none.

        One topic per ticket, also with two writers at once: the desk keeps the
        first one stored, and a writer that lost deletes its own.
        """
        async with self._topic_lock(ticket_id):
            known = await self._known_topic(ticket_id)
            if known is not None:
                return known
            ticket = await self._ticket(ticket_id)
            stored = stored_topic(ticket)  # a topic in another group (the group moved)
            earlier = await self._began_earlier(ticket_id, first_message)
            return await self._create(
                ticket, replaces=stored[1] if stored else None, summary=earlier
            )

    def _topic_lock(self, ticket_id: int) -> asyncio.Lock:
        return self._topic_locks.setdefault(ticket_id, asyncio.Lock())

    async def _known_topic(self, ticket_id: int) -> int | None:
        """The ticket's topic here as the desk stores it, or None.

        The cache is checked with the desk once per run: a topic this bot created
        and cached but was stopped before storing on the desk is stored now (or
        deleted, when the desk has another).
        """
        cached = await self.state.get_topic(ticket_id)
        mine = cached[1] if cached is not None and cached[0] == self.chat_id else None
        if mine is not None and ticket_id in self._confirmed:
            return mine
        ticket = await self._ticket(ticket_id, fresh=True)
        stored = stored_topic(ticket)
        if stored is not None and stored[0] == self.chat_id:
            if mine is not None and mine != stored[1]:
                log.info("ticket %s: deleting topic %s (the desk has %s)", ticket_id, mine, stored)
                await self._topic_call(partial(self.bot.delete_forum_topic, self.chat_id, mine))
            await self._confirm(ticket_id, stored[1])
            return stored[1]
        if mine is None:
            return None
        return await self._store(ticket, mine, replaces=stored[1] if stored else None)

    async def _store(self, ticket: Ticket, mine: int, *, replaces: int | None) -> int:
        """Store topic *mine* for *ticket* on the desk; the desk's if another was first
        (then *mine* is deleted)."""
        try:
            answer = await self._desk(
                lambda: self.client.telegram.set_topic(
                    ticket.id, chat_id=self.chat_id, topic_id=mine, replaces=replaces
                )
            )
        except PermissionDeniedError:
            await self._topic_call(partial(self.bot.delete_forum_topic, self.chat_id, mine))
            raise ConfigError(
                "SUPPORT_API_KEY has no staff capability, which the staff group needs "
                "(support_create_bot_key --staff, or tick staff on the key in the admin)"
            ) from None
        stored = (answer.chat_id, answer.topic_id)
        if stored != (self.chat_id, mine):
            log.info("ticket %s has topic %s already; deleting mine (%s)", ticket.id, stored, mine)
            await self._topic_call(partial(self.bot.delete_forum_topic, self.chat_id, mine))
        await self._confirm(ticket.id, answer.topic_id)
        return answer.topic_id

    async def _create(self, ticket: Ticket, *, replaces: int | None, summary: str | None) -> int:
        """A new topic for *ticket*, stored on the desk; the stored one if another won."""
        name = topic_name(ticket, await self._who(ticket.user.telegram_id))
        created = await self.queue.call(
            self.chat_id, partial(self.bot.create_forum_topic, self.chat_id, name)
        )
        mine = created.message_thread_id
        await self.state.set_topic(ticket.id, self.chat_id, mine)  # before the desk has it
        thread = await self._store(ticket, mine, replaces=replaces)
        if thread != mine:
            return thread
        if ticket.resolved:
            await self._topic_call(partial(self.bot.close_forum_topic, self.chat_id, mine))
        if summary is not None:  # under the ticket's topic lock: no recreating from here
            summary_text = await self._summary(ticket, summary)
            await self._post(ticket.id, mine, summary_text, [], recreate=False)
        return mine

    async def _recreate(self, ticket_id: int, old: int) -> int:
        """The ticket's topic after *old* was found deleted."""
        async with self._topic_lock(ticket_id):
            self._confirmed.discard(ticket_id)
            ticket = await self._ticket(ticket_id, fresh=True)
            stored = stored_topic(ticket)
            if stored is not None and stored != (self.chat_id, old) and stored[0] == self.chat_id:
                await self._confirm(ticket_id, stored[1])  # another writer recreated it
                return stored[1]
            log.warning("ticket %s: topic %s was deleted; creating it again", ticket_id, old)
            return await self._create(ticket, replaces=old, summary="summary_recreated")

    async def _began_earlier(self, ticket_id: int, first_message: int | None) -> str | None:
        """``summary_earlier`` when the ticket has messages before *first_message*."""
        if first_message is None:
            return None
        first = await self._desk(
            lambda: self.client.messages.list(ticket_id, ordering="created_at", limit=1)
        )
        return "summary_earlier" if first and first[0].id != first_message else None

    async def _summary(self, ticket: Ticket, intro: str) -> str:
        if ticket.resolved:
            state = self._text("state_resolved")
        elif ticket.support_manager is not None:
            state = self._text("state_assigned", name=manager_name(ticket.support_manager))
        else:
            state = self._text("state_open")
        lines = [
            self._text(intro),
            self._text(
                "summary",
                id=ticket.id,
                title=ticket.title,
                who=await self._who(ticket.user.telegram_id),
                opened=ticket.created_at.strftime("%Y-%m-%d %H:%M UTC"),
                state=state,
            ),
        ]
        latest = await self._desk(
            lambda: self.client.messages.list(ticket.id, ordering="-created_at", limit=3)
        )
        if latest:
            lines.append(self._text("summary_last"))
            for message in reversed(latest):
                said = " ".join(message.text.split()) or f"[{len(message.attachments)} file(s)]"
                side = "👤" if message.sender == "user" else "💬"
                lines.append(f"{side} {said[:200]}")
        return "\n".join(lines)

    async def _rename(self, ticket_id: int) -> None:
        thread = await self.state.get_topic(ticket_id)
        if thread is None or thread[0] != self.chat_id:
            return
        ticket = await self._ticket(ticket_id, fresh=True)
        name = topic_name(ticket, await self._who(ticket.user.telegram_id))
        await self._topic_call(
            lambda: self.bot.edit_forum_topic(self.chat_id, thread[1], name=name)
        )

    async def _confirm(self, ticket_id: int, thread: int) -> None:
        """*thread* is the ticket's topic, as the desk stores it."""
        self._confirmed.add(ticket_id)
        await self._cache(ticket_id, thread)

    async def _cache(self, ticket_id: int, thread: int) -> None:
        self._threads[thread] = ticket_id
        if await self.state.get_topic(ticket_id) != (self.chat_id, thread):
            await self.state.set_topic(ticket_id, self.chat_id, thread)

    async def _topic_call(self, request: Callable[[], Awaitable[object]]) -> None:
        """A topic's close/reopen/rename/delete; one that changes nothing is fine."""
        try:
            await self.queue.call(self.chat_id, request)
        except TelegramBadRequest as error:
            log.info("chat %s: %s", self.chat_id, error.message)

    # -- posting into a topic ------------------------------------------------------

    async def _post(
        self,
        ticket_id: int,
        thread: int,
        caption: str,
        files: Sequence[Outgoing],
        *,
        recreate: bool = True,
    ) -> int:
        """*caption* and *files* into the topic (created again if it was deleted, unless
        not to *recreate*); the topic it went to."""
        for _attempt in range(3):
            try:
                await self._send(thread, caption, files)
                return thread
            except TelegramBadRequest as error:
                if not topic_gone(error) or not recreate:
                    log.warning("chat %s refused a message: %s; skipped", self.chat_id, error)
                    return thread
                thread = await self._recreate(ticket_id, thread)
        log.error("ticket %s: its topic keeps disappearing; message skipped", ticket_id)
        return thread

    async def _send(self, thread: int, caption: str, files: Sequence[Outgoing]) -> None:
        """Send: files in albums where Telegram allows, *caption* on the first (before
        them when too long for a caption). Telegram's refusal of the topic is raised."""
        groups = batches(files)
        fits = utf16_length(caption) <= CAPTION_LIMIT
        if caption.strip() and (not groups or not fits or groups[0][0].sent_as == "sticker"):
            for part in split_text(caption):
                await self.queue.call(
                    self.chat_id,
                    partial(self.bot.send_message, self.chat_id, part, message_thread_id=thread),
                )
            caption = ""
        for group in groups:
            if len(group) == 1:
                await self._send_file(thread, group[0], caption or None)
            else:
                await self._send_album(thread, group, caption or None)
            caption = ""

    async def _send_album(
        self, thread: int, group: Sequence[Outgoing], caption: str | None
    ) -> None:
        media = [
            ALBUM_ITEMS[file.sent_as](
                media=FSInputFile(file.path, filename=file.filename),
                caption=caption if index == 0 else None,
            )
            for index, file in enumerate(group)
        ]
        try:
            await self.queue.call(
                self.chat_id,
                partial(self.bot.send_media_group, self.chat_id, media, message_thread_id=thread),
            )
        except TelegramBadRequest as error:
            if topic_gone(error):
                raise
            log.warning("Telegram refused an album (%s); sending its files one by one", error)
            for index, file in enumerate(group):
                await self._send_file(thread, file, caption if index == 0 else None)

    async def _send_file(self, thread: int, file: Outgoing, caption: str | None) -> None:
        """One file as its kind, or as a document when Telegram refuses the kind."""
        kinds = [file.sent_as] if file.sent_as == "document" else [file.sent_as, "document"]
        for kind in kinds:
            try:
                await self.queue.call(
                    self.chat_id, partial(self._upload, kind, thread, file, caption)
                )
                return
            except TelegramBadRequest as error:
                if topic_gone(error):
                    raise
                log.warning("Telegram refused %s as a %s: %s", file.filename, kind, error)

    def _upload(
        self, kind: str, thread: int, file: Outgoing, caption: str | None
    ) -> Awaitable[object]:
        upload = FSInputFile(file.path, filename=file.filename)  # read again on each try
        chat, bot = self.chat_id, self.bot
        if kind == "photo":
            return bot.send_photo(chat, upload, caption=caption, message_thread_id=thread)
        if kind == "video":
            return bot.send_video(chat, upload, caption=caption, message_thread_id=thread)
        if kind == "voice":
            return bot.send_voice(chat, upload, caption=caption, message_thread_id=thread)
        if kind == "audio":
            return bot.send_audio(chat, upload, caption=caption, message_thread_id=thread)
        if kind == "animation":
            return bot.send_animation(chat, upload, caption=caption, message_thread_id=thread)
        if kind == "sticker":
            return bot.send_sticker(chat, upload, message_thread_id=thread)
        return bot.send_document(chat, upload, caption=caption, message_thread_id=thread)

    async def _read_files(self, attachments: Sequence[Attachment], folder: Path) -> list[Outgoing]:
        """A message's files, downloaded from the desk into *folder* (all of them before
        anything is sent)."""
        files = []
        for index, attachment in enumerate(attachments):
            path = folder / str(index)
            try:
                size = await self._desk(
                    partial(self.client.attachments.download, attachment, to=path)
                )
            except NotFoundError:
                log.warning("attachment %s is gone from the desk; skipped", attachment.id)
                continue
            files.append(Outgoing(path, attachment.filename, attachment.kind, size))
        return files

    # -- desk helpers --------------------------------------------------------------

    async def _desk(self, call: Callable[[], Awaitable[T]]) -> T:
        """A desk call for the mirror: tried again while the desk is unreachable."""
        delay = self.retry_delay
        while True:
            try:
                return await call()
            except TRANSIENT as error:
                log.warning("the desk is unreachable (%s); retrying", error)
                await asyncio.sleep(delay * random.uniform(0.5, 1.0))
                delay = min(delay * 2, 30.0)

    def _remember(self, ticket: Ticket) -> None:
        self._tickets[ticket.id] = ticket
        if ticket.support_manager is not None:
            self._managers[ticket.support_manager.id] = manager_name(ticket.support_manager)

    async def _ticket(self, ticket_id: int, *, fresh: bool = False) -> Ticket:
        if fresh or ticket_id not in self._tickets:
            ticket = await self._desk(lambda: self.client.tickets.get(ticket_id))
            self._remember(ticket)
        return self._tickets[ticket_id]

    async def _manager_name(self, ticket_id: int, manager_id: int | None) -> str:
        if manager_id is None:
            return self._text("support")
        if manager_id not in self._managers:
            await self._ticket(ticket_id, fresh=True)
        return self._managers.get(manager_id, f"Manager #{manager_id}")

    async def _who(self, telegram_id: int) -> str:
        """A user's name as Telegram shows it to the bot, or their Telegram id."""
        if telegram_id not in self._names:
            try:
                chat = await self.bot.get_chat(telegram_id)
            except TelegramAPIError:
                return str(telegram_id)
            name = " ".join(filter(None, [chat.first_name, chat.last_name]))
            self._names[telegram_id] = name or (f"@{chat.username}" if chat.username else "")
        return self._names[telegram_id] or str(telegram_id)

    # -- group -> desk -------------------------------------------------------------

    def router(self) -> Router:
        """The group's messages, and ``/link`` in private chats; nothing else."""
        router = Router(name="support-staff")
        group = Router(name="support-staff-group")
        group.message.filter(F.chat.id == self.chat_id)
        group.message.register(self.on_topic_state, F.forum_topic_closed | F.forum_topic_reopened)
        group.message.register(self.on_note, Command("note"))
        group.message.register(self.on_command, Command(*_COMMANDS, "link"))
        group.message.register(self.on_message)
        private = Router(name="support-staff-link")
        private.message.filter(F.chat.type == "private")
        private.message.register(self.on_link, Command("link"))
        router.include_routers(group, private)
        return router

    async def _answer(self, message: TelegramMessage, key: str, **values: object) -> None:
        """Answer *message* where it was written, in its sender's language."""
        user = message.from_user
        line = text(key, language_of(user.language_code if user else None), **values)
        thread = message.message_thread_id if message.is_topic_message else None
        send = self._send_answer(message.chat.id, line, thread)
        if message.chat.id == self.chat_id:
            self._later(send)  # behind the mirror in the group's queue: polling goes on
        else:
            await send

    async def _send_answer(self, chat_id: int, line: str, thread: int | None) -> None:
        try:
            await self.queue.call(
                chat_id, partial(self.bot.send_message, chat_id, line, message_thread_id=thread)
            )
        except TelegramAPIError as error:
            log.warning("an answer to chat %s was refused: %s", chat_id, error)

    def _later(self, job: Coroutine[Any, Any, None]) -> None:
        """Run *job* as a task of its own (an update's handler does not wait for it)."""
        task = asyncio.create_task(job)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def settle(self) -> None:
        """Wait for what the handlers left running (answers queued into the group)."""
        while self._background:
            running = list(self._background)
            await asyncio.gather(*running, return_exceptions=True)
            # Not left to the tasks' done callbacks: on Python 3.12, awaiting a gather
            # of tasks already done does not yield, so those callbacks never ran
            # and this loop spun forever.
            self._background.difference_update(running)

    def _from_member(self, message: TelegramMessage) -> bool:
        user = message.from_user
        return user is not None and not user.is_bot and user.id != self.bot.id

    async def _topic_ticket(self, message: TelegramMessage) -> int | None:
        """The ticket whose topic *message* is in, or None."""
        if not message.is_topic_message or message.message_thread_id is None:
            return None
        thread = message.message_thread_id
        known = self._threads.get(thread)
        if known is not None and await self.state.get_topic(known) == (self.chat_id, thread):
            return known
        number = _ticket_number(message)  # the cache was lost: the topic's name says
        if number is None:
            return None
        try:
            ticket = await self._handler_desk(lambda: self.client.tickets.get(number))
        except SupportError:
            return None
        if stored_topic(ticket) != (self.chat_id, thread):
            return None
        await self._confirm(number, thread)
        return number

    async def _handler_desk(self, call: Callable[[], Awaitable[T]]) -> T:
        """A desk call for a handler: a few tries, then the error (updates wait)."""
        for attempt in range(HANDLER_ATTEMPTS):
            try:
                return await call()
            except TRANSIENT:
                if attempt == HANDLER_ATTEMPTS - 1:
                    raise
                await asyncio.sleep(self.retry_delay * (attempt + 1))
        raise AssertionError("unreachable")

    async def _as_manager(
        self,
        message: TelegramMessage,
        ticket_id: int,
        call: Callable[[AsyncSupportClient], Awaitable[object]],
    ) -> bool:
        """*call* with a client acting for the sender; a refusal answered in words."""
        assert message.from_user is not None
        acting = self.client.acting(message.from_user.id)
        try:
            await self._handler_desk(lambda: call(acting))
            return True
        except SupportError as error:
            key, values = self._refusal(error, ticket_id)
            await self._answer(message, key, **values)
            return False

    @staticmethod
    def _refusal(error: SupportError, ticket_id: int) -> tuple[str, dict[str, object]]:
        """The text (its key and values) answering the desk's refusal *error*."""
        code = _code(error)
        if isinstance(error, NoteUnanswered):
            return "note_unanswered", {}
        if code == "telegram_not_linked":
            return "how_to_link", {}
        if code in ("assigned_to_other", "already_assigned", "ticket_resolved"):
            return code, {"id": ticket_id}
        if isinstance(error, NotFoundError):
            return "ticket_gone", {"id": ticket_id}
        if isinstance(error, APIStatusError) and error.status_code == 403:
            return "not_allowed", {}
        if isinstance(error, TRANSIENT):
            return "unreachable", {}
        detail = error.detail if isinstance(error, APIStatusError) and error.detail else error
        return "refused", {"detail": detail}

    async def on_message(self, message: TelegramMessage) -> None:
        """A member's message in a ticket's topic: posted to the user as that manager."""
        if message.sender_chat is not None and message.sender_chat.id == self.chat_id:
            if await self._topic_ticket(message) is not None:  # an admin posting as the group
                await self._answer(message, "anonymous")
            return
        if not self._from_member(message) or message.sender_chat is not None:
            return
        said = message.text or message.caption or ""
        if said.startswith("/"):
            command = said.split()[0][1:]
            mention = command.partition("@")[2]
            if not mention or mention.lower() == ((await self.bot.me()).username or "").lower():
                await self._answer(message, "unknown_command")
            return  # another bot's, or not ours: never relayed
        said = text_of(message) or ""
        media = media_of(message)
        if not said.strip() and not media:
            return  # service messages, and kinds the desk does not carry
        ticket_id = await self._topic_ticket(message)
        if ticket_id is None:
            return  # the General topic, or one that is no ticket's
        key = idempotency_key(message.chat.id, message.message_id)
        async with scratch_directory() as folder:
            files: list[tuple[str, Path]] = []
            for index, item in enumerate(media):
                path = folder / str(index)
                try:
                    await self.telegram.download(item.file_id, path)
                except FileTooBig:
                    await self._answer(message, "file_too_big")
                    return
                except DownloadFailed as error:
                    log.warning("a file in chat %s was not downloaded: %s", self.chat_id, error)
                    await self._answer(message, "file_failed")
                    return
                files.append((item.filename, path))
            await self._as_manager(
                message,
                ticket_id,
                lambda acting: acting.messages.send(
                    ticket_id,
                    text=said,
                    files=files,
                    kinds=[item.kind for item in media] if media else None,
                    idempotency_key=key,
                ),
            )

    async def on_command(self, message: TelegramMessage, command: CommandObject) -> None:
        """``/take``, ``/release``, ``/resolve``, ``/reopen`` in a ticket's topic."""
        if not self._from_member(message):
            return
        name = command.command.lower()
        if name == "link":
            await self._answer(message, "link_in_group")
            return
        if command.args:
            await self._answer(message, "no_arguments", command=name)
            return
        ticket_id = await self._topic_ticket(message)
        if ticket_id is None:
            await self._answer(message, "not_in_topic", command=name)
            return
        method = {"take": "assign", "release": "unassign"}.get(name, name)
        await self._as_manager(
            message, ticket_id, lambda acting: getattr(acting.tickets, method)(ticket_id)
        )

    async def on_note(self, message: TelegramMessage, command: CommandObject) -> None:
        """``/note text`` in a ticket's topic: a private note on the ticket, as the manager.

        Notes go to managers only (the console shows them); the desk never sends
        one to a bot, so the mirror posts nothing back: the answer says it is saved.
        """
        if not self._from_member(message):
            return
        note = (command.args or "").strip()
        if not note:
            await self._answer(message, "note_usage")
            return
        ticket_id = await self._topic_ticket(message)
        if ticket_id is None:
            await self._answer(message, "not_in_topic", command="note")
            return

        async def write(acting: AsyncSupportClient) -> None:
            try:
                await acting.notes.create(ticket_id, note)
            except APITimeoutError as error:  # maybe written: trying again could write it twice
                raise NoteUnanswered(str(error)) from error

        if await self._as_manager(message, ticket_id, write):
            await self._answer(message, "note_saved")

    async def on_topic_state(self, message: TelegramMessage) -> None:
        """A member closed or reopened a ticket's topic: the ticket follows (or, when the
        desk refuses, the topic goes back)."""
        if not self._from_member(message):
            return  # the bot's own closing, echoed
        ticket_id = await self._topic_ticket(message)
        if ticket_id is None:
            return
        closing = message.forum_topic_closed is not None
        method = "resolve" if closing else "reopen"
        done = await self._as_manager(
            message, ticket_id, lambda acting: getattr(acting.tickets, method)(ticket_id)
        )
        if not done and message.message_thread_id is not None:
            back = self.bot.reopen_forum_topic if closing else self.bot.close_forum_topic
            self._later(self._topic_call(partial(back, self.chat_id, message.message_thread_id)))

    async def on_link(self, message: TelegramMessage, command: CommandObject) -> None:
        """``/link CODE`` in a private chat: the sender becomes the code's manager."""
        if message.from_user is None or message.from_user.is_bot:
            return
        words = (command.args or "").split()
        if len(words) != 1:
            await self._answer(message, "link_usage")
            return
        code = words[0]
        if not re.fullmatch(r"[A-Za-z0-9-]{1,32}", code):
            await self._answer(message, "link_invalid")
            return
        try:
            linked = await self._handler_desk(
                partial(self.client.telegram.confirm_link, code, message.from_user.id)
            )
        except SupportError as error:
            if _code(error) == "invalid_link_code":
                await self._answer(message, "link_invalid")
            elif isinstance(error, APIStatusError) and error.status_code in (401, 403):
                await self._answer(message, "link_refused")
            elif isinstance(error, TRANSIENT):
                await self._answer(message, "unreachable")
            else:
                await self._answer(message, "link_invalid")
            return
        name = linked.manager.name or linked.manager.username
        await self._answer(message, "linked", name=name)

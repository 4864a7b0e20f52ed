"""From Telegram to the desk: users' messages, files, albums and ``/close``, posted once.

Each message carries an idempotency key built from the Telegram chat and
message ids (an album's: the chat, the group and its first message), for the
ticket it opens as for a message, so an update Telegram delivers twice, a
resend after a timeout, or a restart after a crash in the middle of an
upload posts it once. An album's parts are kept in the state store until
none has come for ``album_window`` seconds (or the user writes something
else), then posted as one message.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from support_client import (
    APIConnectionError,
    AsyncSupportClient,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    Message,
    PermissionDeniedError,
    Profile,
    RateLimitError,
    RequestTooLargeError,
    SupportError,
    Ticket,
    UnsupportedMediaTypeError,
    UserBlockedError,
)
from support_client.telegram.config import DEFAULT_DELIVERY_TIMEOUT
from support_client.telegram.media import (
    TELEGRAM_DOWNLOAD_LIMIT,
    Incoming,
    Media,
    UserProfile,
    scratch_directory,
)
from support_client.telegram.state import StateStore
from support_client.telegram.telegram import DownloadFailed, FileTooBig, TelegramChat
from support_client.telegram.texts import Language, text_for

log = logging.getLogger("support_client.telegram")

#: Errors worth another try: the desk is down, overloaded or unreachable.
TRANSIENT = (APIConnectionError, InternalServerError, RateLimitError)
#: The credential or the mount is wrong: no retry can help.
REFUSED = (AuthenticationError, PermissionDeniedError)
#: Seconds an album is waited for after its last part came, before it is posted.
ALBUM_WINDOW = 1.0
#: Ticket titles made from a first message are cut to this many characters.
TITLE_LENGTH = 64
#: Seconds between two answers to a blocked user (``blocked_text``).
BLOCKED_NOTICE_INTERVAL = 3600.0
#: How many of a user's latest tickets an edited message is looked for in.
EDIT_LOOKBACK = 3

T = TypeVar("T")


def idempotency_key(chat_id: int, message_id: int) -> str:
    """The same for every delivery of one Telegram message, and unique per bot."""
    return f"tg-{chat_id}-{message_id}"


def album_key(chat_id: int, media_group_id: str, first_message_id: int) -> str:
    """An album's key: its group, and its first part (a part that comes late is a
    message of its own rather than lost to the key of the album already posted)."""
    return f"tg-{chat_id}-album-{media_group_id}-{first_message_id}"


def ticket_title(text: str, length: int = TITLE_LENGTH) -> str:
    """The first line of the first message, whitespace collapsed, cut to *length*."""
    lines = [line for line in text.splitlines() if line.strip()]
    title = " ".join(lines[0].split()) if lines else ""
    if not title:
        return "Telegram"
    return title if len(title) <= length else title[: length - 1].rstrip() + "…"


TITLES: dict[str, str] = {
    "photo": "Photo",
    "video": "Video",
    "voice": "Voice message",
    "audio": "Audio",
    "animation": "Animation",
    "sticker": "Sticker",
}


def describe(media: Sequence[Media]) -> str:
    """A title for a message with no text: what it holds ("Photo", "Document: a.pdf")."""
    if not media:
        return "Telegram"
    if len(media) > 1:
        return f"Album ({len(media)} files)"
    (only,) = media
    return TITLES.get(only.kind) or ticket_title(f"Document: {only.filename}")


@dataclass(frozen=True)
class Parcel:
    """What becomes one message on the desk: a Telegram message, or an album's parts."""

    user_id: int
    chat_id: int
    language: Language
    key: str
    text: str
    media: tuple[Media, ...]
    #: The sender's profile, from the latest part.
    profile: UserProfile | None = None

    @classmethod
    def of(cls, parts: Sequence[Incoming], key: str | None = None) -> Parcel:
        first = parts[0]
        return cls(
            user_id=first.user_id,
            chat_id=first.chat_id,
            language=first.language,
            key=key or idempotency_key(first.chat_id, first.message_id),
            text="\n\n".join(part.text for part in parts if part.text),
            media=tuple(media for part in parts for media in part.media),
            profile=parts[-1].profile,
        )

    @property
    def title(self) -> str:
        return ticket_title(self.text) if self.text.strip() else describe(self.media)


#: The desk's limits of a profile's fields (docs/api.md): longer values are cut.
PROFILE_LIMITS = {"first_name": 64, "last_name": 64, "username": 32, "language_code": 35}
_NOT_IN_PROFILES = re.compile(r"[\x00\ud800-\udfff]")
_USERNAME = re.compile(r"[A-Za-z0-9_]{0,32}")


def desk_profile(profile: UserProfile | None) -> Profile | None:
    """*profile* within the desk's rules, so a name Telegram allows never gets a user's
    message refused: NUL and lone surrogates dropped, values cut to the desk's
    limits, a blank value or a username the desk would not take sent as ``""``."""
    if profile is None:
        return None
    fields: dict[str, str] = {}
    for name, limit in PROFILE_LIMITS.items():
        value = _NOT_IN_PROFILES.sub("", getattr(profile, name))[:limit]
        if not value.strip() or (name == "username" and not _USERNAME.fullmatch(value)):
            value = ""
        fields[name] = value
    return Profile(**fields)


@dataclass
class Known:
    """What this process has learnt of tickets, shared by the posting and the relay."""

    #: ticket id -> the Telegram user (= private chat) it belongs to.
    chats: dict[int, int] = field(default_factory=dict)
    #: Tickets this process resolved on the user's /close: answered already.
    closed_here: set[int] = field(default_factory=set)
    #: Users the desk said are blocked (``user.blocked``, until ``user.unblocked``).
    blocked: set[int] = field(default_factory=set)


class Desk:
    """Posts users' messages to the desk and answers what it refuses."""

    def __init__(
        self,
        client: AsyncSupportClient,
        telegram: TelegramChat,
        state: StateStore,
        known: Known | None = None,
        *,
        delivery_timeout: float = DEFAULT_DELIVERY_TIMEOUT,
        retry_delay: float = 1.0,
        album_window: float = ALBUM_WINDOW,
        blocked_text: str | None = None,
    ) -> None:
        self.client = client
        self.telegram = telegram
        self.state = state
        self.known = known or Known()
        self.delivery_timeout = delivery_timeout
        self.retry_delay = retry_delay
        self.album_window = album_window
        #: What a blocked user is told (at most once an hour); ``None``: nothing.
        self.blocked_text = blocked_text
        #: The clock of the blocked answers' interval (a test sets its own).
        self.clock: Callable[[], float] = time.monotonic
        #: A blocked user's id -> when they were last told (this process: a restart may
        #: tell them once more).
        self._blocked_told: dict[int, float] = {}
        #: The albums waiting (the store's, read once): key -> parts so far.
        self._albums: dict[str, list[Incoming]] | None = None
        #: An album's key -> when its last part came (the event loop's clock).
        self._album_seen: dict[str, float] = {}
        #: One lock per chat: its albums and messages reach the desk in order.
        self._chat_locks: dict[int, asyncio.Lock] = {}

    async def remember_language(self, user_id: int, language: Language) -> None:
        if await self.state.get_language(user_id) != language:
            await self.state.set_language(user_id, language)

    async def reply(self, to: Incoming | Parcel, key: str, **values: object) -> None:
        await self.telegram.send(to.chat_id, text_for(to.language, key, **values))

    async def on_start(self, incoming: Incoming) -> None:
        """``/start`` of the bot that runs alone: what the chat is for."""
        await self.remember_language(incoming.user_id, incoming.language)
        await self.reply(incoming, "start")

    async def on_message(self, incoming: Incoming) -> None:
        """A user's message (text, files, a location, a contact, an album's part): to the desk."""
        await self.remember_language(incoming.user_id, incoming.language)
        if incoming.media_group_id is not None:
            await self.collect(incoming)
            return
        await self.flush_albums(incoming.chat_id)  # an album sent before it goes first
        if not incoming.text and not incoming.media:
            await self.reply(incoming, "not_supported")
            return
        async with self._lock(incoming.chat_id):
            await self.deliver(Parcel.of([incoming]))

    async def deliver(self, parcel: Parcel) -> None:
        """Download the parcel's files from Telegram and post it; answer any refusal."""
        limit = TELEGRAM_DOWNLOAD_LIMIT
        if any(media.size is not None and media.size > limit for media in parcel.media):
            await self.reply(parcel, "too_big", mb=limit // 2**20)
            return
        async with scratch_directory() as folder:
            try:
                files = [
                    await self._fetch(media, folder / str(index))
                    for index, media in enumerate(parcel.media)
                ]
            except FileTooBig:
                await self.reply(parcel, "too_big", mb=limit // 2**20)
                return
            except DownloadFailed as error:
                log.error("message %s: %s", parcel.key, error)
                await self.reply(parcel, "undelivered")
                return
            try:
                opened = await self._retrying(lambda: self._post(parcel, files))
            except (RequestTooLargeError, UnsupportedMediaTypeError) as error:
                log.warning("the desk refused the files of %s: %s", parcel.key, error)
                await self.reply(parcel, "file_refused")
                return
            except BadRequestError as error:
                errors = error.errors or {}
                if "text" in errors:
                    await self.reply(parcel, "too_long")
                elif error.code in ("empty_file", "too_many_files") or any(
                    name.split(".")[0] in ("files", "kinds") for name in errors
                ):  # the file refused is named by its position: files.2, kinds.2
                    log.warning("the desk refused the files of %s: %s", parcel.key, error)
                    await self.reply(parcel, "file_refused")
                else:
                    log.error("the desk refused message %s: %s", parcel.key, error)
                    await self.reply(parcel, "undelivered")
                return
            except UserBlockedError:
                await self.on_blocked(parcel)
                return
            except SupportError as error:
                log.error("message %s not delivered: %s", parcel.key, error)
                await self.reply(parcel, "undelivered")
                return
        if opened is not None:
            await self.reply(parcel, "opened", id=opened.id)

    async def _fetch(self, media: Media, path: Path) -> tuple[str, Path]:
        await self.telegram.download(media.file_id, path)
        return (media.filename, path)

    async def _post(self, parcel: Parcel, files: Sequence[tuple[str, Path]]) -> Ticket | None:
        """Post with the sender's profile; the ticket if this opened one. Safe to repeat
        with the same key. A desk that refuses the profile (one older than profiles
        says ``profile: Unknown field``) gets the post without it."""
        profile = desk_profile(parcel.profile)
        try:
            return await self._post_as(parcel, files, profile)
        except BadRequestError as error:
            if profile is None or "profile" not in (error.errors or {}):
                raise
            log.warning(
                "the desk refused the profile with %s (%s); sent without", parcel.key, error
            )
            return await self._post_as(parcel, files, None)

    async def _post_as(
        self, parcel: Parcel, files: Sequence[tuple[str, Path]], profile: Profile | None
    ) -> Ticket | None:
        kinds = [media.kind for media in parcel.media] if parcel.media else None
        key = parcel.key
        user_id = parcel.user_id
        candidates = list(reversed(await self.client.tickets.list(user_id=user_id, resolved=False)))
        if not candidates:
            # The latest ticket, resolved: within the desk's SUPPORT_REOPEN_WINDOW the
            # message reopens it; after it (or with no window) the desk answers
            # ticket_resolved, and a new ticket is opened (linked to it by the desk).
            candidates = await self.client.tickets.list(user_id=user_id, ordering="-id", limit=1)
        for ticket in candidates:
            try:
                await self.client.messages.send(
                    ticket.id,
                    parcel.text,
                    files=files,
                    kinds=kinds,
                    idempotency_key=key,
                    profile=profile,
                )
            except ConflictError as conflict:
                if conflict.code != "ticket_resolved":
                    raise
                continue  # resolved (since we looked): try the next, or open one
            self.known.chats[ticket.id] = user_id
            return None
        ticket = await self.client.tickets.create(
            user_id=user_id,
            title=parcel.title,
            text=parcel.text or None,
            files=files,
            kinds=kinds,
            idempotency_key=key,
            profile=profile,
        )
        self.known.chats[ticket.id] = user_id
        # A key the desk has seen returns the ticket it opened; resolved means
        # this is an old message delivered again, already posted.
        return None if ticket.resolved else ticket

    async def on_blocked(self, to: Incoming | Parcel) -> None:
        """The desk refused a blocked user's message: they are told nothing, or
        ``blocked_text`` at most once an hour (nothing was stored; nothing is retried)."""
        log.info("user %s is blocked: the desk took nothing from them", to.user_id)
        if self.blocked_text is None:
            return
        now = self.clock()
        for user, told in list(self._blocked_told.items()):
            if now - told >= BLOCKED_NOTICE_INTERVAL:
                del self._blocked_told[user]  # also keeps the map small
        if to.user_id in self._blocked_told:
            return
        self._blocked_told[to.user_id] = now
        await self.telegram.send(to.chat_id, self.blocked_text)

    # -- edits -------------------------------------------------------------------------

    async def on_edit(self, incoming: Incoming) -> None:
        """The user edited a message: the desk's copy gets the new text.

        The copy is found by the message's idempotency key (an album's by its first
        part's, whose caption is the album's text) among the user's latest tickets;
        a message the desk never got (or an old desk without the key filter) is left.
        """
        await self.remember_language(incoming.user_id, incoming.language)
        keys = [idempotency_key(incoming.chat_id, incoming.message_id)]
        if incoming.media_group_id is not None:
            keys.insert(
                0, album_key(incoming.chat_id, incoming.media_group_id, incoming.message_id)
            )
        text = incoming.text or ""
        async with self._lock(incoming.chat_id):
            try:
                found = await self._retrying(lambda: self._posted(incoming.user_id, keys))
                if found is None:
                    log.info("an edit of %s: the desk has no such message; ignored", keys[-1])
                    return
                ticket_id, posted = found
                if posted.text == text:
                    return
                await self._retrying(
                    lambda: self.client.messages.edit(ticket_id, posted.id, text=text)
                )
            except UserBlockedError:
                await self.on_blocked(incoming)
            except BadRequestError as error:
                if "text" in (error.errors or {}):
                    await self.reply(incoming, "too_long")
                else:
                    log.warning("the desk refused the edit of %s: %s", keys[-1], error)
            except SupportError as error:
                log.warning("the edit of %s did not reach the desk: %s", keys[-1], error)

    async def _posted(self, user_id: int, keys: Sequence[str]) -> tuple[int, Message] | None:
        """The ticket and the desk's message posted with one of *keys*, if any."""
        tickets = await self.client.tickets.list(
            user_id=user_id, ordering="-id", limit=EDIT_LOOKBACK
        )
        for ticket in tickets:
            for key in keys:
                found = await self.client.messages.list(ticket.id, idempotency_key=key)
                if len(found) == 1 and found[0].sender == "user":  # more: a desk without
                    self.known.chats[ticket.id] = user_id  # the filter (then it is no help)
                    return ticket.id, found[0]
        return None

    async def _retrying(self, call: Callable[[], Awaitable[T]]) -> T:
        """*call* again while the desk is unreachable, for up to ``delivery_timeout`` s.

        (The SDK already retries each request a couple of times; this covers a
        desk that is down for longer, e.g. restarting.)
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.delivery_timeout
        delay = self.retry_delay
        while True:
            try:
                return await call()
            except TRANSIENT as error:
                if loop.time() + delay > deadline:
                    raise
                log.warning("the desk is unreachable (%s); retrying in %.1fs", error, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    # -- /close ------------------------------------------------------------------------

    async def on_close(self, incoming: Incoming) -> None:
        """``/close``: resolve the user's open tickets."""
        await self.remember_language(incoming.user_id, incoming.language)
        await self.flush_albums(incoming.chat_id)
        try:
            tickets = await self.client.tickets.list(user_id=incoming.user_id, resolved=False)
            if not tickets:
                await self.reply(incoming, "nothing_to_close")
                return
            for ticket in tickets:
                self.known.closed_here.add(ticket.id)
                self.known.chats[ticket.id] = incoming.user_id
                await self.client.tickets.resolve(ticket.id)
                await self.reply(incoming, "closed", id=ticket.id)
        except SupportError as error:
            log.error("/close for user %s failed: %s", incoming.user_id, error)
            await self.reply(incoming, "undelivered")

    # -- albums ------------------------------------------------------------------------

    def _lock(self, chat_id: int) -> asyncio.Lock:
        return self._chat_locks.setdefault(chat_id, asyncio.Lock())

    async def albums(self) -> dict[str, list[Incoming]]:
        """The albums waiting to be posted (read from the store the first time)."""
        if self._albums is None:
            self._albums = await self.state.get_albums()
        return self._albums

    def _of_chat(self, albums: dict[str, list[Incoming]], chat_id: int) -> list[str]:
        return [key for key, parts in albums.items() if parts and parts[0].chat_id == chat_id]

    async def collect(self, incoming: Incoming) -> None:
        """Keep a part of an album, saved in the state store before Telegram hears it was
        handled, until the album is complete: no part came for ``album_window`` seconds,
        or the user sent something else (see :meth:`follow_albums`)."""
        group = incoming.media_group_id
        assert group is not None
        chat = incoming.chat_id
        albums = await self.albums()
        for key in self._of_chat(albums, chat):
            parts = albums.get(key)
            if parts and parts[0].media_group_id != group:
                await self.flush_album(key)  # another album of this chat, sent before
        async with self._lock(chat):
            waiting = next(
                (k for k in self._of_chat(albums, chat) if albums[k][0].media_group_id == group),
                None,
            )
            key = waiting or album_key(chat, group, incoming.message_id)
            parts = albums.setdefault(key, [])
            if all(part.message_id != incoming.message_id for part in parts):
                parts.append(incoming)
                parts.sort(key=lambda part: part.message_id)
                await self.state.set_album(key, parts)
            self._album_seen[key] = asyncio.get_running_loop().time()

    async def flush_album(self, key: str) -> None:
        """Post the album *key* as one message (if still waiting), then forget it."""
        albums = await self.albums()
        parts = albums.get(key)
        if not parts:
            return
        async with self._lock(parts[0].chat_id):
            parts = albums.get(key)
            if not parts:
                return  # posted meanwhile
            try:
                await self.deliver(Parcel.of(parts, key))
            except Exception:  # not CancelledError: a stopped bot posts it after its restart
                log.exception("album %s could not be posted; it is dropped", key)
            albums.pop(key, None)
            self._album_seen.pop(key, None)
            await self.state.drop_album(key)

    async def flush_albums(self, chat_id: int) -> None:
        """Post the albums of *chat_id* still waiting: something else came after them."""
        for key in self._of_chat(await self.albums(), chat_id):
            await self.flush_album(key)

    async def follow_albums(self) -> None:
        """Post each album once no part of it has come for ``album_window`` seconds
        (albums saved before a restart: that long after the start), forever."""
        loop = asyncio.get_running_loop()
        while True:
            now = loop.time()
            for key in list(await self.albums()):
                if now - self._album_seen.setdefault(key, now) >= self.album_window:
                    await self.flush_album(key)
            await asyncio.sleep(self.album_window / 4)

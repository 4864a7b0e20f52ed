"""What survives a restart, behind small protocols: :class:`StateStore` and :class:`ReplyStore`.

The bot keeps the desk's event cursor (and the staff group's, when there is
one), each user's language, the parts of albums not posted yet (Telegram does
not deliver them again once handled) and a cache of the staff topics'
ids. :class:`JsonFileState` keeps them in one JSON file written atomically;
a project may pass any object with the same methods instead (a table in its
database, Redis, …).

With :class:`ReplyStore`'s methods too (:class:`JsonFileState` has them), it also
keeps which Telegram messages each manager's reply became, for 48 hours (how long
Telegram lets a bot delete its messages), so an edit or a delete on the desk
reaches them after a restart, and the rating questions waiting for a comment. A
store without them gets :class:`MemoryReplies` (kept until the bot stops).
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol, TypeVar, runtime_checkable

from support_client.telegram.config import ConfigError
from support_client.telegram.media import Incoming
from support_client.telegram.texts import Language, language_of

_T = TypeVar("_T")


@runtime_checkable
class StateStore(Protocol):
    """Where the bot keeps what must survive a restart.

    Every ``set_*``/``drop_*`` returns once the value is stored for good: the
    bot confirms an update to Telegram, or moves past an event, right after.
    The bot is one process per store and awaits one call at a time per key;
    a store need not lock more than its own writes.
    """

    async def get_cursor(self) -> str | None:
        """The cursor of the desk's event stream the relay to users resumes from."""
        ...

    async def set_cursor(self, cursor: str) -> None: ...

    async def get_staff_cursor(self) -> str | None:
        """The cursor the staff group's mirror resumes from (its own)."""
        ...

    async def set_staff_cursor(self, cursor: str) -> None: ...

    async def get_language(self, user_id: int) -> Language | None:
        """The language a user last wrote in (``None``: never seen)."""
        ...

    async def set_language(self, user_id: int, language: Language) -> None: ...

    async def get_albums(self) -> dict[str, list[Incoming]]:
        """Every album waiting to be posted: its key -> its parts so far, in order."""
        ...

    async def set_album(self, key: str, parts: Sequence[Incoming]) -> None: ...

    async def drop_album(self, key: str) -> None:
        """Forget the album *key* (posted, or given up); nothing if unknown."""
        ...

    async def get_topic(self, ticket_id: int) -> tuple[int, int] | None:
        """The staff topic of a ticket, cached: ``(chat_id, topic_id)``."""
        ...

    async def set_topic(self, ticket_id: int, chat_id: int, topic_id: int) -> None: ...


#: Seconds a reply's Telegram messages are remembered: Telegram lets a bot delete its
#: messages in a private chat for 48 hours.
REPLY_MEMORY = 48 * 3600.0
#: At most this many replies (and as many rating prompts) are remembered; older ones go first.
REPLY_LIMIT = 5000

#: What a Telegram message of a reply holds: (a part of) its text, a file with the
#: text as its caption, or a file alone.
PartKind = Literal["text", "caption", "file"]


@dataclass(frozen=True)
class SentReply:
    """The Telegram messages a manager's reply became, in order."""

    chat_id: int
    #: (Telegram message id, what it holds), in the order they were sent.
    parts: tuple[tuple[int, PartKind], ...]
    #: When it was sent (Unix time): forgotten :data:`REPLY_MEMORY` seconds after.
    at: float

    def to_json(self) -> dict[str, object]:
        return {"chat": self.chat_id, "parts": [list(p) for p in self.parts], "at": self.at}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> SentReply:
        raw = data["parts"]
        if not isinstance(raw, list):
            raise TypeError("parts")
        parts = tuple((int(i), _part_kind(k)) for i, k in raw)
        at = data["at"]
        chat = data["chat"]
        if not isinstance(at, int | float) or not isinstance(chat, int):
            raise TypeError("reply")
        return cls(chat, parts, float(at))


def _part_kind(value: object) -> PartKind:
    if value == "text":
        return "text"
    if value == "caption":
        return "caption"
    if value == "file":
        return "file"
    raise ValueError(f"part kind {value!r}")


@dataclass(frozen=True)
class RatingPrompt:
    """A question asking for a comment on a rating: the ticket, and when it was asked."""

    ticket_id: int
    at: float


@runtime_checkable
class ReplyStore(Protocol):
    """Where the bot keeps, for a while, what the desk may still change in Telegram.

    A store drops entries older than 48 hours (:data:`REPLY_MEMORY`) and keeps a
    bounded number of them; the bot never needs an older one.
    """

    async def get_reply(self, message_id: int) -> SentReply | None:
        """The Telegram messages the desk's message *message_id* became, if remembered."""
        ...

    async def set_reply(self, message_id: int, reply: SentReply) -> None: ...

    async def drop_reply(self, message_id: int) -> None: ...

    async def get_prompt(self, chat_id: int, message_id: int) -> RatingPrompt | None:
        """The rating whose comment the bot's message *message_id* asks for, if any."""
        ...

    async def set_prompt(self, chat_id: int, message_id: int, prompt: RatingPrompt) -> None: ...

    async def drop_prompt(self, chat_id: int, message_id: int) -> None: ...


def _prune(entries: dict[str, _T], at: Callable[[_T], float], now: float) -> bool:
    """Drop *entries* older than :data:`REPLY_MEMORY` and all but the newest
    :data:`REPLY_LIMIT`; whether any went."""
    before = len(entries)
    for key in [k for k, v in entries.items() if now - at(v) > REPLY_MEMORY]:
        del entries[key]
    if len(entries) > REPLY_LIMIT:
        for key in sorted(entries, key=lambda k: at(entries[k]))[: len(entries) - REPLY_LIMIT]:
            del entries[key]
    return len(entries) != before


@dataclass
class MemoryReplies:
    """A :class:`ReplyStore` in memory: for a state store without its methods."""

    replies: dict[str, SentReply] = field(default_factory=dict)
    prompts: dict[str, RatingPrompt] = field(default_factory=dict)
    clock: Callable[[], float] = time.time

    async def get_reply(self, message_id: int) -> SentReply | None:
        _prune(self.replies, _reply_at, self.clock())
        return self.replies.get(str(message_id))

    async def set_reply(self, message_id: int, reply: SentReply) -> None:
        self.replies[str(message_id)] = reply
        _prune(self.replies, _reply_at, self.clock())

    async def drop_reply(self, message_id: int) -> None:
        self.replies.pop(str(message_id), None)

    async def get_prompt(self, chat_id: int, message_id: int) -> RatingPrompt | None:
        _prune(self.prompts, _prompt_at, self.clock())
        return self.prompts.get(f"{chat_id}:{message_id}")

    async def set_prompt(self, chat_id: int, message_id: int, prompt: RatingPrompt) -> None:
        self.prompts[f"{chat_id}:{message_id}"] = prompt
        _prune(self.prompts, _prompt_at, self.clock())

    async def drop_prompt(self, chat_id: int, message_id: int) -> None:
        self.prompts.pop(f"{chat_id}:{message_id}", None)


def _reply_at(reply: SentReply) -> float:
    return reply.at


def _prompt_at(prompt: RatingPrompt) -> float:
    return prompt.at


@dataclass
class JsonFileState:
    """The default :class:`StateStore`: the state in memory, saved as one JSON file.

    Saved atomically on every change: written to a temporary file beside it,
    flushed to disk, then renamed over the old one, so a crash leaves the old
    or the new state, never half of one. The writes run in a thread.
    """

    path: Path
    cursor: str | None = None
    languages: dict[int, Language] = field(default_factory=dict)
    #: An album's key -> its parts received so far, in order.
    albums: dict[str, list[Incoming]] = field(default_factory=dict)
    staff_cursor: str | None = None
    #: ticket id -> (chat id, topic id) of its staff topic.
    topics: dict[int, tuple[int, int]] = field(default_factory=dict)
    #: A desk message's id -> the Telegram messages it became (48 hours at most).
    replies: dict[str, SentReply] = field(default_factory=dict)
    #: ``"<chat>:<message>"`` of a question asking for a rating's comment -> its ticket.
    prompts: dict[str, RatingPrompt] = field(default_factory=dict)
    clock: Callable[[], float] = field(default=time.time, repr=False, compare=False)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False, compare=False)

    @classmethod
    def load(cls, path: Path) -> JsonFileState:
        """The state saved at *path* (empty when there is no file); blocking."""
        try:
            raw = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls(path)
        except OSError as error:
            raise ConfigError(f"SUPPORT_BOT_STATE {path} cannot be read: {error}") from None
        try:
            data = json.loads(raw)
            cursor = data["cursor"]
            staff_cursor = data.get("staff_cursor")
            languages = {int(k): language_of(v) for k, v in data.get("languages", {}).items()}
            albums = {
                str(key): [Incoming.from_json(part) for part in parts]
                for key, parts in data.get("albums", {}).items()
            }
            topics = {
                int(ticket): (int(chat), int(topic))
                for ticket, (chat, topic) in data.get("topics", {}).items()
            }
            replies = {
                str(int(key)): SentReply.from_json(value)
                for key, value in data.get("replies", {}).items()
            }
            prompts = {
                str(key): RatingPrompt(int(value["ticket"]), float(value["at"]))
                for key, value in data.get("prompts", {}).items()
            }
            for value in (cursor, staff_cursor):
                if value is not None and not isinstance(value, str):
                    raise TypeError("cursor")
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            raise ConfigError(
                f"SUPPORT_BOT_STATE {path} is not this bot's state file ({error!r}); "
                "move it away to start from the present"
            ) from None
        return cls(path, cursor, languages, albums, staff_cursor, topics, replies, prompts)

    @classmethod
    async def open(cls, path: Path) -> JsonFileState:
        """:meth:`load` in a thread, then saved back at once: a file that can't be
        written is a :class:`ConfigError` now rather than after the first event."""
        state = await asyncio.to_thread(cls.load, path)
        try:
            await state.save()
        except OSError as error:
            raise ConfigError(f"SUPPORT_BOT_STATE {path} cannot be written: {error}") from None
        return state

    # -- StateStore --------------------------------------------------------------------

    async def get_cursor(self) -> str | None:
        return self.cursor

    async def set_cursor(self, cursor: str) -> None:
        self.cursor = cursor
        await self.save()

    async def get_staff_cursor(self) -> str | None:
        return self.staff_cursor

    async def set_staff_cursor(self, cursor: str) -> None:
        self.staff_cursor = cursor
        await self.save()

    async def get_language(self, user_id: int) -> Language | None:
        return self.languages.get(user_id)

    async def set_language(self, user_id: int, language: Language) -> None:
        self.languages[user_id] = language
        await self.save()

    async def get_albums(self) -> dict[str, list[Incoming]]:
        return {key: list(parts) for key, parts in self.albums.items()}

    async def set_album(self, key: str, parts: Sequence[Incoming]) -> None:
        self.albums[key] = list(parts)
        await self.save()

    async def drop_album(self, key: str) -> None:
        if self.albums.pop(key, None) is not None:
            await self.save()

    async def get_topic(self, ticket_id: int) -> tuple[int, int] | None:
        return self.topics.get(ticket_id)

    async def set_topic(self, ticket_id: int, chat_id: int, topic_id: int) -> None:
        self.topics[ticket_id] = (chat_id, topic_id)
        await self.save()

    # -- ReplyStore --------------------------------------------------------------------

    async def get_reply(self, message_id: int) -> SentReply | None:
        reply = self.replies.get(str(message_id))
        return reply if reply is not None and self.clock() - reply.at <= REPLY_MEMORY else None

    async def set_reply(self, message_id: int, reply: SentReply) -> None:
        self.replies[str(message_id)] = reply
        await self.save()

    async def drop_reply(self, message_id: int) -> None:
        if self.replies.pop(str(message_id), None) is not None:
            await self.save()

    async def get_prompt(self, chat_id: int, message_id: int) -> RatingPrompt | None:
        prompt = self.prompts.get(f"{chat_id}:{message_id}")
        return prompt if prompt is not None and self.clock() - prompt.at <= REPLY_MEMORY else None

    async def set_prompt(self, chat_id: int, message_id: int, prompt: RatingPrompt) -> None:
        self.prompts[f"{chat_id}:{message_id}"] = prompt
        await self.save()

    async def drop_prompt(self, chat_id: int, message_id: int) -> None:
        if self.prompts.pop(f"{chat_id}:{message_id}", None) is not None:
            await self.save()

    # -- the file ----------------------------------------------------------------------

    def snapshot(self) -> str:
        now = self.clock()  # what is too old to be of use is dropped as the file is written
        _prune(self.replies, _reply_at, now)
        _prune(self.prompts, _prompt_at, now)
        data = {
            "version": 1,
            "cursor": self.cursor,
            "staff_cursor": self.staff_cursor,
            "languages": {str(k): v for k, v in sorted(self.languages.items())},
            "albums": {
                key: [part.to_json() for part in parts] for key, parts in self.albums.items()
            },
            "topics": {str(k): list(v) for k, v in sorted(self.topics.items())},
            "replies": {key: reply.to_json() for key, reply in self.replies.items()},
            "prompts": {
                key: {"ticket": prompt.ticket_id, "at": prompt.at}
                for key, prompt in self.prompts.items()
            },
        }
        return json.dumps(data, indent=1)

    def write(self, text: str) -> None:
        """Write *text* to the file atomically (blocking: call it in a thread)."""
        directory = self.path.parent
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    async def save(self) -> None:
        """Write the whole state to the file now (one write at a time)."""
        async with self._lock:
            await asyncio.to_thread(self.write, self.snapshot())

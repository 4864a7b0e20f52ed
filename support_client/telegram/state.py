"""What survives a restart, behind a small protocol: :class:`StateStore`.

The bot keeps the desk's event cursor (and the staff group's, when there is
one), each user's language, the parts of albums not posted yet (Telegram does
not deliver them again once handled) and a cache of the staff topics'
ids. :class:`JsonFileState` keeps them in one JSON file written atomically;
a project may pass any object with the same methods instead (a table in its
database, Redis, …).
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from support_client.telegram.config import ConfigError
from support_client.telegram.media import Incoming
from support_client.telegram.texts import Language, language_of


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
            for value in (cursor, staff_cursor):
                if value is not None and not isinstance(value, str):
                    raise TypeError("cursor")
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            raise ConfigError(
                f"SUPPORT_BOT_STATE {path} is not this bot's state file ({error!r}); "
                "move it away to start from the present"
            ) from None
        return cls(path, cursor, languages, albums, staff_cursor, topics)

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

    # -- the file ----------------------------------------------------------------------

    def snapshot(self) -> str:
        data = {
            "version": 1,
            "cursor": self.cursor,
            "staff_cursor": self.staff_cursor,
            "languages": {str(k): v for k, v in sorted(self.languages.items())},
            "albums": {
                key: [part.to_json() for part in parts] for key, parts in self.albums.items()
            },
            "topics": {str(k): list(v) for k, v in sorted(self.topics.items())},
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

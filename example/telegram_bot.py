"""A small Telegram bot in front of the support desk: copy it, set four variables, run it.

    pip install "chatlabs-django-support[bot]"
    export TELEGRAM_BOT_TOKEN=123456:ABC…   # from @BotFather
    export SUPPORT_BASE_URL=http://127.0.0.1:8000/support/
    export SUPPORT_API_KEY=…                 # manage.py support_create_bot_key telegram-bot
    python example/telegram_bot.py

What it does:

* A user's message goes to their open ticket, or opens one (titled after the
  first line of the text, or after what it holds: "Photo", "Document: a.pdf").
  Photos (the largest size), documents, voice messages, audio, video, video
  notes, animations and stickers are downloaded from the Bot API (``getFile``)
  and posted as the message's attachments, with the caption as its text; a
  location or a contact is posted as text. An album (one ``media_group_id``)
  is one message with several attachments: its parts are kept in the state
  file until none has come for ``ALBUM_WINDOW`` seconds (or the user writes
  something else), then posted once. A file over the 20 MB a bot may download
  from Telegram gets an answer saying so, and nothing is posted.
* Each message carries an idempotency key built from the Telegram chat and
  message ids (an album's: the chat, the group and its first message), for the
  ticket it opens as for a message, so an update Telegram delivers twice, a
  resend after a timeout, or a restart after a crash in the middle of an
  upload posts it once. Updates are handled one after another and confirmed
  to Telegram only after they are handled (an album's parts once they are
  saved): a crash in between means Telegram delivers the update again, and the
  key makes that harmless.
* Managers' replies, "a manager has taken your request", resolution and
  reopening come from the desk's event stream (``events.stream``, transport
  ``auto``) and are sent to the user's chat; a reply's files are read from the
  desk and uploaded to Telegram (``sendPhoto``, ``sendDocument``, …, several
  as ``sendMediaGroup`` where Telegram allows the mix), never handed to
  Telegram as a URL to fetch. The stream's cursor is saved (write, then
  rename) after each event, so a restart neither repeats nor misses a reply:
  delivery is at least once, and the window for a repeat is a crash between
  Telegram's answer and that save.
* ``/close`` resolves the user's ticket; writing after resolution opens a new
  ticket (the desk refuses messages on a resolved ticket).
* What the desk refuses gets a plain answer, in Russian or English after the
  user's Telegram language: messages of a kind it can't carry (a poll, a
  dice), files too large or of a type it does not take, text over its limit,
  and messages that could not be delivered because the desk stayed
  unreachable (they are retried with the same idempotency key for
  ``SUPPORT_BOT_DELIVERY_TIMEOUT`` seconds first).
* Telegram's limits: replies over 4,096 characters are split, a caption over
  1,024 is sent as a message of its own before the files, a photo over 10 MB
  goes as a document, and a 429 (flood control) is waited out for as long as
  its ``retry_after`` says.

Settings, from the environment:

=============================  =====================================================
``TELEGRAM_BOT_TOKEN``         the bot's token (required)
``SUPPORT_BASE_URL``           where the ``support`` app is mounted, e.g.
                               ``http://127.0.0.1:8000/support/`` (required)
``SUPPORT_API_KEY``            a bot key from ``manage.py support_create_bot_key``
                               (required)
``TELEGRAM_API_URL``           another Bot API server (a local one), optional
``SUPPORT_BOT_STATE``          the file that keeps the cursor and the users'
                               languages (default ``telegram_bot_state.json``)
``SUPPORT_BOT_DELIVERY_TIMEOUT``  seconds to keep retrying a user's message while
                               the desk is unreachable (default 30)
=============================  =====================================================

A missing or refused setting stops the bot at start with one line on stderr
(exit status 2). The bot assumes one desk per Telegram bot: it forwards the
desk's events for every ticket to the ticket's user (private chats only, where
the chat id is the user id).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

try:
    import aiohttp
    from aiogram import Bot, Dispatcher, F, Router
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer
    from aiogram.exceptions import (
        TelegramBadRequest,
        TelegramForbiddenError,
        TelegramNetworkError,
        TelegramNotFound,
        TelegramRetryAfter,
        TelegramServerError,
        TelegramUnauthorizedError,
    )
    from aiogram.filters import Command
    from aiogram.types import (
        FSInputFile,
        InputMediaAudio,
        InputMediaDocument,
        InputMediaPhoto,
        InputMediaVideo,
    )
    from aiogram.types import Message as TelegramMessage
    from aiogram.utils.token import TokenValidationError, validate_token

    from support_client import (
        APIConnectionError,
        AsyncSupportClient,
        Attachment,
        AttachmentKind,
        AuthenticationError,
        BadRequestError,
        ConflictError,
        Event,
        InternalServerError,
        MessageNew,
        NotFoundError,
        PermissionDeniedError,
        RateLimitError,
        RequestTooLargeError,
        StreamReset,
        SupportError,
        Ticket,
        TicketAssigned,
        TicketCreated,
        TicketReopened,
        TicketResolved,
        UnsupportedMediaTypeError,
    )
except ImportError as missing:  # pragma: no cover - depends on the environment
    sys.stderr.write(
        f"telegram_bot: {missing}; install the bot's needs: "
        'pip install "chatlabs-django-support[bot]"\n'
    )
    raise SystemExit(2) from None

log = logging.getLogger("telegram_bot")

#: Telegram's longest message, in UTF-16 code units (how Telegram counts).
TELEGRAM_TEXT_LIMIT = 4096
#: Telegram's longest caption of a file, in UTF-16 code units: a longer text goes first.
TELEGRAM_CAPTION_LIMIT = 1024
#: The largest file a bot may download from the Bot API (``getFile``), in bytes.
TELEGRAM_DOWNLOAD_LIMIT = 20 * 1024 * 1024
#: The largest photo ``sendPhoto`` takes; a larger one goes as a document.
TELEGRAM_PHOTO_LIMIT = 10 * 1024 * 1024
#: Files in one ``sendMediaGroup``.
TELEGRAM_ALBUM_SIZE = 10
#: Seconds an album is waited for after its last part came, before it is posted.
ALBUM_WINDOW = 1.0
#: Seconds a download from the Bot API may take.
DOWNLOAD_TIMEOUT = 300
#: Ticket titles made from a first message are cut to this many characters.
TITLE_LENGTH = 64
DEFAULT_STATE_FILE = "telegram_bot_state.json"
DEFAULT_DELIVERY_TIMEOUT = 30.0

#: Errors worth another try: the desk is down, overloaded or unreachable.
TRANSIENT = (APIConnectionError, InternalServerError, RateLimitError)
#: The credential or the mount is wrong: no retry can help.
REFUSED = (AuthenticationError, PermissionDeniedError)


# -- texts -------------------------------------------------------------------------

Language = Literal["en", "ru"]

TEXTS: dict[Language, dict[str, str]] = {
    "en": {
        "start": (
            "Hello! This is the support chat. Write your question here and a support "
            "manager will answer in this chat.\n\nSend /close when your question is solved."
        ),
        "opened": "Thank you! Your request #{id} is open; a manager will answer here.",
        "assigned": "A manager has taken your request #{id}.",
        "resolved": (
            "Your request #{id} is resolved. If you need anything else, just write here: "
            "that opens a new request."
        ),
        "reopened": "Your request #{id} is open again.",
        "closed": "Request #{id} is closed. Write here any time to open a new one.",
        "nothing_to_close": "You have no open request.",
        "not_supported": (
            "Sorry, this kind of message can't reach support. Please send text, photos, "
            "files or voice messages."
        ),
        "too_big": (
            "Sorry, this file is over {mb} MB, the largest a bot can receive from Telegram, "
            "so it did not reach support. Please send a smaller file, or a link to it."
        ),
        "file_refused": (
            "Sorry, support does not accept this file (its type or its size). "
            "Please send it another way, e.g. as a PDF or a picture."
        ),
        "too_long": (
            "This message is longer than the support desk accepts. Please send it in shorter parts."
        ),
        "undelivered": (
            "Sorry, your message could not be delivered to support right now. "
            "Please send it again a little later."
        ),
    },
    "ru": {
        "start": (
            "Здравствуйте! Это чат поддержки. Напишите свой вопрос здесь, и менеджер "
            "поддержки ответит вам в этом чате.\n\nКогда вопрос решён, отправьте /close."
        ),
        "opened": "Спасибо! Ваше обращение №{id} открыто; менеджер ответит здесь.",
        "assigned": "Менеджер взял ваше обращение №{id} в работу.",
        "resolved": (
            "Ваше обращение №{id} решено. Если нужно что-то ещё, просто напишите сюда: "
            "откроется новое обращение."
        ),
        "reopened": "Ваше обращение №{id} снова открыто.",
        "closed": "Обращение №{id} закрыто. Пишите сюда в любое время, чтобы открыть новое.",
        "nothing_to_close": "У вас нет открытых обращений.",
        "not_supported": (
            "Извините, такие сообщения не доходят до поддержки. Отправьте, пожалуйста, "
            "текст, фото, файл или голосовое сообщение."
        ),
        "too_big": (
            "Извините, этот файл больше {mb} МБ — бот не может получить от Telegram файл "
            "такого размера, поэтому он не дошёл до поддержки. Отправьте, пожалуйста, "
            "файл поменьше или ссылку на него."
        ),
        "file_refused": (
            "Извините, поддержка не принимает этот файл (из-за типа или размера). "
            "Отправьте его, пожалуйста, иначе, например в PDF или картинкой."
        ),
        "too_long": (
            "Это сообщение длиннее, чем принимает поддержка. Пожалуйста, отправьте его частями."
        ),
        "undelivered": (
            "Извините, сейчас не удалось доставить ваше сообщение в поддержку. "
            "Пожалуйста, отправьте его ещё раз чуть позже."
        ),
    },
}


def language_of(code: str | None) -> Language:
    """Russian for ``ru`` (and ``ru-RU``, …), English otherwise."""
    return "ru" if code and code.lower().split("-")[0] == "ru" else "en"


def text_for(language: Language, key: str, **values: object) -> str:
    return TEXTS[language][key].format(**values)


# -- small pure helpers ------------------------------------------------------------


def idempotency_key(chat_id: int, message_id: int) -> str:
    """The same for every delivery of one Telegram message, and unique per bot."""
    return f"tg-{chat_id}-{message_id}"


def ticket_title(text: str, length: int = TITLE_LENGTH) -> str:
    """The first line of the first message, whitespace collapsed, cut to *length*."""
    lines = [line for line in text.splitlines() if line.strip()]
    title = " ".join(lines[0].split()) if lines else ""
    if not title:
        return "Telegram"
    return title if len(title) <= length else title[: length - 1].rstrip() + "…"


def _units(char: str) -> int:
    return 2 if ord(char) > 0xFFFF else 1


def split_text(text: str, limit: int = TELEGRAM_TEXT_LIMIT) -> list[str]:
    """Parts of at most *limit* UTF-16 units that join back into *text*.

    A part ends after the last line break (or else space) of its second half
    when there is one, so words are not cut in two; whitespace-only parts
    (which Telegram refuses) are dropped.
    """
    if limit < 2:
        raise ValueError("limit must be at least 2")
    parts: list[str] = []
    start = 0
    while start < len(text):
        end, units = start, 0
        while end < len(text) and units + _units(text[end]) <= limit:
            units += _units(text[end])
            end += 1
        if end < len(text):
            for separator in ("\n", " "):
                at = text.rfind(separator, start, end)
                if at >= start + (end - start) // 2:
                    end = at + 1
                    break
        parts.append(text[start:end])
        start = end
    return [part for part in parts if part.strip()]


def utf16_length(text: str) -> int:
    return sum(map(_units, text))


def album_key(chat_id: int, media_group_id: str, first_message_id: int) -> str:
    """An album's key: its group, and its first part (a part that comes late is a
    message of its own rather than lost to the key of the album already posted)."""
    return f"tg-{chat_id}-album-{media_group_id}-{first_message_id}"


@dataclass(frozen=True)
class Media:
    """A file of a user's message, as Telegram describes it (downloaded when posted)."""

    file_id: str
    #: The desk's kind: photo, video, voice, audio, animation, sticker or document.
    kind: AttachmentKind
    filename: str
    #: Bytes, when Telegram says (it does for files a bot may download).
    size: int | None = None


@dataclass(frozen=True)
class Incoming:
    """A user's message, as much of it as the desk needs."""

    user_id: int
    chat_id: int
    message_id: int
    language: Language
    #: The text, a file's caption, or a location or contact written out.
    text: str | None
    media: tuple[Media, ...] = ()
    #: Telegram's album id, shared by the messages of one album.
    media_group_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Incoming:
        media = tuple(Media(**item) for item in data.get("media", ()))
        return cls(**{**data, "language": language_of(data["language"]), "media": media})


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
        )

    @property
    def title(self) -> str:
        return ticket_title(self.text) if self.text.strip() else describe(self.media)


@dataclass(frozen=True)
class Outgoing:
    """A file of a manager's reply, read from the desk into a local file."""

    path: Path
    filename: str
    kind: str
    size: int

    @property
    def sent_as(self) -> str:
        """The kind Telegram gets it as: a photo too large for ``sendPhoto`` is a document."""
        if self.kind == "photo" and self.size > TELEGRAM_PHOTO_LIMIT:
            return "document"
        return self.kind if self.kind in SENDERS else "document"


#: The kinds one ``sendMediaGroup`` may mix: photos with videos, documents, audio.
ALBUM_FAMILIES = {"photo": "visual", "video": "visual", "document": "document", "audio": "audio"}


def batches(files: Sequence[Outgoing]) -> list[list[Outgoing]]:
    """*files* in order, as Telegram sends them: runs that may share an album (up to
    10 each), every other file on its own."""
    out: list[list[Outgoing]] = []
    for file in files:
        family = ALBUM_FAMILIES.get(file.sent_as)
        last = out[-1] if out else []
        if (
            family is not None
            and last
            and ALBUM_FAMILIES.get(last[0].sent_as) == family
            and len(last) < TELEGRAM_ALBUM_SIZE
        ):
            last.append(file)
        else:
            out.append([file])
    return out


@asynccontextmanager
async def scratch_directory() -> AsyncIterator[Path]:
    """A temporary directory for files on their way, removed after (in a thread)."""
    path = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="telegram_bot."))
    try:
        yield path
    finally:
        await asyncio.to_thread(shutil.rmtree, path, True)


# -- settings and state ------------------------------------------------------------


class ConfigError(Exception):
    """A setting is missing or refused: one line for the operator, no traceback."""


def _url(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{name} must be an http(s) URL, not {value!r}")
    return value


@dataclass(frozen=True)
class Settings:
    token: str
    base_url: str
    api_key: str
    api_url: str | None = None
    state_path: Path = Path(DEFAULT_STATE_FILE)
    delivery_timeout: float = DEFAULT_DELIVERY_TIMEOUT

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        token = env.get("TELEGRAM_BOT_TOKEN", "").strip()
        if not token:
            raise ConfigError("TELEGRAM_BOT_TOKEN is not set (ask @BotFather for one)")
        try:
            validate_token(token)
        except TokenValidationError:
            raise ConfigError(
                "TELEGRAM_BOT_TOKEN does not look like a bot token (123456:ABC…)"
            ) from None
        base_url = _url(env, "SUPPORT_BASE_URL")
        if base_url is None:
            raise ConfigError(
                "SUPPORT_BASE_URL is not set (where the support app is mounted, "
                "e.g. http://127.0.0.1:8000/support/)"
            )
        api_key = env.get("SUPPORT_API_KEY", "").strip()
        if not api_key:
            raise ConfigError(
                "SUPPORT_API_KEY is not set (manage.py support_create_bot_key NAME prints one)"
            )
        raw_timeout = env.get("SUPPORT_BOT_DELIVERY_TIMEOUT", "").strip()
        try:
            timeout = float(raw_timeout) if raw_timeout else DEFAULT_DELIVERY_TIMEOUT
        except ValueError:
            timeout = -1.0
        if not 0 <= timeout <= 3600:
            raise ConfigError(
                f"SUPPORT_BOT_DELIVERY_TIMEOUT must be seconds from 0 to 3600, not {raw_timeout!r}"
            )
        state = env.get("SUPPORT_BOT_STATE", "").strip() or DEFAULT_STATE_FILE
        return cls(
            token=token,
            base_url=base_url,
            api_key=api_key,
            api_url=_url(env, "TELEGRAM_API_URL"),
            state_path=Path(state),
            delivery_timeout=timeout,
        )


@dataclass
class State:
    """What survives a restart: the desk's stream cursor, each user's language, and the
    parts of albums not posted yet (Telegram does not deliver them again once handled).

    Saved as JSON, atomically: written to a temporary file beside it, flushed
    to disk, then renamed over the old one, so a crash leaves the old or the
    new state, never half of one.
    """

    path: Path
    cursor: str | None = None
    languages: dict[int, Language] = field(default_factory=dict)
    #: An album's key -> its parts received so far, in order.
    albums: dict[str, list[Incoming]] = field(default_factory=dict)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    @classmethod
    def load(cls, path: Path) -> State:
        try:
            raw = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls(path)
        except OSError as error:
            raise ConfigError(f"SUPPORT_BOT_STATE {path} cannot be read: {error}") from None
        try:
            data = json.loads(raw)
            cursor = data["cursor"]
            languages = {int(k): language_of(v) for k, v in data.get("languages", {}).items()}
            albums = {
                str(key): [Incoming.from_json(part) for part in parts]
                for key, parts in data.get("albums", {}).items()
            }
            if cursor is not None and not isinstance(cursor, str):
                raise TypeError("cursor")
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            raise ConfigError(
                f"SUPPORT_BOT_STATE {path} is not this bot's state file ({error!r}); "
                "move it away to start from the present"
            ) from None
        return cls(path, cursor, languages, albums)

    def snapshot(self) -> str:
        data = {
            "version": 1,
            "cursor": self.cursor,
            "languages": {str(k): v for k, v in sorted(self.languages.items())},
            "albums": {
                key: [part.to_json() for part in parts] for key, parts in self.albums.items()
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
        async with self._lock:
            await asyncio.to_thread(self.write, self.snapshot())


# -- Telegram ----------------------------------------------------------------------


class FileTooBig(Exception):
    """Telegram will not hand the bot this file (over its 20 MB download limit)."""


class DownloadFailed(Exception):
    """A user's file could not be downloaded from Telegram."""


#: How a send ended: sent; refused for what it carries (a file Telegram would not
#: take as that kind: try it as a document); failed (the chat is gone, or the
#: network gave up).
Outcome = Literal["sent", "refused", "failed"]


def _send_file(
    bot: Bot, kind: str, chat_id: int, outgoing: Outgoing, caption: str | None
) -> Awaitable[object]:
    """Upload *outgoing* as a *kind* (read from its path on each try)."""
    file = FSInputFile(outgoing.path, filename=outgoing.filename)
    if kind == "photo":
        return bot.send_photo(chat_id=chat_id, photo=file, caption=caption)
    if kind == "video":
        return bot.send_video(chat_id=chat_id, video=file, caption=caption)
    if kind == "voice":
        return bot.send_voice(chat_id=chat_id, voice=file, caption=caption)
    if kind == "audio":
        return bot.send_audio(chat_id=chat_id, audio=file, caption=caption)
    if kind == "animation":
        return bot.send_animation(chat_id=chat_id, animation=file, caption=caption)
    if kind == "sticker":  # a sticker has no caption (send_files sends it first)
        return bot.send_sticker(chat_id=chat_id, sticker=file)
    return bot.send_document(chat_id=chat_id, document=file, caption=caption)


#: The kinds the desk has, each with its Bot API method (``_send_file``).
SENDERS = {
    "photo": "sendPhoto",
    "video": "sendVideo",
    "voice": "sendVoice",
    "audio": "sendAudio",
    "animation": "sendAnimation",
    "sticker": "sendSticker",
    "document": "sendDocument",
}
_IN_ALBUM = {
    "photo": InputMediaPhoto,
    "video": InputMediaVideo,
    "document": InputMediaDocument,
    "audio": InputMediaAudio,
}


class Telegram:
    """Sends text and files to chats within Telegram's limits (text split, captions
    kept short, 429s waited out), and downloads users' files."""

    def __init__(self, bot: Bot, *, network_attempts: int = 5) -> None:
        self.bot = bot
        self.network_attempts = network_attempts

    async def send(self, chat_id: int, text: str, *, patient: bool = False) -> bool:
        """Send *text* (in parts when long). False if Telegram would not take it.

        *patient* sends (the desk's replies, whose cursor waits for them) retry
        network and server errors until Telegram answers; others give up after
        a few tries. A chat that blocked the bot, or is gone, is not retried.
        """
        for part in split_text(text):
            outcome = await self._call(
                chat_id, partial(self.bot.send_message, chat_id, part), patient=patient
            )
            if outcome != "sent":
                return False
        return True

    async def send_files(
        self, chat_id: int, text: str, files: Sequence[Outgoing], *, patient: bool = False
    ) -> bool:
        """Send *files* (uploaded from their paths) with *text* as their caption, or
        before them as a message when it is too long for one. False if any was not taken."""
        groups = batches(files)
        caption: str | None = text if text.strip() else None
        fits = caption is not None and utf16_length(caption) <= TELEGRAM_CAPTION_LIMIT
        if caption is not None and (not fits or not groups or groups[0][0].sent_as == "sticker"):
            if not await self.send(chat_id, caption, patient=patient):
                return False
            caption = None
        delivered = True
        for group in groups:
            delivered &= await self._send_group(chat_id, group, caption, patient=patient)
            caption = None
        return delivered

    async def _send_group(
        self, chat_id: int, group: Sequence[Outgoing], caption: str | None, *, patient: bool
    ) -> bool:
        if len(group) == 1:
            return await self._send_one(chat_id, group[0], caption, patient=patient)

        def album() -> Awaitable[object]:
            media = [
                _IN_ALBUM[file.sent_as](
                    media=FSInputFile(file.path, filename=file.filename),
                    caption=caption if index == 0 else None,
                )
                for index, file in enumerate(group)
            ]
            return self.bot.send_media_group(chat_id=chat_id, media=media)

        outcome = await self._call(chat_id, album, patient=patient)
        if outcome == "refused":  # one of them Telegram won't take as that kind: one by one
            results = [
                await self._send_one(
                    chat_id, file, caption if index == 0 else None, patient=patient
                )
                for index, file in enumerate(group)
            ]
            return all(results)
        return outcome == "sent"

    async def _send_one(
        self, chat_id: int, file: Outgoing, caption: str | None, *, patient: bool
    ) -> bool:
        kinds = [file.sent_as] if file.sent_as == "document" else [file.sent_as, "document"]
        for kind in kinds:
            upload = partial(_send_file, self.bot, kind, chat_id, file, caption)
            outcome = await self._call(chat_id, upload, patient=patient)
            if outcome != "refused":
                return outcome == "sent"
            log.warning(
                "Telegram refused %s as a %s; sending it as a document", file.filename, kind
            )
        return False

    async def _call(
        self, chat_id: int, request: Callable[[], Awaitable[object]], *, patient: bool
    ) -> Outcome:
        failures = 0
        while True:
            try:
                await request()
                return "sent"
            except TelegramRetryAfter as flood:
                log.warning(
                    "Telegram flood control: waiting %ss (chat %s)", flood.retry_after, chat_id
                )
                await asyncio.sleep(flood.retry_after)
            except TelegramBadRequest as error:
                log.warning("Telegram refused a message to chat %s: %s", chat_id, error)
                return "refused"
            except (TelegramForbiddenError, TelegramNotFound) as error:
                log.warning("Telegram refused a message to chat %s: %s", chat_id, error)
                return "failed"
            except (TelegramNetworkError, TelegramServerError) as error:
                failures += 1
                if not patient and failures >= self.network_attempts:
                    log.error(
                        "Telegram unreachable, message to chat %s dropped: %s", chat_id, error
                    )
                    return "failed"
                delay = min(30.0, 0.5 * 2**failures)
                log.warning("Telegram unreachable (%s); retrying in %.1fs", error, delay)
                await asyncio.sleep(delay)

    async def download(self, file_id: str, destination: Path) -> None:
        """A user's file to *destination*: ``getFile``, then the file from the Bot API
        server. :class:`FileTooBig` over Telegram's limit, :class:`DownloadFailed` else."""
        failures = 0
        while True:
            try:
                file = await self.bot.get_file(file_id)
                if not file.file_path:
                    raise DownloadFailed(f"Telegram gave no path for file {file_id}")
                await self.bot.download_file(file.file_path, destination, timeout=DOWNLOAD_TIMEOUT)
                return
            except TelegramRetryAfter as flood:
                await asyncio.sleep(flood.retry_after)
            except TelegramBadRequest as error:
                if "too big" in error.message.lower():
                    raise FileTooBig(error.message) from None
                raise DownloadFailed(f"Telegram refused file {file_id}: {error}") from None
            except aiohttp.ClientResponseError as error:
                if error.status < 500:
                    raise DownloadFailed(
                        f"file {file_id}: {error.status} {error.message}"
                    ) from None
                failures = await self._wait_to_retry(failures, error)
            except (
                TelegramNetworkError,
                TelegramServerError,
                aiohttp.ClientError,
                TimeoutError,
            ) as error:
                failures = await self._wait_to_retry(failures, error)

    async def _wait_to_retry(self, failures: int, error: Exception) -> int:
        failures += 1
        if failures >= self.network_attempts:
            raise DownloadFailed(f"Telegram unreachable: {error!r}") from None
        delay = min(30.0, 0.5 * 2**failures)
        log.warning("download from Telegram failed (%r); retrying in %.1fs", error, delay)
        await asyncio.sleep(delay)
        return failures


class TelegramChat(Protocol):
    """What :class:`SupportBot` needs of Telegram (:class:`Telegram`, or a test's fake)."""

    async def send(self, chat_id: int, text: str, *, patient: bool = False) -> bool: ...

    async def send_files(
        self, chat_id: int, text: str, files: Sequence[Outgoing], *, patient: bool = False
    ) -> bool: ...

    async def download(self, file_id: str, destination: Path) -> None: ...


# -- the bot -----------------------------------------------------------------------


class SupportBot:
    """Telegram users on one side, the support desk on the other."""

    def __init__(
        self,
        client: AsyncSupportClient,
        telegram: TelegramChat,
        state: State,
        *,
        delivery_timeout: float = DEFAULT_DELIVERY_TIMEOUT,
        retry_delay: float = 1.0,
        album_window: float = ALBUM_WINDOW,
    ) -> None:
        self.client = client
        self.telegram = telegram
        self.state = state
        self.delivery_timeout = delivery_timeout
        self.retry_delay = retry_delay
        self.album_window = album_window
        #: ticket id -> the Telegram user (= private chat) it belongs to.
        self.chats: dict[int, int] = {}
        #: Tickets this process resolved on the user's /close: answered already.
        self.closed_here: set[int] = set()
        #: An album's key -> when its last part came (the event loop's clock).
        self._album_seen: dict[str, float] = {}
        #: One lock per chat: its albums and messages reach the desk in order.
        self._chat_locks: dict[int, asyncio.Lock] = {}

    # -- Telegram -> desk ----------------------------------------------------------

    async def remember_language(self, user_id: int, language: Language) -> None:
        if self.state.languages.get(user_id) != language:
            self.state.languages[user_id] = language
            await self.state.save()

    def language(self, user_id: int) -> Language:
        return self.state.languages.get(user_id, "en")

    async def reply(self, to: Incoming | Parcel, key: str, **values: object) -> None:
        await self.telegram.send(to.chat_id, text_for(to.language, key, **values))

    async def on_start(self, incoming: Incoming) -> None:
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
        """Post; the ticket if this opened one. Safe to repeat with the same key."""
        kinds = [media.kind for media in parcel.media] if parcel.media else None
        key = parcel.key
        user_id = parcel.user_id
        for ticket in reversed(await self.client.tickets.list(user_id=user_id, resolved=False)):
            try:
                await self.client.messages.send(
                    ticket.id, parcel.text, files=files, kinds=kinds, idempotency_key=key
                )
            except ConflictError as conflict:
                if conflict.code != "ticket_resolved":
                    raise
                continue  # resolved since we looked: try the next, or open one
            self.chats[ticket.id] = user_id
            return None
        ticket = await self.client.tickets.create(
            user_id=user_id,
            title=parcel.title,
            text=parcel.text or None,
            files=files,
            kinds=kinds,
            idempotency_key=key,
        )
        self.chats[ticket.id] = user_id
        # A key the desk has seen returns the ticket it opened; resolved means
        # this is an old message delivered again, already posted.
        return None if ticket.resolved else ticket

    async def _retrying(self, call: Callable[[], Awaitable[Ticket | None]]) -> Ticket | None:
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

    # -- albums ----------------------------------------------------------------------

    def _lock(self, chat_id: int) -> asyncio.Lock:
        return self._chat_locks.setdefault(chat_id, asyncio.Lock())

    async def collect(self, incoming: Incoming) -> None:
        """Keep a part of an album, saved in the state file before Telegram hears it was
        handled, until the album is complete: no part came for ``album_window`` seconds,
        or the user sent something else (see :meth:`follow_albums`)."""
        group = incoming.media_group_id
        chat = incoming.chat_id
        for key, parts in list(self.state.albums.items()):
            if parts and parts[0].chat_id == chat and parts[0].media_group_id != group:
                await self.flush_album(key)  # another album of this chat, sent before
        async with self._lock(chat):
            waiting = next(
                (
                    key
                    for key, parts in self.state.albums.items()
                    if parts and parts[0].chat_id == chat and parts[0].media_group_id == group
                ),
                None,
            )
            assert group is not None
            key = waiting or album_key(chat, group, incoming.message_id)
            parts = self.state.albums.setdefault(key, [])
            if all(part.message_id != incoming.message_id for part in parts):
                parts.append(incoming)
                parts.sort(key=lambda part: part.message_id)
                await self.state.save()
            self._album_seen[key] = asyncio.get_running_loop().time()

    async def flush_album(self, key: str) -> None:
        """Post the album *key* as one message (if still waiting), then forget it."""
        parts = self.state.albums.get(key)
        if not parts:
            return
        async with self._lock(parts[0].chat_id):
            parts = self.state.albums.get(key)
            if not parts:
                return  # posted meanwhile
            try:
                await self.deliver(Parcel.of(parts, key))
            except Exception:  # not CancelledError: a stopped bot posts it after its restart
                log.exception("album %s could not be posted; it is dropped", key)
            self.state.albums.pop(key, None)
            self._album_seen.pop(key, None)
            await self.state.save()

    async def flush_albums(self, chat_id: int) -> None:
        """Post the albums of *chat_id* still waiting: something else came after them."""
        for key, parts in list(self.state.albums.items()):
            if parts and parts[0].chat_id == chat_id:
                await self.flush_album(key)

    async def follow_albums(self) -> None:
        """Post each album once no part of it has come for ``album_window`` seconds
        (albums saved before a restart: that long after the start), forever."""
        loop = asyncio.get_running_loop()
        while True:
            now = loop.time()
            for key in list(self.state.albums):
                if now - self._album_seen.setdefault(key, now) >= self.album_window:
                    await self.flush_album(key)
            await asyncio.sleep(self.album_window / 4)

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
                self.closed_here.add(ticket.id)
                await self.client.tickets.resolve(ticket.id)
                await self.reply(incoming, "closed", id=ticket.id)
        except SupportError as error:
            log.error("/close for user %s failed: %s", incoming.user_id, error)
            await self.reply(incoming, "undelivered")

    # -- desk -> Telegram ----------------------------------------------------------

    async def start_cursor(self) -> str:
        """The saved cursor, or the desk's present one (saved at once, so a crash
        before the first event does not lose what comes after)."""
        while self.state.cursor is None:
            try:
                self.state.cursor = (await self.client.events.poll(timeout=0)).cursor
            except TRANSIENT as error:
                log.warning("the desk is unreachable (%s); retrying in 5s", error)
                await asyncio.sleep(5)
                continue
            await self.state.save()
        return self.state.cursor

    async def follow_desk(self) -> None:
        """Forward the desk's events to users' chats, forever, saving the cursor."""
        stream = self.client.events.stream(after=await self.start_cursor(), transport="auto")
        log.info("following the desk's events from %s", self.state.cursor)
        async for event in stream:
            if isinstance(event, StreamReset):
                log.warning(
                    "stream.reset: the saved cursor is older than the desk keeps events; "
                    "replies from before %s may not have been forwarded; going on from there",
                    event.event_id,
                )
            else:
                await self._until_handled(event)
            self.state.cursor = event.event_id
            await self.state.save()

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
        if isinstance(event, TicketCreated):
            self.chats[event.ticket.id] = event.ticket.user.telegram_id
        elif isinstance(event, MessageNew):
            if event.message.sender == "supp":
                message = event.message
                await self._to_user(message.ticket, text=message.text, files=message.attachments)
        elif isinstance(event, TicketAssigned):
            await self._to_user(event.id, announce="assigned")
        elif isinstance(event, TicketResolved):
            if event.id in self.closed_here:
                self.closed_here.discard(event.id)  # the user closed it; answered already
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
            text = text_for(self.language(chat), announce, id=ticket_id)
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
        if ticket_id not in self.chats:
            try:
                ticket = await self.client.tickets.get(ticket_id)
            except NotFoundError:
                log.warning("ticket %s is gone; its event is skipped", ticket_id)
                return None
            self.chats[ticket_id] = ticket.user.telegram_id
        return self.chats[ticket_id]


# -- wiring ------------------------------------------------------------------------


def media_of(message: TelegramMessage) -> tuple[Media, ...]:
    """The file a Telegram message carries, as the desk's kind (a photo: its largest size)."""
    n = message.message_id
    if message.photo:
        largest = max(message.photo, key=lambda p: (p.width * p.height, p.file_size or 0))
        return (Media(largest.file_id, "photo", f"photo_{n}.jpg", largest.file_size),)
    if message.animation:  # before the document Telegram also sends with an animation
        a = message.animation
        return (Media(a.file_id, "animation", a.file_name or f"animation_{n}.mp4", a.file_size),)
    if message.sticker:
        sticker = message.sticker
        extension = ".webm" if sticker.is_video else ".tgs" if sticker.is_animated else ".webp"
        return (Media(sticker.file_id, "sticker", f"sticker_{n}{extension}", sticker.file_size),)
    if message.voice:
        return (Media(message.voice.file_id, "voice", f"voice_{n}.ogg", message.voice.file_size),)
    if message.video_note:
        note = message.video_note
        return (Media(note.file_id, "video", f"video_note_{n}.mp4", note.file_size),)
    if message.video:
        v = message.video
        return (Media(v.file_id, "video", v.file_name or f"video_{n}.mp4", v.file_size),)
    if message.audio:
        music = message.audio
        return (
            Media(music.file_id, "audio", music.file_name or f"audio_{n}.mp3", music.file_size),
        )
    if message.document:
        d = message.document
        return (Media(d.file_id, "document", d.file_name or f"document_{n}", d.file_size),)
    return ()


def text_of(message: TelegramMessage) -> str | None:
    """The text, a caption, or a venue, location or contact written out for the desk."""
    if message.text or message.caption:
        return message.text or message.caption
    if message.venue:
        venue, place = message.venue, message.venue.location
        return f"📍 {venue.title}, {venue.address}\n{map_link(place.latitude, place.longitude)}"
    if message.location:
        place = message.location
        return f"📍 {map_link(place.latitude, place.longitude)}"
    if message.contact:
        contact = message.contact
        name = " ".join(filter(None, [contact.first_name, contact.last_name]))
        return f"👤 {name}, {contact.phone_number}"
    return None


def map_link(latitude: float, longitude: float) -> str:
    return (
        f"{latitude:.6f}, {longitude:.6f} "
        f"https://www.openstreetmap.org/?mlat={latitude:.6f}&mlon={longitude:.6f}"
        f"#map=16/{latitude:.6f}/{longitude:.6f}"
    )


def incoming(message: TelegramMessage) -> Incoming | None:
    user = message.from_user
    if user is None:
        return None
    return Incoming(
        user_id=user.id,
        chat_id=message.chat.id,
        message_id=message.message_id,
        language=language_of(user.language_code),
        text=text_of(message),
        media=media_of(message),
        media_group_id=message.media_group_id,
    )


def build_dispatcher(support: SupportBot) -> Dispatcher:
    """Private chats only; commands first, then any other message."""
    router = Router(name="support")
    router.message.filter(F.chat.type == "private")

    def adapt(
        handler: Callable[[Incoming], Awaitable[None]],
    ) -> Callable[[TelegramMessage], Awaitable[None]]:
        async def handle(message: TelegramMessage) -> None:
            parsed = incoming(message)
            if parsed is not None:
                await handler(parsed)

        return handle

    router.message.register(adapt(support.on_start), Command("start", "help"))
    router.message.register(adapt(support.on_close), Command("close"))
    router.message.register(adapt(support.on_message))
    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    return dispatcher


async def check_desk(client: AsyncSupportClient, settings: Settings) -> str | None:
    """The desk's present cursor, or None while it is unreachable.

    Refused credentials and wrong mounts stop the bot; an unreachable desk does not.
    """
    try:
        return (await client.events.poll(timeout=0)).cursor
    except REFUSED:
        raise ConfigError(
            f"SUPPORT_API_KEY was refused by the desk at {settings.base_url}"
        ) from None
    except NotFoundError:
        raise ConfigError(
            f"SUPPORT_BASE_URL {settings.base_url} is not where the support app is mounted "
            "(events/ answered 404)"
        ) from None
    except TRANSIENT as error:
        log.warning("the desk at %s is not reachable yet (%s); going on", settings.base_url, error)
        return None


async def check_telegram(bot: Bot, settings: Settings) -> None:
    where = settings.api_url or "api.telegram.org"
    for attempt in range(3):
        try:
            me = await bot.get_me()
        except TelegramUnauthorizedError:
            raise ConfigError(f"TELEGRAM_BOT_TOKEN was refused by {where}") from None
        except (TelegramNetworkError, TelegramServerError, TelegramNotFound) as error:
            if attempt == 2:
                raise ConfigError(
                    f"cannot reach the Telegram Bot API at {where}: {error}"
                ) from None
            await asyncio.sleep(1 + attempt)
        else:
            log.info("running as @%s", me.username)
            return


async def run(settings: Settings) -> None:
    state = State.load(settings.state_path)
    try:
        await state.save()  # fail now, not after the first event, if it can't be written
    except OSError as error:
        raise ConfigError(
            f"SUPPORT_BOT_STATE {settings.state_path} cannot be written: {error}"
        ) from None
    session = (
        AiohttpSession(api=TelegramAPIServer.from_base(settings.api_url))
        if settings.api_url
        else AiohttpSession()
    )
    bot = Bot(settings.token, session=session)
    async with AsyncSupportClient(settings.base_url, api_key=settings.api_key) as client:
        try:
            await check_telegram(bot, settings)
            present = await check_desk(client, settings)
            if state.cursor is None and present is not None:
                state.cursor = present  # a first start: from now on
                await state.save()
            support = SupportBot(
                client, Telegram(bot), state, delivery_timeout=settings.delivery_timeout
            )
            dispatcher = build_dispatcher(support)
            desk = asyncio.create_task(support.follow_desk(), name="desk")
            albums = asyncio.create_task(support.follow_albums(), name="albums")
            # One update at a time, confirmed to Telegram only once handled.
            polling = asyncio.create_task(
                dispatcher.start_polling(bot, handle_as_tasks=False, close_bot_session=False),
                name="telegram",
            )
            tasks = (desk, albums, polling)
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in tasks:
                if task not in done:
                    task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for task in done:
                failure = None if task.cancelled() else task.exception()
                if isinstance(failure, REFUSED):
                    raise ConfigError(f"the desk stopped accepting SUPPORT_API_KEY: {failure}")
                if failure is not None:
                    raise failure
        finally:
            await bot.session.close()


def configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request is noise


def main(env: Mapping[str, str] | None = None) -> int:
    """Run until SIGINT/SIGTERM; 2 (after one line on stderr) when a setting is wrong."""
    try:
        settings = Settings.from_env(os.environ if env is None else env)
        asyncio.run(run(settings))
    except ConfigError as error:
        sys.stderr.write(f"telegram_bot: {error}\n")
        return 2
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    configure_logging()
    raise SystemExit(main())

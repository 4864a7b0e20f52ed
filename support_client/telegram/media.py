"""Users' messages and managers' files as the bot carries them, within Telegram's limits.

:func:`incoming` reads an aiogram message into an :class:`Incoming` (its text,
or a location or contact written out, and its files as the desk's kinds);
:class:`Outgoing` is a file of a manager's reply on its way to Telegram, and
:func:`batches` groups such files as ``sendMediaGroup`` allows.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from aiogram.types import Message as TelegramMessage

from support_client import AttachmentKind
from support_client.telegram.texts import Language, language_of

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

#: The kinds the desk has, each with the Bot API method that sends it.
SENDERS = {
    "photo": "sendPhoto",
    "video": "sendVideo",
    "voice": "sendVoice",
    "audio": "sendAudio",
    "animation": "sendAnimation",
    "sticker": "sendSticker",
    "document": "sendDocument",
}
#: The kinds one ``sendMediaGroup`` may mix: photos with videos, documents, audio.
ALBUM_FAMILIES = {"photo": "visual", "video": "visual", "document": "document", "audio": "audio"}


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
class UserProfile:
    """The sender's Telegram profile as the message gave it (``""`` where Telegram has none)."""

    first_name: str = ""
    last_name: str = ""
    username: str = ""
    language_code: str = ""


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
    #: The sender's profile, sent to the desk with the post (``None``: not known).
    profile: UserProfile | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Incoming:
        media = tuple(Media(**item) for item in data.get("media", ()))
        # Parts saved by an older version have no profile.
        profile = data.get("profile")
        return cls(
            **{
                **data,
                "language": language_of(data["language"]),
                "media": media,
                "profile": UserProfile(**profile) if isinstance(profile, dict) else None,
            }
        )


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
    path = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="support_bot."))
    try:
        yield path
    finally:
        await asyncio.to_thread(shutil.rmtree, path, True)


# -- reading Telegram's messages ---------------------------------------------------


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
    """*message* as the desk needs it; ``None`` for one with no sender (a channel's)."""
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
        profile=UserProfile(
            first_name=user.first_name or "",
            last_name=user.last_name or "",
            username=user.username or "",
            language_code=user.language_code or "",
        ),
    )

"""Tickets, messages and the people in them, as the REST API represents them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Literal

from pydantic import BaseModel as _PydanticBase
from pydantic import ConfigDict, Field

from support_client._models import BaseModel
from support_client.types.telegram import TelegramTopic

Sender = Literal["user", "supp"]
#: ``tickets.list(ordering=…)``: oldest or newest first, by id or by opening time.
TicketOrdering = Literal["id", "-id", "created_at", "-created_at"]
#: ``messages.list(ordering=…)``: oldest or newest first, by time or by id.
MessageOrdering = Literal["created_at", "-created_at", "id", "-id"]
#: What a file is to Telegram: ``messages.send(…, kinds=[…])`` names one per file.
AttachmentKind = Literal["photo", "video", "voice", "audio", "animation", "sticker", "document"]


class TelegramUser(BaseModel):
    """A ticket's user: the Telegram id, and the profile a bot last sent (``""`` unknown)."""

    telegram_id: int
    first_name: str = ""
    last_name: str = ""
    #: Without the ``@``.
    username: str = ""
    language_code: str = ""
    #: When the desk first heard of the user; ``None`` before it kept profiles.
    first_contact_at: datetime | None = None
    #: A manager blocked the user: the desk refuses their tickets and messages
    #: (403 ``user_blocked``); ``False`` from a server older than blocking.
    blocked: bool = False

    @property
    def name(self) -> str:
        """First and last name, else ``@username``, else ``"Telegram user <id>"``."""
        full = " ".join(part for part in (self.first_name, self.last_name) if part)
        return full or (
            f"@{self.username}" if self.username else f"Telegram user {self.telegram_id}"
        )


class Profile(_PydanticBase):
    """What a bot tells the desk of a Telegram user with a post (``profile=``): the fields
    given are stored, ``""`` says the user has none; ``None`` fields are not sent."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    first_name: str | None = None
    last_name: str | None = None
    #: Without the ``@``: ``[A-Za-z0-9_]``, at most 32.
    username: str | None = None
    language_code: str | None = None

    def to_json(self) -> dict[str, str]:
        return self.model_dump(exclude_none=True)


def profile_json(profile: Profile | Mapping[str, str] | None) -> dict[str, str] | None:
    """A ``profile=`` argument as the body's ``profile`` (a dict is checked as a
    :class:`Profile`: an unknown field is a ``ValueError`` before anything is sent)."""
    if profile is None:
        return None
    return (profile if isinstance(profile, Profile) else Profile.model_validate(profile)).to_json()


class Manager(BaseModel):
    id: int
    first_name: str = ""
    last_name: str = ""


class Attachment(BaseModel):
    """A file of a message; ``client.attachments.read(a)`` or ``.download(a, to=…)`` fetches it."""

    id: int
    #: One of :data:`AttachmentKind` (a plain ``str``: a newer server may add kinds).
    kind: str
    #: The sender's name for it, cleaned by the server (no path, no control characters).
    filename: str
    #: The type the server detected from the bytes (never the sender's word).
    content_type: str
    #: Bytes.
    size: int
    #: An image's size in pixels; ``None`` for other files.
    width: int | None = None
    height: int | None = None
    #: The download path under the server's mount (``/support/attachments/12/``),
    #: read with the same credentials as the API.
    url: str
    #: A small WebP of an image (same credentials); ``None`` for other files.
    thumbnail_url: str | None = None


class Message(BaseModel):
    id: int
    created_at: datetime
    sender: Sender
    text: str
    #: Whether the side it was written to has seen it.
    viewed: bool
    ticket: int
    #: The manager who wrote it; ``None`` for the user's messages.
    author: int | None = None
    #: Its files, in order (then ``text``, possibly empty, is their caption).
    attachments: list[Attachment] = Field(default_factory=list)
    #: Written by a manager in the staff group's topic (a staff bot acting for them).
    via_staff_chat: bool = False
    #: When its text was last edited; ``None``: never (``client.messages.edits`` has the history).
    edited_at: datetime | None = None


class MessageEdit(BaseModel):
    """One edit of a message (``client.messages.edits``): the text it had BEFORE the edit."""

    text: str
    edited_at: datetime
    #: The manager who edited it; ``None``: the user's own edit (through a bot).
    editor: int | None = None


class Rating(BaseModel):
    """The user's rating of a resolved ticket: one per ticket, the first one stays."""

    #: 1 (bad) to 5 (great).
    score: int
    #: An optional word from the user (``""``: none, or not yet).
    comment: str = ""
    created_at: datetime


class Ticket(BaseModel):
    id: int
    user: TelegramUser
    support_manager: Manager | None = None
    created_at: datetime
    title: str
    resolved: bool = False
    #: The other side's messages the caller has not viewed yet.
    unread: int = 0
    #: Nothing waits to be viewed by the caller's side (``unread == 0``), as 1.2.0
    #: sent it; ``None`` from a server that does not send it.
    viewed: bool | None = None
    last_message: Message | None = None
    #: The ticket's forum topic in the staff group, once a staff bot stored one.
    telegram_topic: TelegramTopic | None = None
    #: When it was resolved; ``None`` while open (and after a reopening).
    resolved_at: datetime | None = None
    #: The id of the user's ticket resolved before this one opened, if any.
    previous: int | None = None
    #: The user's rating, once given.
    rating: Rating | None = None

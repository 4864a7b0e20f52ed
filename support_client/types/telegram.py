"""Managers' Telegram links and tickets' topics in the staff group."""

from __future__ import annotations

from datetime import datetime

from support_client._models import BaseModel


class LinkCode(BaseModel):
    """A one-time code (``K7QM-2XPA``) a manager sends to the staff bot as ``/link CODE``."""

    code: str
    expires_at: datetime


class TelegramLink(BaseModel):
    """A manager's own link: their Telegram id, or ``None`` when not linked."""

    telegram_id: int | None = None
    linked_at: datetime | None = None


class LinkedManagerAccount(BaseModel):
    """Who a confirmed Telegram id acts as."""

    id: int
    username: str
    #: The full name, else the username.
    name: str


class LinkedManager(BaseModel):
    """``client.telegram.confirm_link(…)``'s answer: the manager, and their Telegram id."""

    manager: LinkedManagerAccount
    telegram_id: int


class TelegramTopic(BaseModel):
    """A ticket's forum topic in the staff group."""

    chat_id: int
    topic_id: int

"""Tickets, messages and the people in them, as the REST API represents them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from support_client._models import BaseModel

Sender = Literal["user", "supp"]


class TelegramUser(BaseModel):
    telegram_id: int


class Manager(BaseModel):
    id: int
    first_name: str = ""
    last_name: str = ""


class Message(BaseModel):
    id: int
    created_at: datetime
    sender: Sender
    text: str
    viewed: bool
    ticket: int
    #: The manager who wrote it; ``None`` for the user's messages.
    author: int | None = None


class Ticket(BaseModel):
    id: int
    user: TelegramUser
    support_manager: Manager | None = None
    created_at: datetime
    title: str
    resolved: bool = False
    #: The other side's messages the caller has not viewed yet.
    unread: int = 0
    last_message: Message | None = None

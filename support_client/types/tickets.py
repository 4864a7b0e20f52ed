"""Tickets, messages and the people in them, as the REST API represents them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from support_client._models import BaseModel

Sender = Literal["user", "supp"]
#: ``tickets.list(ordering=…)``: oldest or newest first, by id or by opening time.
TicketOrdering = Literal["id", "-id", "created_at", "-created_at"]
#: ``messages.list(ordering=…)``: oldest or newest first, by time or by id.
MessageOrdering = Literal["created_at", "-created_at", "id", "-id"]


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
    #: Whether the side it was written to has seen it.
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
    #: Nothing waits to be viewed by the caller's side (``unread == 0``), as 1.2.0
    #: sent it; ``None`` from a server that does not send it.
    viewed: bool | None = None
    last_message: Message | None = None

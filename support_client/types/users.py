"""A Telegram user as the desk knows them (``client.users``): profile, block, tickets."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from support_client._models import BaseModel
from support_client.types.tickets import TelegramUser


class UserBlock(BaseModel):
    """Why and since when a user is blocked, and by whom."""

    reason: str
    #: The manager who blocked them; ``None`` once that manager is deleted.
    blocked_by: int | None = None
    blocked_at: datetime


class UserTicket(BaseModel):
    """One of a user's tickets, in short."""

    id: int
    title: str
    resolved: bool
    created_at: datetime


class UserRecord(BaseModel):
    """``client.users.get(telegram_id)``'s answer (and ``block``'s, ``unblock``'s)."""

    user: TelegramUser
    #: ``None``: not blocked.
    block: UserBlock | None = None
    #: The user's tickets, newest first.
    tickets: list[UserTicket] = Field(default_factory=list)

    @property
    def blocked(self) -> bool:
        return self.block is not None or self.user.blocked

"""Managers' private notes on tickets (``client.notes``)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from support_client._models import BaseModel

NoteOrdering = Literal["created_at", "-created_at", "id", "-id"]


class Note(BaseModel):
    """A manager's private note on a ticket: managers read it, a bot never does."""

    id: int
    ticket: int
    #: The manager who wrote it; ``None`` once they are deleted.
    author: int | None = None
    text: str
    created_at: datetime

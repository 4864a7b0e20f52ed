"""Managers' saved replies (``client.saved_replies``)."""

from __future__ import annotations

from datetime import datetime

from support_client._models import BaseModel


class SavedReply(BaseModel):
    """A text managers insert by its shortcut; ``{first_name}`` and ``{manager}`` in it are
    for the inserting console to fill in."""

    id: int
    shortcut: str
    text: str
    #: The manager who wrote it; ``None`` once they are deleted.
    created_by: int | None = None
    created_at: datetime
    updated_at: datetime

"""The desk's numbers over the last days (``client.stats.get``)."""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from support_client._models import BaseModel


class DayStats(BaseModel):
    """Tickets opened and resolved on one day (the server's time zone)."""

    date: dt.date
    opened: int
    resolved: int


class RatingStats(BaseModel):
    """The ratings given to tickets opened in the range."""

    count: int
    #: ``None`` without ratings.
    average: float | None = None
    #: ``"1"`` … ``"5"`` -> how many (every score present, zeros included).
    by_score: dict[str, int] = Field(default_factory=dict)


class ManagerStats(BaseModel):
    """One manager's part of the range."""

    id: int
    username: str
    name: str
    replies: int
    resolved: int
    first_reply_median_seconds: float | None = None
    rating_average: float | None = None
    ratings: int = 0


class Stats(BaseModel):
    """``client.stats.get(days=7)``: the last *days* days, today included."""

    days: int
    since: dt.date
    until: dt.date
    #: One entry per day, oldest first, days without tickets included.
    per_day: list[DayStats]
    #: The median time from a ticket's opening to the first reply, ``None`` without replies.
    first_reply_median_seconds: float | None = None
    #: The median time from opening to resolution, ``None`` without resolutions.
    resolution_median_seconds: float | None = None
    ratings: RatingStats
    managers: list[ManagerStats] = Field(default_factory=list)

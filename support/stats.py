"""The desk's numbers for the console's stats page (``GET stats/?days=7|30``, managers only).

The period is the last *days* days in the server's current time zone
(:func:`django.utils.timezone.localdate`), today included, each day from its
local midnight. What is counted:

* ``per_day``: tickets opened (``created_at``) and resolved (``resolved_at``:
  the last resolution; a ticket reopened since is not resolved) on each day,
  oldest first, days without any included as zeros;
* ``first_reply_median_seconds``: for the tickets opened in the period, the
  median time from the ticket's ``created_at`` to its first ``supp`` message
  (tickets not answered yet are left out; ``null`` when none is);
* ``resolution_median_seconds``: for the tickets resolved in the period, from
  ``created_at`` to ``resolved_at``;
* ``ratings``: the ratings given in the period (their ``created_at``);
* ``managers``: each manager with something in the period: their replies
  (``supp`` messages they wrote), the tickets resolved in the period that they
  hold (``support_manager``), the median of the first replies they wrote (of
  tickets opened in the period) and the ratings of the tickets they hold.

Five queries whatever the data: the period's opened tickets (each with its
first reply's time and author, as subqueries), its resolved tickets, its
ratings and its replies (each counted in SQL), and the managers they name.
Medians are taken in Python from the rows read once.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Count, OuterRef, Q, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from support.actors import Actor
from support.exceptions import Invalid
from support.inputs import STATS_DAYS
from support.models import Message, Rating, Side, Ticket
from support.services import _require

#: The scores a rating may give, as ``by_score``'s keys.
SCORES = tuple(range(1, 6))
#: What :func:`compute` costs, whatever the data (tests/test_stats.py holds it to it).
QUERIES = 5


def require_manager(actor: Actor) -> None:
    """The stats are a manager's: a bot is refused whatever it asks."""
    _require(actor, bots=False)


def stats(
    actor: Actor, days: Any = STATS_DAYS[0], *, now: datetime | None = None
) -> dict[str, Any]:
    """The numbers of the last *days* days (7 or 30) up to *now* (managers only)."""
    require_manager(actor)
    return compute(_clean_days(days), now=now)


def _clean_days(days: Any) -> int:
    if isinstance(days, str) and days.isascii() and days.isdigit():
        days = int(days)
    if isinstance(days, bool) or not isinstance(days, int) or days not in STATS_DAYS:
        raise Invalid.field(
            "days", _("One of: %(days)s.") % {"days": ", ".join(map(str, STATS_DAYS))}
        )
    return int(days)


def _midnight(day: date) -> datetime:
    """The start of *day* in the current time zone."""
    return timezone.make_aware(datetime.combine(day, time.min))


def _local_day(moment: datetime) -> date:
    return timezone.localtime(moment).date()


def _seconds(durations: Iterable[timedelta]) -> float | None:
    values = [duration.total_seconds() for duration in durations]
    return round(statistics.median(values), 1) if values else None


def _average(scores: Counter[int]) -> float | None:
    count = sum(scores.values())
    if not count:
        return None
    return round(sum(score * n for score, n in scores.items()) / count, 2)


def compute(days: int, *, now: datetime | None = None) -> dict[str, Any]:
    """The stats of the *days* local days up to the one of *now* (default: now)."""
    until = timezone.localdate(now if now is not None else timezone.now())
    since = until - timedelta(days=days - 1)
    start, end = _midnight(since), _midnight(until + timedelta(days=1))

    first_replies = Message.objects.filter(ticket=OuterRef("pk"), sender=Side.SUPPORT).order_by(
        "created_at", "id"
    )
    opened = list(
        Ticket.objects.filter(created_at__gte=start, created_at__lt=end)
        .annotate(
            first_reply_at=Subquery(first_replies.values("created_at")[:1]),
            first_reply_by=Subquery(first_replies.values("author")[:1]),
        )
        .values_list("created_at", "first_reply_at", "first_reply_by")
    )
    resolved_range = Q(resolved=True, resolved_at__gte=start, resolved_at__lt=end)
    resolved = list(
        Ticket.objects.filter(resolved_range).values_list(
            "created_at", "resolved_at", "support_manager"
        )
    )
    rated = Rating.objects.filter(created_at__gte=start, created_at__lt=end)
    ratings = [
        (row["ticket__support_manager"], row["score"], row["n"])
        for row in rated.values("ticket__support_manager", "score")
        .annotate(n=Count("id"))
        .order_by()
    ]
    replied = Message.objects.filter(
        sender=Side.SUPPORT, created_at__gte=start, created_at__lt=end, author__isnull=False
    )
    replies = {
        row["author"]: row["n"]
        for row in replied.values("author").annotate(n=Count("id")).order_by()
    }
    # The managers named above, in one query (subqueries, so the count never varies).
    people = get_user_model()._default_manager.filter(
        Q(pk__in=replied.values("author"))
        | Q(pk__in=Ticket.objects.filter(resolved_range).values("support_manager"))
        | Q(pk__in=rated.values("ticket__support_manager"))
    )

    per_day = {since + timedelta(days=n): {"opened": 0, "resolved": 0} for n in range(days)}
    first_reply: list[timedelta] = []
    first_reply_by: defaultdict[int, list[timedelta]] = defaultdict(list)
    for created_at, reply_at, reply_by in opened:
        per_day[_local_day(created_at)]["opened"] += 1
        if reply_at is not None:
            first_reply.append(reply_at - created_at)
            if reply_by is not None:
                first_reply_by[reply_by].append(reply_at - created_at)
    resolutions: list[timedelta] = []
    resolved_by: Counter[int] = Counter()
    for created_at, resolved_at, manager_id in resolved:
        assert resolved_at is not None  # filtered on its range
        per_day[_local_day(resolved_at)]["resolved"] += 1
        resolutions.append(resolved_at - created_at)
        if manager_id is not None:
            resolved_by[manager_id] += 1
    scores: Counter[int] = Counter()
    scores_by: defaultdict[int, Counter[int]] = defaultdict(Counter)
    for manager_id, score, n in ratings:
        scores[score] += n
        if manager_id is not None:
            scores_by[manager_id][score] += n

    managers = [
        {
            "id": person.pk,
            "username": str(person.get_username()),
            "name": _name(person),
            "replies": replies.get(person.pk, 0),
            "resolved": resolved_by[person.pk],
            "first_reply_median_seconds": _seconds(first_reply_by[person.pk]),
            "rating_average": _average(scores_by[person.pk]),
            "ratings": sum(scores_by[person.pk].values()),
        }
        for person in people
    ]
    managers.sort(key=lambda m: (-m["replies"], -m["resolved"], m["id"]))
    return {
        "days": days,
        "since": since.isoformat(),
        "until": until.isoformat(),
        "per_day": [{"date": day.isoformat(), **counts} for day, counts in per_day.items()],
        "first_reply_median_seconds": _seconds(first_reply),
        "resolution_median_seconds": _seconds(resolutions),
        "ratings": {
            "count": sum(scores.values()),
            "average": _average(scores),
            "by_score": {str(score): scores[score] for score in SCORES},
        },
        "managers": managers,
    }


def _name(user: Any) -> str:
    """The full name, else the username (a custom user model may have no names)."""
    full_name = user.get_full_name() if hasattr(user, "get_full_name") else ""
    return str(full_name or "") or str(user.get_username())

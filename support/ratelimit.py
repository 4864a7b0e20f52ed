"""Request budgets per credential, one counter for every transport.

Rates come from ``SUPPORT_THROTTLE_RATES`` (``{"bot": "6000/min", "manager":
"600/min"}`` by default; ``None`` for a side turns its limit off), read on
each call so ``override_settings`` works. A REST request and a WebSocket
command spend the same budget, keyed on the credential
(:attr:`~support.actors.Actor.credential`). Counters live in the cache named
by ``SUPPORT_THROTTLE_CACHE``: with several workers, point it at a shared
cache (Redis), or each worker counts on its own.
"""

from __future__ import annotations

import time

from django.core.cache import BaseCache

from support import sharedcache
from support.actors import Actor
from support.conf import support_settings
from support.exceptions import RateLimited

#: Seconds in each period a rate may name (``"600/min"``, ``"10/s"``).
PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """``"600/min"`` as ``(600, 60)``: requests allowed, per that many seconds."""
    count, _sep, period = rate.partition("/")
    return int(count), PERIODS[period.strip()[:1].lower()]


def spend(actor: Actor) -> None:
    """Count one request against *actor*'s budget; :class:`RateLimited` when it is spent.

    A sliding window: the cache holds the times of the requests still inside
    it, newest first, so a refusal can say when the oldest one leaves.
    """
    rate = support_settings.THROTTLE_RATES.get(actor.credential.kind)
    if rate is None:
        return
    allowed, window = parse_rate(rate)
    key = f"support-throttle-{actor.credential}"
    now = time.time()

    def count(cache: BaseCache) -> float | None:
        history = [at for at in cache.get(key, []) if at > now - window]
        if len(history) >= allowed:
            return float(window - (now - history[-1]))
        cache.set(key, [now, *history], window)
        return None

    retry_after = sharedcache.use(count, None)  # a failing cache limits nothing
    if retry_after is not None:
        raise RateLimited(retry_after=retry_after)

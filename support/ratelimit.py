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
from support.conf import parse_rate, support_settings
from support.exceptions import RateLimited


def spend(actor: Actor) -> None:
    """Count one request against *actor*'s budget; :class:`RateLimited` when it is spent."""
    rate = support_settings.THROTTLE_RATES.get(actor.credential.kind)
    if rate is None:
        return
    wait = spend_key(f"support-throttle-{actor.credential}", rate)
    if wait is not None:
        raise RateLimited(retry_after=wait)


def spend_key(key: str, rate: str, *, count: bool = True) -> float | None:
    """Spend one of *rate* from the budget named *key*: ``None``, or seconds to wait.

    A sliding window, approximated by two counters: this window's requests
    plus the previous window's, weighted by how much of it still overlaps
    the last *window* seconds. Each call costs two cache round trips (the
    counts read, then this window's counted: ``incr`` when the read found it,
    else ``add``) and the same few bytes whatever the rate (a list of request
    times, at 6,000 a minute, was unpickled and pickled again on every
    request). With *count* false it only looks (a sign-in checks its budget
    before it knows whether it failed). A failing cache limits nothing.
    """
    allowed, window = parse_rate(rate)
    index, into = divmod(time.time(), window)
    current_key, previous_key = f"{key}-{int(index)}", f"{key}-{int(index) - 1}"

    def counted(cache: BaseCache) -> float | None:
        counts = cache.get_many([current_key, previous_key])
        current, previous = counts.get(current_key, 0), counts.get(previous_key, 0)
        if current + previous * (1 - into / window) >= allowed:
            return retry_after(allowed, window, into, current, previous)
        if count:
            _count_one(cache, current_key, 2 * window, exists=current_key in counts)
        return None

    return sharedcache.use(counted, None)


def _count_one(cache: BaseCache, key: str, timeout: int, *, exists: bool) -> None:
    """One more in the counter *key*: one round trip, whether it is there yet or not."""
    if exists:
        try:
            cache.incr(key)
            return
        except ValueError:  # expired since it was read: this request starts it again
            pass
    if not cache.add(key, 1, timeout=timeout):  # another request started it meanwhile
        try:
            cache.incr(key)
        except ValueError:  # and it expired in between
            cache.set(key, 1, timeout=timeout)


def retry_after(allowed: int, window: int, into: float, current: int, previous: int) -> float:
    """Seconds until the weighted count drops below *allowed* (at most *window*)."""
    if current < allowed and previous:
        # Within this window, as the previous one slides out.
        return max(0.0, window * (1 - (allowed - current) / previous) - into)
    # Only in the next window, as this one slides out.
    return (window - into) + window * (1 - allowed / max(current, allowed))

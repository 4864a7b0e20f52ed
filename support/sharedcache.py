"""The cache the workers share (``SUPPORT_THROTTLE_CACHE``), never a reason to refuse.

It holds the rate-limit counters and the generation counter of remembered
credentials. With several workers it is typically Redis, which may restart:
while it is unreachable, requests go on, looked up in the database each time
and not rate-limited, and a warning is logged (at most every
:data:`WARNING_INTERVAL` seconds), rather than every request failing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.cache import BaseCache, caches
from django.core.signals import setting_changed
from django.dispatch import receiver

from support.conf import support_settings

logger = logging.getLogger(__name__)

T = TypeVar("T")
WARNING_INTERVAL = 10.0
_last_warning = 0.0
_threads = threading.local()
#: Bumped when the cache settings change: each thread then makes a new client.
_settings_version = 0


def shared_cache() -> BaseCache:
    """This thread's client of the shared cache, made once per thread.

    Django's ``caches[alias]`` makes a client per request context, and under
    ASGI each request has a context of its own: with Redis, every request
    would open a TCP connection (and redis-py's handshake) just to read a
    counter. The app's work runs in a few long-lived threads
    (:mod:`support.db`), so one client each keeps its connections.
    """
    cached = getattr(_threads, "cache", None)
    if cached is None or cached[0] != _settings_version:
        cached = (_settings_version, caches.create_connection(support_settings.THROTTLE_CACHE))
        _threads.cache = cached
    return cached[1]


@receiver(setting_changed)
def _forget_clients(setting: str, **kwargs: Any) -> None:
    """Tests (and ``override_settings``) that change the cache get new clients."""
    global _settings_version
    if setting in ("CACHES", "SUPPORT_THROTTLE_CACHE"):
        _settings_version += 1


def use(operation: Callable[[BaseCache], T], fallback: T) -> T:
    """``operation(cache)``, or *fallback* when the cache fails."""
    global _last_warning
    try:
        return operation(shared_cache())
    except Exception as error:  # a cache backend's own errors (redis-py's, say)
        now = time.monotonic()
        if now - _last_warning >= WARNING_INTERVAL:
            _last_warning = now
            logger.warning(
                "The cache %r is failing (%s): requests are not rate-limited and "
                "credentials are looked up each time until it is back.",
                support_settings.THROTTLE_CACHE,
                error,
            )
        return fallback

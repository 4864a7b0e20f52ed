"""The cache the workers share (``SUPPORT_THROTTLE_CACHE``), never a reason to refuse.

It holds the rate-limit counters and the generation counter of remembered
credentials. With several workers it is typically Redis, which may restart:
while it is unreachable, requests go on, looked up in the database each time
and not rate-limited, and a warning is logged (at most every
:data:`WARNING_INTERVAL` seconds), rather than every request failing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from django.core.cache import BaseCache, caches

from support.conf import support_settings

logger = logging.getLogger(__name__)

T = TypeVar("T")
WARNING_INTERVAL = 10.0
_last_warning = 0.0


def use(operation: Callable[[BaseCache], T], fallback: T) -> T:
    """``operation(cache)``, or *fallback* when the cache fails."""
    global _last_warning
    try:
        return operation(caches[support_settings.THROTTLE_CACHE])
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

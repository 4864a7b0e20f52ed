"""Rate limits per bot key and per manager, answered with 429 and ``Retry-After``.

Rates come from ``SUPPORT_THROTTLE_RATES`` (``{"bot": "6000/min", "manager":
"600/min"}`` by default; ``None`` for a side turns its limit off), read on
each request so ``override_settings`` works. Counters live in the cache
named by ``SUPPORT_THROTTLE_CACHE``: with several workers, point it at a
shared cache (Redis) or each worker counts on its own.
"""

from __future__ import annotations

from typing import Any

from django.core.cache import caches
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from support.api.authentication import BotPrincipal
from support.conf import support_settings


class SupportRateThrottle(SimpleRateThrottle):
    def __init__(self) -> None:
        # DRF's __init__ reads REST_FRAMEWORK's rates; ours are read per request.
        self.rate: str | None = None
        self.history: list[float] = []

    def allow_request(self, request: Request, view: Any) -> bool:
        side = "bot" if isinstance(request.user, BotPrincipal) else "manager"
        self.scope = side
        self.rate = support_settings.THROTTLE_RATES.get(side)
        if self.rate is None:
            return True
        self.cache = caches[support_settings.THROTTLE_CACHE]
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return bool(super().allow_request(request, view))

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        user = request.user
        if isinstance(user, BotPrincipal):
            ident = f"bot-{user.key.pk}"
        elif user is not None and user.is_authenticated:
            ident = f"manager-{user.pk}"
        else:
            return None  # anonymous requests are refused before they cost anything
        return f"support-throttle-{ident}"

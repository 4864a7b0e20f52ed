"""DRF's side of :mod:`support.ratelimit`: 429 with ``Retry-After`` once a budget is spent."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from support import ratelimit
from support.api.permissions import actor_for


class SupportRateThrottle(BaseThrottle):
    """Spends the caller's budget; the refusal itself is raised as :class:`RateLimited`."""

    def allow_request(self, request: Request, view: Any) -> bool:
        ratelimit.spend(actor_for(request))  # raises RateLimited, rendered as 429
        return True

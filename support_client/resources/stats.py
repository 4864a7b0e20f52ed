"""``client.stats``: tickets opened and resolved, reply times, ratings, per manager."""

from __future__ import annotations

from typing import Literal

from support_client._base_client import Call, RequesterT
from support_client._resource import Resource, endpoint
from support_client.types.stats import Stats


class StatsResource(Resource[RequesterT]):
    @endpoint(Stats)
    def get(self, *, days: Literal[7, 30] = 7) -> Call:
        """The last *days* days (7 or 30, today included, in the server's time zone);
        managers only."""
        return Call("GET", "stats/", params={"days": days})

"""``GET stats/?days=7|30``: the desk's numbers for the console's stats page (managers)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from support import stats
from support.api.views import ERRORS, SupportView
from support.inputs import StatsQuery


def _median() -> serializers.FloatField:
    return serializers.FloatField(
        allow_null=True, help_text="Seconds; null when there is nothing to measure."
    )


#: The answer's schema (:func:`support.stats.compute` builds the dict).
STATS_BODY = inline_serializer(
    name="Stats",
    fields={
        "days": serializers.IntegerField(),
        "since": serializers.DateField(help_text="The first day, in the server's time zone."),
        "until": serializers.DateField(help_text="The last day: today."),
        "per_day": inline_serializer(
            name="StatsDay",
            fields={
                "date": serializers.DateField(),
                "opened": serializers.IntegerField(),
                "resolved": serializers.IntegerField(),
            },
            many=True,
        ),
        "first_reply_median_seconds": _median(),
        "resolution_median_seconds": _median(),
        "ratings": inline_serializer(
            name="StatsRatings",
            fields={
                "count": serializers.IntegerField(),
                "average": serializers.FloatField(allow_null=True),
                "by_score": serializers.DictField(
                    child=serializers.IntegerField(), help_text='"1" to "5": how many of each.'
                ),
            },
        ),
        "managers": inline_serializer(
            name="StatsManager",
            fields={
                "id": serializers.IntegerField(),
                "username": serializers.CharField(),
                "name": serializers.CharField(help_text="Full name, else the username."),
                "replies": serializers.IntegerField(),
                "resolved": serializers.IntegerField(),
                "first_reply_median_seconds": _median(),
                "rating_average": serializers.FloatField(allow_null=True),
                "ratings": serializers.IntegerField(),
            },
            many=True,
        ),
    },
)


@extend_schema(methods=["GET"], parameters=[StatsQuery], responses={200: STATS_BODY, **ERRORS})
class StatsView(SupportView):
    """``GET stats/``: opened and resolved per day, first reply and resolution medians,
    ratings, per manager; ``days`` 7 (default) or 30, else ``400 invalid``."""

    def get(self, request: Request) -> Response:
        stats.require_manager(self.actor)  # a bot's query is not even read
        # An empty value is a parameter not given, as everywhere in the API.
        given = {key: value for key, value in request.query_params.items() if value != ""}
        query = StatsQuery(data=given)
        query.is_valid(raise_exception=True)
        body: dict[str, Any] = stats.stats(self.actor, query.validated_data["days"])
        return Response(body)

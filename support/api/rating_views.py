"""``POST/PATCH tickets/{id}/rating/``: the user's rating of a resolved ticket, sent by a bot.

Managers are ``403 permission_denied`` (they read ratings in tickets'
``rating``), anonymous ``401``. ``POST`` answers 201 with the rating it
stored, or 200 with the one stored first (a second press changes nothing);
``PATCH`` adds the comment to a rating without one (200 either way; no
rating yet: ``404 not_found``).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from support import ratings
from support.api.views import ERRORS, SupportView
from support.inputs import RatingCommentInput, RatingInput
from support.serializers import RatingSerializer, rating_data


@extend_schema(
    methods=["POST"],
    request=RatingInput,
    responses={201: RatingSerializer, 200: RatingSerializer, **ERRORS},
)
@extend_schema(
    methods=["PATCH"], request=RatingCommentInput, responses={200: RatingSerializer, **ERRORS}
)
class RatingView(SupportView):
    """``POST tickets/{id}/rating/`` (the score, once) and ``PATCH`` (the comment, once)."""

    serializer_class = RatingSerializer
    http_method_names = ("post", "patch", "options")

    def post(self, request: Request, pk: int) -> Response:
        ratings.require_bot(self.actor)  # a manager's body is not even read
        body: dict[str, Any] = self.parse(RatingInput)
        rated = ratings.rate(self.actor, pk, **body)
        code = status.HTTP_201_CREATED if rated.created else status.HTTP_200_OK
        return Response(rating_data(rated.rating), status=code)

    def patch(self, request: Request, pk: int) -> Response:
        ratings.require_bot(self.actor)
        body: dict[str, Any] = self.parse(RatingCommentInput)
        return Response(rating_data(ratings.add_comment(self.actor, pk, **body)))

"""``saved-replies/``: managers' saved replies (a bot is 403, anonymous 401)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from support import services
from support.api.pagination import PlainListPagination
from support.api.views import ERRORS, SupportView
from support.inputs import SavedReplyInput, SavedReplyUpdateInput
from support.models import SavedReply
from support.serializers import SavedReplySerializer, saved_reply_data


@extend_schema(methods=["GET"], responses={200: SavedReplySerializer(many=True), **ERRORS})
@extend_schema(
    methods=["POST"], request=SavedReplyInput, responses={201: SavedReplySerializer, **ERRORS}
)
class SavedReplyListView(SupportView):
    """``GET saved-replies/`` (by shortcut; ``?limit=&offset=`` paginates, as ``tickets/``)
    and ``POST`` (a new one; a taken shortcut is 409 ``shortcut_taken``)."""

    serializer_class = SavedReplySerializer
    pagination_class = PlainListPagination

    def get_queryset(self) -> QuerySet[SavedReply]:
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular's schema pass
            return SavedReply.objects.none()
        return services.saved_replies(self.actor)

    def get(self, request: Request) -> Response:
        return self.list_response()

    def post(self, request: Request) -> Response:
        body = self.parse(SavedReplyInput)
        reply = services.create_saved_reply(self.actor, **body)
        return Response(saved_reply_data(reply), status=status.HTTP_201_CREATED)


@extend_schema(methods=["GET"], responses={200: SavedReplySerializer, **ERRORS})
@extend_schema(
    methods=["PATCH"],
    request=SavedReplyUpdateInput,
    responses={200: SavedReplySerializer, **ERRORS},
)
@extend_schema(methods=["DELETE"], responses={204: None, **ERRORS})
class SavedReplyDetailView(SupportView):
    """``GET``, ``PATCH`` (the fields given) and ``DELETE saved-replies/{id}/``."""

    serializer_class = SavedReplySerializer
    http_method_names = ("get", "patch", "delete", "options", "head")

    def get(self, request: Request, pk: int) -> Response:
        return Response(saved_reply_data(services.saved_reply(self.actor, pk)))

    def patch(self, request: Request, pk: int) -> Response:
        body: dict[str, Any] = self.parse(SavedReplyUpdateInput)
        return Response(saved_reply_data(services.update_saved_reply(self.actor, pk, **body)))

    def delete(self, request: Request, pk: int) -> Response:
        services.delete_saved_reply(self.actor, pk)
        return Response(status=status.HTTP_204_NO_CONTENT)

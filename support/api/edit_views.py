"""``PATCH/DELETE tickets/{id}/messages/{message_id}/`` and ``GET …/edits/``.

Thin adapters of :mod:`support.edits`, which decides who may change what: a
bot edits the user's messages, a manager their own replies within
``SUPPORT_EDIT_WINDOW`` (and deletes them); the history of a message's texts
is for managers. A bot's ``DELETE`` or ``GET …/edits/`` is ``403`` before
the ticket or the message is looked up.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from support import edits
from support.api.views import ERRORS, SupportView
from support.inputs import MessageEditInput
from support.models import MessageEdit
from support.serializers import MessageSerializer


@extend_schema(
    methods=["PATCH"], request=MessageEditInput, responses={200: MessageSerializer, **ERRORS}
)
@extend_schema(methods=["DELETE"], responses={204: None, **ERRORS})
class MessageDetailView(SupportView):
    """``PATCH`` a message's text (bot: a user message; manager: their reply in the window),
    ``DELETE`` it (manager: their reply in the window)."""

    serializer_class = MessageSerializer
    http_method_names = ("patch", "delete", "options")

    def patch(self, request: Request, pk: int, message_id: int) -> Response:
        body: dict[str, Any] = self.parse(MessageEditInput)
        message = edits.edit_message(self.actor, pk, message_id, **body)
        return Response(MessageSerializer(message).data)

    def delete(self, request: Request, pk: int, message_id: int) -> Response:
        edits.delete_message(self.actor, pk, message_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(methods=["GET"], responses={200: edits.MessageEditSerializer(many=True), **ERRORS})
class MessageEditListView(SupportView):
    """``GET tickets/{id}/messages/{message_id}/edits/``: the texts before each edit, oldest
    first (managers)."""

    serializer_class = edits.MessageEditSerializer

    def get(self, request: Request, pk: int, message_id: int) -> Response:
        history: list[MessageEdit] = list(edits.edits_of(self.actor, pk, message_id))
        return Response([edits.edit_data(edit) for edit in history])

"""``GET/POST tickets/{id}/notes/``: a ticket's private notes, managers only.

A bot is ``403 permission_denied`` whatever it asks (before its body or the
ticket is looked at), anonymous ``401``, any other user ``403``. The list is
oldest first (``?ordering=`` for another order) and pages like messages
(``?limit=&offset=``, the total and links in headers).
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from support import notes
from support.api.filters import ordering_by
from support.api.pagination import PlainListPagination
from support.api.views import ERRORS, SupportView
from support.inputs import NoteInput
from support.models import Note


class NoteFilter(django_filters.FilterSet):  # type: ignore[misc]
    """``ordering`` of ``tickets/{id}/notes/`` (oldest first without it)."""

    ordering = ordering_by("created_at", "id")

    class Meta:
        model = Note
        fields = ("ordering",)


@extend_schema(
    methods=["GET"], filters=True, responses={200: notes.NoteSerializer(many=True), **ERRORS}
)
@extend_schema(methods=["POST"], request=NoteInput, responses={201: notes.NoteSerializer, **ERRORS})
class NoteListView(SupportView):
    """``GET tickets/{id}/notes/`` (managers: the ticket's notes) and ``POST`` (a new note)."""

    serializer_class = notes.NoteSerializer
    filter_backends = (DjangoFilterBackend,)
    filterset_class = NoteFilter
    pagination_class = PlainListPagination

    def get_queryset(self) -> QuerySet[Note]:
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular's schema pass
            return Note.objects.none()
        return notes.notes_of(self.actor, self.kwargs["pk"])

    def get(self, request: Request, pk: int) -> Response:
        return self.list_response()

    def post(self, request: Request, pk: int) -> Response:
        notes.require_manager(self.actor)  # a bot's body is not even read
        body: dict[str, Any] = self.parse(NoteInput)
        note = notes.add_note(self.actor, pk, **body)
        return Response(notes.note_data(note), status=status.HTTP_201_CREATED)

"""REST endpoints: thin adapters from HTTP to :mod:`support.services`.

Each view parses and type-checks its body, builds the actor from the
credential, calls one service function and renders the result. The views
carry their own DRF configuration, so a host project's ``REST_FRAMEWORK``
defaults (other authentication, pagination, renderers) cannot change the API.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db.models import BooleanField, ExpressionWrapper, F, OuterRef, Q, QuerySet, Subquery
from django.http import HttpRequest, JsonResponse, QueryDict
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from drf_spectacular.views import SpectacularAPIView
from rest_framework import generics, serializers, status
from rest_framework.fields import IntegerField, ListField
from rest_framework.pagination import BasePagination
from rest_framework.parsers import BaseParser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer

from support import services
from support.actors import Actor
from support.api.authentication import SupportAuthentication
from support.api.exception_handler import exception_handler
from support.api.filters import MessageFilter, TicketFilter
from support.api.pagination import PlainListPagination
from support.api.parsers import AttachmentMultiPartParser, AttachmentUploadHandler, SafeJSONParser
from support.api.permissions import IsManagerOrBot, actor_for
from support.api.schema import SupportAutoSchema
from support.api.throttling import SupportRateThrottle
from support.db import pooled_view
from support.error_bodies import error_response
from support.exceptions import Invalid, NotFound
from support.inputs import (
    EmptyInput,
    MarkViewedInput,
    MessageCreateInput,
    StrictSerializer,
    TelegramLinkConfirmInput,
    TelegramTopicInput,
    TicketCreateInput,
    TicketUpdateInput,
    form_for,
)
from support.models import Message, Ticket
from support.serializers import (
    LinkCodeSerializer,
    LinkedManagerSerializer,
    MessageSerializer,
    TelegramLinkSerializer,
    TelegramTopicSerializer,
    TicketSerializer,
    link_code_data,
    linked_manager_data,
    telegram_link_data,
    tickets_for_representation,
    with_attachments,
)
from support.version import __version__

#: The error body, documented once for the schema (``errors`` only on validation).
ERROR_BODY = inline_serializer(
    name="Error",
    fields={
        "code": serializers.CharField(),
        "detail": serializers.CharField(),
        "errors": serializers.DictField(
            child=serializers.ListField(child=serializers.CharField()), required=False
        ),
    },
)

ERRORS = {
    code: OpenApiResponse(ERROR_BODY) for code in (400, 401, 403, 404, 405, 409, 413, 415, 429)
}


class SupportView(generics.GenericAPIView[Any]):
    authentication_classes = (SupportAuthentication,)
    renderer_classes = (JSONRenderer,)
    parser_classes: tuple[type[BaseParser], ...] = (SafeJSONParser,)
    permission_classes = (IsManagerOrBot,)
    throttle_classes = (SupportRateThrottle,)
    filter_backends: tuple[type[Any], ...] = ()  # the list views that filter name theirs
    pagination_class: type[BasePagination] | None = None
    schema = SupportAutoSchema()

    @classmethod
    def as_view(cls, **initkwargs: Any) -> Any:  # an async view; DRF types it as sync
        """The view, run in :mod:`support.db`'s threads (a kept connection, no per-request one)."""
        return pooled_view(super().as_view(**initkwargs))

    def get_exception_handler(self) -> Callable[..., Response | None]:
        return exception_handler

    @property
    def actor(self) -> Actor:
        return actor_for(self.request)

    def parse(self, serializer_class: type[StrictSerializer]) -> dict[str, Any]:
        """The body, validated by *serializer_class* (JSON ``null`` is not an object either);
        a form by :meth:`form_class` (DRF gives an empty one for a body-less form request,
        whatever the view parses)."""
        data = self.request.data
        if isinstance(data, QueryDict):
            serializer_class = self.form_class(serializer_class)
            data = form_fields(data, serializer_class)
        serializer = serializer_class(data=data)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def form_class(self, serializer_class: type[StrictSerializer]) -> type[StrictSerializer]:
        """What validates a form's fields: the body's own definition (only an empty form
        gets here: this view parses JSON)."""
        return serializer_class

    def list_response(self) -> Response:
        """The filtered queryset as a plain list, one page of it when ``?limit=`` asks."""
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        data = self.get_serializer(queryset if page is None else page, many=True).data
        return Response(data) if page is None else self.get_paginated_response(data)

    def reader_side(self) -> str:
        return str(self.actor.side)

    def ticket_response(self, ticket: Ticket, status_code: int = status.HTTP_200_OK) -> Response:
        fresh = tickets_for_representation(Ticket.objects.filter(pk=ticket.pk), self.reader_side())
        data = TicketSerializer(fresh.get(), context={"side": self.reader_side()}).data
        return Response(data, status=status_code)


class AcceptsAttachments(SupportView):
    """A view whose ``POST`` also takes ``multipart/form-data``: the JSON fields, plus
    ``files`` parts (the attachments) and optional ``kinds`` (one per file), as
    :func:`~support.inputs.form_for` defines them."""

    parser_classes: tuple[type[BaseParser], ...] = (SafeJSONParser, AttachmentMultiPartParser)

    def form_class(self, serializer_class: type[StrictSerializer]) -> type[StrictSerializer]:
        return form_for(serializer_class)  # multipart with attachments

    def initialize_request(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Request:
        # Before anything reads the body (a session's CSRF check reads a form).
        request.upload_handlers = [AttachmentUploadHandler(request)]
        return super().initialize_request(request, *args, **kwargs)


def form_fields(data: QueryDict, serializer_class: type[Serializer[Any]]) -> dict[str, Any]:
    """A form's parts as the JSON body would give them, for the same input definition.

    A form has only strings: an integer field's digits become the integer (anything
    else stays a string, which the strict field refuses; past 20 digits it is out of
    range anyway); an object field (``profile``) is its part's JSON; a list field
    (``files``, ``kinds``) takes every part of its name, in order; any other field
    given twice is refused.
    """
    fields = serializer_class().fields
    body: dict[str, Any] = {}
    for key, values in data.lists():  # DRF puts the file parts in too
        if isinstance(fields.get(key), ListField):
            body[key] = values
            continue
        if len(values) != 1:
            raise Invalid.field(key, _("Give this field once."))
        value: Any = values[0]
        if isinstance(fields.get(key), IntegerField) and _DIGITS.fullmatch(value):
            value = int(value)
        elif isinstance(fields.get(key), Serializer) and isinstance(value, str):
            value = _json_part(key, value)  # an object field (`profile`): its part is JSON
        body[key] = value
    return body


_DIGITS = re.compile(r"-?[0-9]{1,20}")


def _json_part(key: str, value: str) -> Any:
    try:
        return json.loads(value)
    except (ValueError, RecursionError):
        raise Invalid.field(key, _("This part holds a JSON object.")) from None


@extend_schema(
    methods=["GET"],
    filters=True,
    responses={200: TicketSerializer(many=True), **ERRORS},
)
@extend_schema(
    methods=["POST"],
    request={
        "application/json": TicketCreateInput,
        "multipart/form-data": form_for(TicketCreateInput),
    },
    responses={201: TicketSerializer, 200: TicketSerializer, **ERRORS},
)
class TicketListView(AcceptsAttachments):
    """``GET tickets/`` (filters: :class:`TicketFilter`) and ``POST tickets/`` (bots).

    A ``POST`` that repeats its ``idempotency_key`` is answered 200, with the ticket it opened.
    """

    serializer_class = TicketSerializer
    filter_backends = (DjangoFilterBackend,)
    filterset_class = TicketFilter
    pagination_class = PlainListPagination

    def get_queryset(self) -> QuerySet[Ticket]:
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular's schema pass
            return Ticket.objects.none()
        tickets = tickets_for_representation(Ticket.objects.all(), self.reader_side())
        if self.request.query_params.get("ordering"):
            return tickets  # TicketFilter orders them
        return in_v1_order(tickets)

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "side": self.reader_side()}

    def get(self, request: Request) -> Response:
        return self.list_response()

    def post(self, request: Request) -> Response:
        body = self.parse(TicketCreateInput)
        opened = services.open_ticket_once(self.actor, **body)
        code = status.HTTP_201_CREATED if opened.created else status.HTTP_200_OK
        return self.ticket_response(opened.ticket, code)


def in_v1_order(tickets: QuerySet[Ticket]) -> QuerySet[Ticket]:
    """1.2.0's order of ``tickets/``, which its manager page shows as it gets it.

    Tickets with something unread first (1.2.0's ``viewed`` false), then the
    unresolved, then by the last message's time, newest first (tickets
    without messages after those with), then by the ticket's own. *tickets*
    come from :func:`~support.serializers.tickets_for_representation`
    (``unread_count``).
    """
    newest = Message.objects.filter(ticket=OuterRef("pk")).order_by("-created_at", "-id")
    return tickets.annotate(last_activity=Subquery(newest.values("created_at")[:1])).order_by(
        ExpressionWrapper(Q(unread_count=0), output_field=BooleanField()).asc(),
        "resolved",
        F("last_activity").desc(nulls_last=True),
        "-created_at",
        "-id",
    )


@extend_schema(methods=["GET"], responses={200: TicketSerializer, **ERRORS})
@extend_schema(
    methods=["PATCH"],
    request=TicketUpdateInput,
    responses={200: TicketSerializer, **ERRORS},
)
class TicketDetailView(SupportView):
    """``GET tickets/{id}/`` and ``PATCH tickets/{id}/`` (``title``, ``resolved``, ``viewed``)."""

    serializer_class = TicketSerializer
    http_method_names = ("get", "patch", "options", "head")

    def get(self, request: Request, pk: int) -> Response:
        ticket = get_object_or_404(Ticket, pk=pk)
        return self.ticket_response(ticket)

    def patch(self, request: Request, pk: int) -> Response:
        body = self.parse(TicketUpdateInput)
        return self.ticket_response(services.update_ticket(self.actor, pk, **body))


@extend_schema(methods=["POST"], request=EmptyInput, responses={200: TicketSerializer, **ERRORS})
class TicketActionView(SupportView):
    """``POST tickets/{id}/<action>/``: assign, unassign, resolve, reopen."""

    serializer_class = TicketSerializer
    #: The action's service function: each URL passes its own, ``as_view(service=...)``.
    #: There is no default: :meth:`as_view` refuses a URL that leaves it out.
    service: Callable[[Actor, Any], Ticket] | None = None

    @classmethod
    def as_view(cls, **initkwargs: Any) -> Any:
        if not callable(initkwargs.get("service")):
            raise ImproperlyConfigured(
                f"{cls.__name__}.as_view() needs service=, the support.services function "
                "of its action (assign, unassign, resolve or reopen)."
            )
        return super().as_view(**initkwargs)

    def post(self, request: Request, pk: int) -> Response:
        self.parse(EmptyInput)
        service = self.service
        assert service is not None  # as_view() requires it
        return self.ticket_response(service(self.actor, pk))


@extend_schema(
    methods=["GET"],
    filters=True,
    responses={200: MessageSerializer(many=True), **ERRORS},
)
@extend_schema(
    methods=["POST"],
    request={
        "application/json": MessageCreateInput,
        "multipart/form-data": form_for(MessageCreateInput),
    },
    responses={201: MessageSerializer, 200: MessageSerializer, **ERRORS},
)
class MessageListView(AcceptsAttachments):
    """``GET tickets/{id}/messages/`` and ``POST`` (a new message).

    Newest first, as 1.2.0 listed them (its manager page reverses the list);
    ``?ordering=created_at`` for oldest first (:class:`MessageFilter`).
    """

    serializer_class = MessageSerializer
    filter_backends = (DjangoFilterBackend,)
    filterset_class = MessageFilter
    pagination_class = PlainListPagination

    def get_queryset(self) -> QuerySet[Message]:
        if getattr(self, "swagger_fake_view", False):
            return Message.objects.none()
        ticket = get_object_or_404(Ticket, pk=self.kwargs["pk"])
        return with_attachments(ticket.messages.order_by("-created_at", "-id"))

    def get(self, request: Request, pk: int) -> Response:
        return self.list_response()

    def post(self, request: Request, pk: int) -> Response:
        body = self.parse(MessageCreateInput)
        posted = services.post_message(self.actor, pk, **body)
        code = status.HTTP_201_CREATED if posted.created else status.HTTP_200_OK
        # A new message as its event showed it; a repeat's as it is now.
        data = MessageSerializer(posted.message).data if posted.data is None else posted.data
        return Response(data, status=code)


@extend_schema(
    methods=["POST"],
    request=MarkViewedInput,
    responses={200: MessageSerializer(many=True), **ERRORS},
)
class MarkViewedView(SupportView):
    """``POST tickets/{id}/messages/viewed/``: the other side's messages, up to ``up_to``."""

    serializer_class = MessageSerializer

    def post(self, request: Request, pk: int) -> Response:
        body = self.parse(MarkViewedInput)
        ids = services.mark_viewed(self.actor, pk, **body)
        messages = with_attachments(Message.objects.filter(id__in=ids).order_by("created_at", "id"))
        return Response(MessageSerializer(messages, many=True).data)


@extend_schema(methods=["POST"], request=EmptyInput, responses={201: LinkCodeSerializer, **ERRORS})
@extend_schema(methods=["GET"], responses={200: TelegramLinkSerializer, **ERRORS})
@extend_schema(methods=["DELETE"], responses={204: None, **ERRORS})
class TelegramLinkView(SupportView):
    """``telegram/link/``, a manager's own Telegram link (session or token; no bot):
    ``POST`` a one-time code to send to the staff bot, ``GET`` the link, ``DELETE`` it."""

    serializer_class = TelegramLinkSerializer
    http_method_names = ("get", "post", "delete", "options", "head")

    def get(self, request: Request) -> Response:
        return Response(telegram_link_data(services.telegram_link(self.actor)))

    def post(self, request: Request) -> Response:
        self.parse(EmptyInput)
        code = services.create_telegram_link_code(self.actor)
        return Response(link_code_data(code), status=status.HTTP_201_CREATED)

    def delete(self, request: Request) -> Response:
        services.unlink_telegram(self.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(
    methods=["POST"],
    request=TelegramLinkConfirmInput,
    responses={200: LinkedManagerSerializer, **ERRORS},
)
class TelegramLinkConfirmView(SupportView):
    """``POST telegram/link/confirm/``: a staff bot key confirms a manager's ``/link CODE``."""

    serializer_class = LinkedManagerSerializer

    def post(self, request: Request) -> Response:
        body = self.parse(TelegramLinkConfirmInput)
        account = services.confirm_telegram_link(self.actor, **body)
        return Response(linked_manager_data(account))


@extend_schema(
    methods=["PUT"],
    request=TelegramTopicInput,
    responses={200: TelegramTopicSerializer, **ERRORS},
)
class TicketTelegramTopicView(SupportView):
    """``PUT tickets/{id}/telegram-topic/``: a staff bot stores the ticket's topic, once.

    Always answers the stored topic: a caller whose topic is not it lost the race.
    """

    serializer_class = TelegramTopicSerializer
    #: For DRF's ``OPTIONS`` answer, which looks the object of a ``PUT`` up.
    queryset = Ticket.objects.all()
    http_method_names = ("put", "options")

    def put(self, request: Request, pk: int) -> Response:
        body = self.parse(TelegramTopicInput)
        stored = services.set_telegram_topic(self.actor, pk, **body)
        return Response({"chat_id": stored.chat_id, "topic_id": stored.topic_id})


class SchemaView(SpectacularAPIView):
    """``GET schema/``: OpenAPI 3 of this API, for anyone (YAML; ``?format=json`` for JSON).

    ``schema = None`` keeps this view out of its own document, which would
    otherwise need the host project's ``DEFAULT_SCHEMA_CLASS`` to be
    drf-spectacular's.
    """

    schema = None
    authentication_classes = ()
    permission_classes = ()
    urlconf = "support.api.urls"

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        # Paths in the document are relative to where the host mounted the app.
        mount = request.path.removesuffix("schema/")
        self.custom_settings = {
            "TITLE": "ChatLabs Django Support",
            "VERSION": __version__,
            "SERVERS": [{"url": request.build_absolute_uri(mount)}],
            "SCHEMA_PATH_PREFIX": "",
            # An attachment's `kind` and a form's `kinds` are one set of choices.
            "ENUM_NAME_OVERRIDES": {"KindEnum": "support.models.AttachmentKind"},
        }
        response: Response = super().get(request, *args, **kwargs)  # type: ignore[no-untyped-call]
        return response


@csrf_exempt  # it changes nothing; a CSRF 403 in HTML would only hide the 404
def not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """Paths under the API that match nothing: the API's 404, not Django's HTML one."""
    return error_response(NotFound(_("No such endpoint.")))

"""Ticket and message representations, shared by the API, events and consumer.

Field names and order are those of 1.x, kept for 1.x clients; ``unread``,
``last_message`` and ``author`` are added after them.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Prefetch, Q, QuerySet
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from support.models import Message, Sender, Ticket

#: ``to_attr`` of the prefetch that holds each ticket's newest message.
LAST_MESSAGES_ATTR = "_last_messages"


class TelegramUserSerializer(serializers.Serializer[Any]):
    telegram_id = serializers.IntegerField(source="pk", read_only=True)


class ManagerSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(source="pk", read_only=True)
    first_name = serializers.SerializerMethodField()
    last_name = serializers.SerializerMethodField()

    # A custom user model may lack the names; 1.x clients always get both.
    def get_first_name(self, obj: Any) -> str:
        return str(getattr(obj, "first_name", "") or "")

    def get_last_name(self, obj: Any) -> str:
        return str(getattr(obj, "last_name", "") or "")


class MessageSerializer(serializers.ModelSerializer[Message]):
    ticket: serializers.PrimaryKeyRelatedField[Ticket] = serializers.PrimaryKeyRelatedField(
        read_only=True
    )
    author: serializers.PrimaryKeyRelatedField[Any] = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True
    )

    class Meta:
        model = Message
        fields = ("id", "created_at", "sender", "text", "viewed", "ticket", "author")
        read_only_fields = fields


class TicketSerializer(serializers.ModelSerializer[Ticket]):
    """A ticket; ``unread`` counts the other side's unviewed messages.

    The reader's side comes from ``context["side"]`` (``"supp"`` for managers,
    ``"user"`` for bots); without it, the managers' view is given, which is
    what events carry.
    """

    user = TelegramUserSerializer(read_only=True)
    support_manager = ManagerSerializer(read_only=True, allow_null=True)
    unread = serializers.SerializerMethodField()
    last_message = serializers.SerializerMethodField()

    class Meta:
        model = Ticket
        fields = (
            "id",
            "user",
            "support_manager",
            "created_at",
            "title",
            "resolved",
            "unread",
            "last_message",
        )
        read_only_fields = fields

    def get_unread(self, obj: Ticket) -> int:
        annotated = getattr(obj, "unread_count", None)
        if annotated is not None:
            return int(annotated)
        unseen_sender = unread_sender(self.context.get("side", Sender.SUPPORT))
        return obj.messages.filter(sender=unseen_sender, viewed=False).count()

    @extend_schema_field(MessageSerializer(allow_null=True))
    def get_last_message(self, obj: Ticket) -> dict[str, Any] | None:
        prefetched = getattr(obj, LAST_MESSAGES_ATTR, None)
        if prefetched is not None:
            message = prefetched[0] if prefetched else None
        else:
            message = obj.messages.order_by("-created_at", "-id").first()
        return None if message is None else MessageSerializer(message).data


def unread_sender(reader_side: str) -> str:
    """Messages a reader on *reader_side* has to view come from the other side."""
    return Sender.USER if reader_side == Sender.SUPPORT else Sender.SUPPORT


def tickets_for_representation(queryset: QuerySet[Ticket], reader_side: str) -> QuerySet[Ticket]:
    """Add what :class:`TicketSerializer` needs, in two queries for any number of tickets."""
    newest_first = Message.objects.order_by("-created_at", "-id")
    return (
        queryset.select_related("user", "support_manager")
        .annotate(
            unread_count=Count(
                "messages",
                filter=Q(messages__sender=unread_sender(reader_side), messages__viewed=False),
            )
        )
        .prefetch_related(
            # Django turns a sliced prefetch into one windowed query.
            Prefetch("messages", queryset=newest_first[:1], to_attr=LAST_MESSAGES_ATTR)
        )
    )


def ticket_data(ticket: Ticket, reader_side: str = Sender.SUPPORT) -> dict[str, Any]:
    return dict(TicketSerializer(ticket, context={"side": reader_side}).data)


def message_data(message: Message) -> dict[str, Any]:
    return dict(MessageSerializer(message).data)

"""Ticket and message representations, shared by the API, events and consumer.

Field names and order are those of 1.x, kept for 1.x clients; ``unread``,
``last_message``, ``telegram_topic``, ``author``, ``attachments`` and
``via_staff_chat`` are added after them. A ticket's ``viewed``
is 1.2.0's flag, derived: nothing unread for the reader's side.

The serializer classes declare the fields (the OpenAPI schema is built from
them); the dicts themselves are built by :func:`ticket_data` and
:func:`message_data`, plain functions, because DRF's field machinery costs
about half a millisecond per ticket, which a list of thousands or an event
per message should not pay.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count, OuterRef, Prefetch, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from support.models import (
    Attachment,
    Message,
    Rating,
    Side,
    TelegramAccount,
    TelegramProfile,
    Ticket,
)

#: ``to_attr`` of the prefetch that holds each ticket's newest message.
LAST_MESSAGES_ATTR = "_last_messages"
#: Where a ticket carries its user's profile once read (annotations, or the service
#: layer's row just written): the names of the profile's fields, with this prefix.
PROFILE_PREFIX = "_profile_"
#: The profile's fields, in the order a ticket's ``user`` shows them.
PROFILE_FIELDS = ("first_name", "last_name", "username", "language_code")
#: ``to_attr`` of the prefetch that holds a message's attachments (see :func:`with_attachments`);
#: the service layer sets it too on a message it has just written.
ATTACHMENTS_ATTR = "_attachment_list"


def with_attachments(messages: QuerySet[Message]) -> QuerySet[Message]:
    """*messages* with their attachments, in one more query for any number of them."""
    return messages.prefetch_related(Prefetch("attachments", to_attr=ATTACHMENTS_ATTR))


class TelegramUserSerializer(serializers.Serializer[Any]):
    """A ticket's user: the 1.x ``telegram_id``, then the profile the bot sent
    (``""`` where unknown; ``first_contact_at`` null before the desk kept profiles)."""

    telegram_id = serializers.IntegerField(source="pk", read_only=True)
    first_name = serializers.CharField(read_only=True)
    last_name = serializers.CharField(read_only=True)
    username = serializers.CharField(read_only=True, help_text="Without the @.")
    language_code = serializers.CharField(read_only=True)
    first_contact_at = serializers.DateTimeField(
        read_only=True,
        allow_null=True,
        help_text="When the desk first heard of the user (their first ticket).",
    )
    blocked = serializers.BooleanField(
        read_only=True,
        help_text="A manager blocked the user: their new tickets and messages are refused.",
    )


class ManagerSerializer(serializers.Serializer[Any]):
    """The schema of a ticket's manager; :func:`ticket_data` builds the dict."""

    id = serializers.IntegerField(source="pk", read_only=True)
    first_name = serializers.CharField(read_only=True)
    last_name = serializers.CharField(read_only=True)


class AttachmentSerializer(serializers.ModelSerializer[Attachment]):
    """The schema of an attachment; :func:`attachment_data` builds the dict."""

    url = serializers.CharField(read_only=True, help_text="The download path (same credentials).")
    thumbnail_url = serializers.CharField(
        read_only=True, allow_null=True, help_text="A small image of a photo or sticker, or null."
    )

    class Meta:
        model = Attachment
        fields = (
            "id", "kind", "filename", "content_type", "size", "width", "height", "url",
            "thumbnail_url",
        )  # fmt: skip
        read_only_fields = fields


class MessageSerializer(serializers.ModelSerializer[Message]):
    ticket: serializers.PrimaryKeyRelatedField[Ticket] = serializers.PrimaryKeyRelatedField(
        read_only=True
    )
    author: serializers.PrimaryKeyRelatedField[Any] = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True
    )
    attachments = AttachmentSerializer(many=True, read_only=True)
    edited_at = serializers.DateTimeField(
        read_only=True,
        allow_null=True,
        help_text="When its text last changed (GET …/edits/ has the texts before); null: never.",
    )

    class Meta:
        model = Message
        fields = (
            "id", "created_at", "sender", "text", "viewed", "ticket", "author", "attachments",
            "via_staff_chat", "edited_at",
        )  # fmt: skip
        read_only_fields = fields

    def to_representation(self, instance: Message) -> dict[str, Any]:
        return message_data(instance)


class TelegramTopicSerializer(serializers.Serializer[Any]):
    """A ticket's topic in the staff group (``PUT tickets/{id}/telegram-topic/`` answers it)."""

    chat_id = serializers.IntegerField(read_only=True)
    topic_id = serializers.IntegerField(read_only=True)


class RatingSerializer(serializers.Serializer[Any]):
    """The user's rating of the help on a resolved ticket (:func:`rating_data` builds it)."""

    score = serializers.IntegerField(read_only=True, min_value=1, max_value=5)
    comment = serializers.CharField(read_only=True, help_text='"" when the user left none.')
    created_at = serializers.DateTimeField(read_only=True)

    def to_representation(self, instance: Any) -> dict[str, Any]:
        return rating_data(instance)


class TicketSerializer(serializers.ModelSerializer[Ticket]):
    """A ticket; ``unread`` counts the other side's unviewed messages.

    The reader's side comes from ``context["side"]`` (``"supp"`` for managers,
    ``"user"`` for bots); without it, the managers' view is given, which is
    what events carry.
    """

    user = TelegramUserSerializer(read_only=True)
    support_manager = ManagerSerializer(read_only=True, allow_null=True)
    viewed = serializers.SerializerMethodField()
    unread = serializers.SerializerMethodField()
    last_message = serializers.SerializerMethodField()
    telegram_topic = TelegramTopicSerializer(
        read_only=True,
        allow_null=True,
        help_text="The ticket's forum topic in the staff group, or null.",
    )
    resolved_at = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="When it was last resolved; null while open."
    )
    previous: serializers.PrimaryKeyRelatedField[Ticket] = serializers.PrimaryKeyRelatedField(
        read_only=True,
        allow_null=True,
        help_text="The user's ticket resolved last before this one was opened, or null.",
    )
    rating = RatingSerializer(
        read_only=True, allow_null=True, help_text="The user's rating, once given; else null."
    )

    class Meta:
        model = Ticket
        fields = (
            "id",
            "user",
            "support_manager",
            "created_at",
            "title",
            "resolved",
            "viewed",
            "unread",
            "last_message",
            "telegram_topic",
            "resolved_at",
            "previous",
            "rating",
        )
        read_only_fields = fields

    def to_representation(self, instance: Ticket) -> dict[str, Any]:
        return ticket_data(instance, reader_side=self.context.get("side", Side.SUPPORT))

    def get_viewed(self, obj: Ticket) -> bool:
        """1.2.0's flag: nothing from the other side waits to be viewed by the reader."""
        return self.get_unread(obj) == 0

    def get_unread(self, obj: Ticket) -> int:
        return _unread(obj, self.context.get("side", Side.SUPPORT))

    @extend_schema_field(MessageSerializer(allow_null=True))
    def get_last_message(self, obj: Ticket) -> dict[str, Any] | None:
        message = _last_message(obj)
        return None if message is None else message_data(message)


def unread_sender(reader_side: str) -> str:
    """Messages a reader on *reader_side* has to view come from the other side."""
    return Side.USER if reader_side == Side.SUPPORT else Side.SUPPORT


def tickets_for_representation(queryset: QuerySet[Ticket], reader_side: str) -> QuerySet[Ticket]:
    """Add what :func:`ticket_data` needs, in two queries for any number of tickets.

    ``unread`` is a correlated subquery, not a join with ``GROUP BY``: it is
    computed for the rows returned only (on the ``support_msg_unread``
    index), so a page costs the same whatever the table's size, and the
    page's ``COUNT(*)`` leaves it out.
    """
    newest_first = with_attachments(Message.objects.order_by("-created_at", "-id"))
    unread = (
        Message.objects.filter(
            ticket=OuterRef("pk"), sender=unread_sender(reader_side), viewed=False
        )
        .order_by()
        .values("ticket")
        .annotate(n=Count("id"))
        .values("n")
    )
    return (
        queryset.select_related("support_manager", "rating")  # a join: no query per ticket
        .annotate(unread_count=Coalesce(Subquery(unread), 0), **_profile_annotations())
        .prefetch_related(
            # Django turns a sliced prefetch into one windowed query.
            Prefetch("messages", queryset=newest_first[:1], to_attr=LAST_MESSAGES_ATTR)
        )
    )


def _profile_annotations() -> dict[str, Subquery]:
    """The user's profile, a correlated subquery per field (on its primary key): in the
    page's own query, so a list costs no query more however many users it shows."""
    row = TelegramProfile.objects.filter(pk=OuterRef("user_id"))
    return {
        f"{PROFILE_PREFIX}{field}": Subquery(row.values(field)[:1])
        for field in (*PROFILE_FIELDS, "first_contact_at", "blocked_at")
    }


def remember_profile(ticket: Ticket, row: TelegramProfile | None) -> None:
    """*ticket*'s user profile, just read or written: its representation needs no query."""
    setattr(ticket, PROFILE_PREFIX + "row", row)


def _profile(ticket: Ticket) -> TelegramProfile | None:
    known = PROFILE_PREFIX + "row"
    if hasattr(ticket, known):
        row: TelegramProfile | None = getattr(ticket, known)
        return row
    first_contact_at: Any = getattr(ticket, PROFILE_PREFIX + "first_contact_at", _MISSING)
    if first_contact_at is _MISSING:  # not from tickets_for_representation
        return TelegramProfile.objects.filter(pk=ticket.user_id).first()
    if first_contact_at is None:
        return None
    values = {field: getattr(ticket, PROFILE_PREFIX + field) for field in PROFILE_FIELDS}
    blocked_at = getattr(ticket, PROFILE_PREFIX + "blocked_at", None)
    return TelegramProfile(
        telegram_id=ticket.user_id,
        first_contact_at=first_contact_at,
        blocked_at=blocked_at,
        **values,
    )


_MISSING = object()


def user_data(telegram_id: int, row: TelegramProfile | None) -> dict[str, Any]:
    """A ticket's ``user``: the 1.x ``telegram_id`` first, then the profile (``""``
    and ``null`` where unknown), then whether a manager blocked them (the block is
    kept on the profile's row, so a user without a row is not blocked)."""
    data: dict[str, Any] = {"telegram_id": telegram_id}
    for field in PROFILE_FIELDS:
        data[field] = "" if row is None else getattr(row, field)
    data["first_contact_at"] = (
        None if row is None else _DATETIME.to_representation(row.first_contact_at)
    )
    data["blocked"] = row is not None and row.blocked_at is not None
    return data


#: One DRF field, so dates follow ``REST_FRAMEWORK``'s format and time zone as before.
_DATETIME = serializers.DateTimeField(read_only=True)


def _unread(ticket: Ticket, reader_side: str) -> int:
    annotated = getattr(ticket, "unread_count", None)
    if annotated is not None:
        return int(annotated)
    unseen_sender = unread_sender(reader_side)
    return ticket.messages.filter(sender=unseen_sender, viewed=False).count()


def _last_message(ticket: Ticket) -> Message | None:
    prefetched = getattr(ticket, LAST_MESSAGES_ATTR, None)
    if prefetched is not None:
        return prefetched[0] if prefetched else None
    return ticket.messages.order_by("-created_at", "-id").first()


def _manager_data(user: Any) -> dict[str, Any]:
    # A custom user model may lack the names; 1.x clients always get both.
    return {
        "id": user.pk,
        "first_name": str(getattr(user, "first_name", "") or ""),
        "last_name": str(getattr(user, "last_name", "") or ""),
    }


def ticket_data(ticket: Ticket, reader_side: str = Side.SUPPORT) -> dict[str, Any]:
    """A ticket as the API and events show it to a reader on *reader_side*."""
    last = _last_message(ticket)
    unread = _unread(ticket, reader_side)
    return {
        "id": ticket.pk,
        "user": user_data(ticket.user_id, _profile(ticket)),
        "support_manager": (
            None if ticket.support_manager_id is None else _manager_data(ticket.support_manager)
        ),
        "created_at": _DATETIME.to_representation(ticket.created_at),
        "title": ticket.title,
        "resolved": ticket.resolved,
        "viewed": unread == 0,
        "unread": unread,
        "last_message": None if last is None else message_data(last),
        "telegram_topic": telegram_topic_data(ticket),
        "resolved_at": (
            None if ticket.resolved_at is None else _DATETIME.to_representation(ticket.resolved_at)
        ),
        "previous": ticket.previous_id,
        "rating": _rating_data_of(ticket),
    }


#: Where a ticket carries its rating once the service layer knows it (a new ticket has
#: none; a rating just stored): its representation then reads no row.
RATING_ATTR = "_rating_row"


def remember_rating(ticket: Ticket, rating: Rating | None) -> None:
    """*ticket*'s rating, just written or known to be missing: no query to show it."""
    setattr(ticket, RATING_ATTR, rating)


def _rating_data_of(ticket: Ticket) -> dict[str, Any] | None:
    known: Any = getattr(ticket, RATING_ATTR, _MISSING)
    if known is not _MISSING:
        return None if known is None else rating_data(known)
    try:
        rating = ticket.rating  # joined by tickets_for_representation; else one query
    except Rating.DoesNotExist:
        return None
    return rating_data(rating)


def rating_data(rating: Rating) -> dict[str, Any]:
    """A rating as tickets, ``tickets/{id}/rating/`` and ``ticket.rated`` show it."""
    return {
        "score": rating.score,
        "comment": rating.comment,
        "created_at": _DATETIME.to_representation(rating.created_at),
    }


def telegram_topic_data(ticket: Ticket) -> dict[str, int] | None:
    """The ticket's forum topic in the staff group, once a staff bot has stored one."""
    if ticket.telegram_topic_id is None or ticket.telegram_chat_id is None:
        return None
    return {"chat_id": ticket.telegram_chat_id, "topic_id": ticket.telegram_topic_id}


def message_data(message: Message) -> dict[str, Any]:
    """A message as the API and events show it (:func:`with_attachments` for a list)."""
    return {
        "id": message.pk,
        "created_at": _DATETIME.to_representation(message.created_at),
        "sender": message.sender,
        "text": message.text,
        "viewed": message.viewed,
        "ticket": message.ticket_id,
        "author": message.author_id,
        "attachments": [attachment_data(a) for a in _attachments(message)],
        "via_staff_chat": message.via_staff_chat,
        "edited_at": (
            None if message.edited_at is None else _DATETIME.to_representation(message.edited_at)
        ),
    }


def remember_attachments(message: Message, rows: list[Attachment]) -> None:
    """*message*'s attachments, just written: its representation lists them without a query."""
    setattr(message, ATTACHMENTS_ATTR, rows)


def _attachments(message: Message) -> list[Attachment]:
    known: list[Attachment] | None = getattr(message, ATTACHMENTS_ATTR, None)
    return list(message.attachments.all()) if known is None else known


def attachment_data(attachment: Attachment) -> dict[str, Any]:
    """An attachment as messages carry it: what it is, and where to download it."""
    return {
        "id": attachment.pk,
        "kind": attachment.kind,
        "filename": attachment.filename,
        "content_type": attachment.content_type,
        "size": attachment.size,
        "width": attachment.width,
        "height": attachment.height,
        "url": reverse("support:attachment", args=[attachment.pk]),
        "thumbnail_url": (
            reverse("support:attachment-thumbnail", args=[attachment.pk])
            if attachment.thumbnail_name
            else None
        ),
    }


# -- Telegram links ------------------------------------------------------------------


class LinkCodeSerializer(serializers.Serializer[Any]):
    """``POST telegram/link/``'s answer: the one-time code (shown once) and its expiry."""

    code = serializers.CharField(read_only=True, help_text="Eight characters, shown with a dash.")
    expires_at = serializers.DateTimeField(read_only=True)


class TelegramLinkSerializer(serializers.Serializer[Any]):
    """``GET telegram/link/``: the manager's linked Telegram id, or nulls."""

    telegram_id = serializers.IntegerField(read_only=True, allow_null=True)
    linked_at = serializers.DateTimeField(read_only=True, allow_null=True)


class LinkedManagerInfoSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(read_only=True)
    username = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True, help_text="Full name, else the username.")


class LinkedManagerSerializer(serializers.Serializer[Any]):
    """``POST telegram/link/confirm/``'s answer: who the Telegram id now acts as."""

    manager = LinkedManagerInfoSerializer(read_only=True)
    telegram_id = serializers.IntegerField(read_only=True)


def link_code_data(code: Any) -> dict[str, Any]:
    """A :class:`~support.telegram_links.LinkCode` as the API shows it."""
    return {"code": code.code, "expires_at": _DATETIME.to_representation(code.expires_at)}


def telegram_link_data(account: TelegramAccount | None) -> dict[str, Any]:
    if account is None:
        return {"telegram_id": None, "linked_at": None}
    return {
        "telegram_id": account.telegram_id,
        "linked_at": _DATETIME.to_representation(account.linked_at),
    }


def linked_manager_data(account: TelegramAccount) -> dict[str, Any]:
    user = account.user
    username = str(user.get_username())
    full_name = user.get_full_name() if hasattr(user, "get_full_name") else ""
    return {
        "manager": {"id": user.pk, "username": username, "name": str(full_name or "") or username},
        "telegram_id": account.telegram_id,
    }


# -- saved replies -------------------------------------------------------------------


class SavedReplySerializer(serializers.Serializer[Any]):
    """A saved reply (``saved-replies/``): a shortcut and its text, managers only."""

    id = serializers.IntegerField(read_only=True)
    shortcut = serializers.CharField(read_only=True)
    text = serializers.CharField(
        read_only=True, help_text="{first_name} and {manager} are the console's to fill in."
    )
    created_by = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="The manager who wrote it, or null."
    )
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    def to_representation(self, instance: Any) -> dict[str, Any]:
        return saved_reply_data(instance)


def saved_reply_data(reply: Any) -> dict[str, Any]:
    """A :class:`~support.models.SavedReply` as the API shows it."""
    return {
        "id": reply.pk,
        "shortcut": reply.shortcut,
        "text": reply.text,
        "created_by": reply.created_by_id,
        "created_at": _DATETIME.to_representation(reply.created_at),
        "updated_at": _DATETIME.to_representation(reply.updated_at),
    }

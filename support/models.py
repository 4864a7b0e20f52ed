"""Tickets, messages and their edits, ratings, notes, the durable event log, bot keys,
managers' Telegram links, users' Telegram profiles (and blocks) and saved replies."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from support.conf import telegram_user_model_label
from support.cursors import format_cursor


class Side(models.TextChoices):
    """Which side of the conversation wrote a message (the 1.x values, kept for 1.x clients)."""

    USER = "user", _("user")
    SUPPORT = "supp", _("support")


class Ticket(models.Model):
    """A conversation a Telegram user opened through the bot."""

    user = models.ForeignKey(
        telegram_user_model_label(),
        on_delete=models.CASCADE,
        related_name="support_tickets",
        verbose_name=_("user"),
    )
    support_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="support_tickets",
        verbose_name=_("support manager"),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True)
    title = models.CharField(_("title"), max_length=256)
    resolved = models.BooleanField(_("resolved"), default=False)
    # Which bot key opened the ticket, and the idempotency key it gave: a
    # repeated key from the same bot key returns this ticket instead of a new one.
    opened_by = models.ForeignKey(
        "support.BotKey",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        verbose_name=_("opened by"),
    )
    # NULL, not "": the unique constraint must ignore tickets opened without a key.
    idempotency_key = models.CharField(  # noqa: DJ001
        _("idempotency key"), max_length=128, null=True, blank=True, editable=False
    )
    # The ticket's forum topic in the staff group: set once, by a staff bot
    # (support.services.set_telegram_topic), so two bot workers that both
    # created a topic agree on the first one stored.
    telegram_chat_id = models.BigIntegerField(
        _("Telegram staff chat"), null=True, blank=True, editable=False
    )
    telegram_topic_id = models.BigIntegerField(
        _("Telegram topic"), null=True, blank=True, editable=False
    )
    # When it was last resolved (null while open): the reopen window and the
    # stats page count from it.
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True, editable=False)
    # The user's ticket resolved before this one was opened: a conversation
    # continued after the reopen window links back to where it started.
    previous = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        verbose_name=_("previous ticket"),
    )

    class Meta:
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        # Oldest first: a queue, and offset pagination stays stable as tickets arrive.
        ordering = ("id",)
        permissions = (("manage_tickets", _("Can answer and manage support tickets")),)
        constraints = (
            models.UniqueConstraint(
                fields=("opened_by", "idempotency_key"), name="support_ticket_idempotency_key"
            ),
        )

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"


class Message(models.Model):
    """One message of a ticket, from the user (through the bot) or a manager."""

    ticket = models.ForeignKey(
        Ticket, on_delete=models.CASCADE, related_name="messages", verbose_name=_("ticket")
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    sender = models.CharField(_("sender"), max_length=4, choices=Side.choices)
    text = models.TextField(_("text"))
    viewed = models.BooleanField(_("viewed"), default=False)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("author"),
        help_text=_("The manager who wrote it; empty for user messages."),
    )
    # NULL, not "": the unique constraint must ignore messages without a key.
    idempotency_key = models.CharField(  # noqa: DJ001
        _("idempotency key"), max_length=128, null=True, blank=True, editable=False
    )
    # Written by a manager in the ticket's staff-group topic (a staff bot acting
    # for them): the mirror must not post it back into the topic.
    via_staff_chat = models.BooleanField(_("via the staff chat"), default=False, editable=False)
    # The last edit (null: never edited); the texts before each edit are MessageEdit rows.
    edited_at = models.DateTimeField(_("edited at"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ("created_at", "id")
        constraints = (
            models.UniqueConstraint(
                fields=("ticket", "idempotency_key"), name="support_message_idempotency_key"
            ),
        )
        indexes = (models.Index(fields=("ticket", "sender", "viewed"), name="support_msg_unread"),)

    def __str__(self) -> str:
        return f"{self.sender}: {self.text[:50]}"


class MessageEdit(models.Model):
    """A message's text before one of its edits: the history a manager can open."""

    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, related_name="edits", verbose_name=_("message")
    )
    text = models.TextField(_("text before the edit"))
    edited_at = models.DateTimeField(_("edited at"), default=timezone.now, editable=False)
    editor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("edited by"),
        help_text=_("The manager who edited it; empty for the user's own edits."),
    )

    class Meta:
        verbose_name = _("message edit")
        verbose_name_plural = _("message edits")
        ordering = ("edited_at", "id")

    def __str__(self) -> str:
        return f"{self.message_id} before {self.edited_at:%Y-%m-%d %H:%M}"


class Rating(models.Model):
    """The user's rating of the help on a resolved ticket: one per ticket, 1 to 5."""

    ticket = models.OneToOneField(
        Ticket, on_delete=models.CASCADE, related_name="rating", verbose_name=_("ticket")
    )
    score = models.PositiveSmallIntegerField(_("score"))
    comment = models.TextField(_("comment"), blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("rating")
        verbose_name_plural = _("ratings")
        ordering = ("-created_at", "-id")
        constraints = (
            models.CheckConstraint(
                condition=models.Q(score__gte=1, score__lte=5), name="support_rating_score"
            ),
        )

    def __str__(self) -> str:
        return f"#{self.ticket_id}: {self.score}/5"


class AttachmentKind(models.TextChoices):
    """What an attachment is to Telegram: how the bot sends it (``sendPhoto``, ``sendVoice``…)."""

    PHOTO = "photo", _("photo")
    VIDEO = "video", _("video")
    VOICE = "voice", _("voice message")
    AUDIO = "audio", _("audio")
    ANIMATION = "animation", _("animation")
    STICKER = "sticker", _("sticker")
    DOCUMENT = "document", _("document")


class Attachment(models.Model):
    """A file of a message, in the order it was sent; the message's text is its caption.

    The bytes live in the storage named by ``SUPPORT_ATTACHMENT_STORAGE``
    under ``stored_name``, an unguessable name; they are served only by the
    app's download view, to managers and bots, never from a public URL.
    """

    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, related_name="attachments", verbose_name=_("message")
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    kind = models.CharField(_("kind"), max_length=16, choices=AttachmentKind.choices)
    filename = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(_("content type"), max_length=128)
    size = models.PositiveBigIntegerField(_("size"))
    width = models.PositiveIntegerField(_("width"), null=True, blank=True)
    height = models.PositiveIntegerField(_("height"), null=True, blank=True)
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    stored_name = models.CharField(_("stored as"), max_length=255, unique=True, editable=False)
    thumbnail_name = models.CharField(
        _("thumbnail stored as"), max_length=255, blank=True, default="", editable=False
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        ordering = ("message", "position", "id")

    def __str__(self) -> str:
        return f"{self.kind}: {self.filename}"


class Event(models.Model):
    """One entry of the durable, ordered event log that every transport reads.

    The primary key is the cursor. ``support.events.append`` writes entries
    inside the transaction of the change they describe and serialises
    writers, so ids grow in commit order and a reader resuming after an id
    never skips an entry that commits later.
    """

    id = models.BigAutoField(primary_key=True)
    type = models.CharField(_("type"), max_length=64)
    # JSON text, kept exactly as written: PostgreSQL's jsonb would reorder the
    # keys, and the envelope is sent as this text without being parsed again.
    payload = models.TextField(_("payload"))
    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True)
    # Private to managers (a note): no bot's transport ever carries the entry,
    # whatever cursor or filter it asks with.
    managers_only = models.BooleanField(_("managers only"), default=False, editable=False)

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        ordering = ("id",)

    def __str__(self) -> str:
        return f"{self.pk} {self.type}"

    @property
    def cursor(self) -> str:
        return format_cursor(self.pk)

    def envelope_json(self) -> str:
        """The event as every transport sends it: ``type``, the payload's fields, ``event_id``.

        Built by joining JSON text, once per event, and sent as is to every listener.
        """
        fields = self.payload.strip()[1:-1]
        return (
            f'{{"type":{json.dumps(self.type)},{fields}{"," if fields else ""}'
            f'"event_id":{json.dumps(self.cursor)}}}'
        )

    def envelope(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.envelope_json())
        return parsed

    @property
    def data(self) -> dict[str, Any]:
        """The payload, parsed."""
        parsed: dict[str, Any] = json.loads(self.payload)
        return parsed


class EventLogState(models.Model):
    """One row that records how far the log has been trimmed.

    A cursor at or below ``trimmed_through`` may have lost events to
    retention, so readers answer it with ``cursor_expired``.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    trimmed_through = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("event log state")
        verbose_name_plural = _("event log state")

    def __str__(self) -> str:
        return f"trimmed through {self.trimmed_through}"


class BotKeyQuerySet(models.QuerySet["BotKey"]):
    def active(self) -> BotKeyQuerySet:
        return self.filter(revoked_at__isnull=True)


class BotKey(models.Model):
    """A bot's service key, stored as a SHA-256 digest and shown once.

    Keys carry 256 bits of randomness, so a fast digest is as safe as a slow
    password hash here and keeps authentication cheap on every request. The
    public ``prefix`` finds the row; the digest is compared in constant time.
    """

    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("prefix"), max_length=16, unique=True, editable=False)
    hashed_key = models.CharField(_("hashed key"), max_length=64, editable=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True, editable=False)
    staff = models.BooleanField(
        _("staff"),
        default=False,
        help_text=_(
            "May act for managers who linked their Telegram account (a staff group's bot). "
            "Off unless this bot needs it."
        ),
    )

    objects = BotKeyQuerySet.as_manager()

    class Meta:
        verbose_name = _("bot key")
        verbose_name_plural = _("bot keys")
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class TelegramAccount(models.Model):
    """A manager's Telegram account: a staff bot may act for this user as this Telegram id.

    Made by a link code the manager sends to the bot, or in the admin.
    Deleting the row (unlinking) takes effect on the staff bot's next request.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="support_telegram",
        verbose_name=_("manager"),
    )
    telegram_id = models.BigIntegerField(_("Telegram id"), unique=True)
    linked_at = models.DateTimeField(_("linked at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("Telegram link")
        verbose_name_plural = _("Telegram links")
        ordering = ("-linked_at",)

    def __str__(self) -> str:
        return f"{self.user} ↔ {self.telegram_id}"


class TelegramLinkCode(models.Model):
    """A one-time code a manager sends to the staff bot to link their Telegram account.

    Only a keyed digest of the code is stored (:mod:`support.telegram_links`);
    it is good until ``expires_at`` and once (``used_at``). Issuing a new code
    voids the manager's unused ones.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("manager"),
    )
    digest = models.CharField(_("digest"), max_length=64, editable=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    expires_at = models.DateTimeField(_("expires at"), editable=False)
    used_at = models.DateTimeField(_("used at"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("Telegram link code")
        verbose_name_plural = _("Telegram link codes")
        ordering = ("-created_at",)
        indexes = (models.Index(fields=("used_at", "expires_at"), name="support_link_code_live"),)

    def __str__(self) -> str:
        return f"{self.user} until {self.expires_at:%Y-%m-%d %H:%M}"


class Note(models.Model):
    """A manager's private note on a ticket: shown to managers only, never to a bot or a user."""

    ticket = models.ForeignKey(
        Ticket, on_delete=models.CASCADE, related_name="notes", verbose_name=_("ticket")
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("author"),
    )
    text = models.TextField(_("text"))
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("note")
        verbose_name_plural = _("notes")
        ordering = ("created_at", "id")
        indexes = (models.Index(fields=("ticket", "id"), name="support_note_ticket"),)

    def __str__(self) -> str:
        return f"{self.ticket_id}: {self.text[:40]}"


class TelegramProfile(models.Model):
    """What the bot last told the desk of a Telegram user's profile.

    A table of the app's own, keyed by the Telegram id (the project's Telegram
    user model is not touched). ``first_contact_at`` is when the desk first
    heard of the user; ``updated_at`` when a field last changed.
    """

    telegram_id = models.BigIntegerField(_("Telegram id"), primary_key=True)
    first_name = models.CharField(_("first name"), max_length=64, blank=True)
    last_name = models.CharField(_("last name"), max_length=64, blank=True)
    username = models.CharField(_("username"), max_length=32, blank=True)
    language_code = models.CharField(_("language"), max_length=35, blank=True)
    first_contact_at = models.DateTimeField(
        _("first contact"), default=timezone.now, editable=False
    )
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now, editable=False)
    # Blocked by a manager (null: not blocked): the user's posts are refused.
    blocked_at = models.DateTimeField(_("blocked at"), null=True, blank=True, editable=False)
    blocked_reason = models.CharField(_("reason for the block"), max_length=500, blank=True)
    blocked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        verbose_name=_("blocked by"),
    )

    class Meta:
        verbose_name = _("Telegram profile")
        verbose_name_plural = _("Telegram profiles")
        ordering = ("-first_contact_at",)

    def __str__(self) -> str:
        name = " ".join(part for part in (self.first_name, self.last_name) if part)
        return name or (f"@{self.username}" if self.username else str(self.telegram_id))


class SavedReply(models.Model):
    """A reply managers insert from the reply box by its shortcut (``/shortcut``).

    ``{first_name}`` and ``{manager}`` in the text are filled in by the console
    when inserted; the manager edits the result before sending.
    """

    shortcut = models.SlugField(_("shortcut"), max_length=32, unique=True)
    text = models.TextField(_("text"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("saved reply")
        verbose_name_plural = _("saved replies")
        ordering = ("shortcut",)

    def __str__(self) -> str:
        return f"/{self.shortcut}"

"""Admin for tickets, messages, bot keys, managers' Telegram links, users' Telegram
profiles (read only: the bot keeps them; blocks are actions) and saved replies.

State changes made here go through :mod:`support.services` like every other
adapter, so they append events and obey the same rules; the forms only
edit the title, and everything else is an action.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from support import blocking, services
from support.actors import Actor
from support.botkeys import create_bot_key
from support.exceptions import Invalid, SupportError
from support.models import (
    BotKey,
    Message,
    SavedReply,
    TelegramAccount,
    TelegramProfile,
    Ticket,
)

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise  # a lazy translation (typing only)


class MessageInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Message
    fields = ("created_at", "sender", "author", "text", "viewed")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("created_at", "id")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _run_for_each(
    modeladmin: TicketAdmin,
    request: HttpRequest,
    queryset: QuerySet[Ticket],
    service: Callable[[Actor, int], Any],
) -> None:
    actor = Actor.for_manager(request.user)
    done = 0
    for ticket_id in queryset.values_list("pk", flat=True):
        try:
            service(actor, ticket_id)
            done += 1
        except SupportError as error:
            modeladmin.message_user(request, f"#{ticket_id}: {error.detail}", messages.ERROR)
    if done:
        modeladmin.message_user(
            request, _("%(count)d ticket(s) updated.") % {"count": done}, messages.SUCCESS
        )


def _service_action(
    name: str, service: Callable[[Actor, int], Any], description: StrOrPromise
) -> Any:
    """An admin action named *name* that runs *service* for each selected ticket."""

    def action(modeladmin: TicketAdmin, request: HttpRequest, queryset: QuerySet[Ticket]) -> None:
        _run_for_each(modeladmin, request, queryset, service)

    action.__name__ = action.__qualname__ = name
    return admin.action(description=description)(action)


assign_to_me = _service_action("assign_to_me", services.assign, _("Assign selected tickets to me"))
unassign = _service_action(
    "unassign", services.unassign, _("Put selected tickets back in the queue")
)
resolve = _service_action("resolve", services.resolve, _("Resolve selected tickets"))
reopen = _service_action("reopen", services.reopen, _("Reopen selected tickets"))


def _run_for_each_user(
    modeladmin: Any, request: HttpRequest, telegram_ids: list[int], call: Any
) -> None:
    """*call* (:func:`support.blocking.block` or ``unblock``) once per user, reporting refusals."""
    actor = Actor.for_manager(request.user)
    done = 0
    for telegram_id in dict.fromkeys(telegram_ids):  # each user once, in order
        try:
            call(actor, telegram_id)
            done += 1
        except SupportError as error:
            modeladmin.message_user(request, f"{telegram_id}: {error.detail}", messages.ERROR)
    if done:
        modeladmin.message_user(
            request, _("%(count)d user(s) updated.") % {"count": done}, messages.SUCCESS
        )


def _block(actor: Actor, telegram_id: int) -> None:
    # The admin asks no reason: this one says where the block came from (the console asks).
    blocking.block(actor, telegram_id, reason=gettext("Blocked from the admin"))


@admin.action(description=_("Block the users of selected tickets"))
def block_users(modeladmin: TicketAdmin, request: HttpRequest, queryset: QuerySet[Ticket]) -> None:
    """Through :func:`support.blocking.block`: each user's open tickets are resolved with a note."""
    users = list(queryset.order_by("id").values_list("user_id", flat=True))
    _run_for_each_user(modeladmin, request, users, _block)


@admin.action(description=_("Unblock the users of selected tickets"))
def unblock_users(
    modeladmin: TicketAdmin, request: HttpRequest, queryset: QuerySet[Ticket]
) -> None:
    users = list(queryset.order_by("id").values_list("user_id", flat=True))
    _run_for_each_user(modeladmin, request, users, blocking.unblock)


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("id", "title", "user", "support_manager", "resolved", "created_at")
    list_filter = ("resolved", ("support_manager", admin.RelatedOnlyFieldListFilter), "created_at")
    search_fields = ("=id", "title", "messages__text")
    list_select_related = ("user", "support_manager")
    readonly_fields = (
        "user",
        "support_manager",
        "resolved",
        "resolved_at",
        "previous",
        "created_at",
    )
    fields = (
        "title",
        "user",
        "support_manager",
        "resolved",
        "resolved_at",
        "previous",
        "created_at",
    )
    inlines = (MessageInline,)
    actions = (assign_to_me, unassign, resolve, reopen, block_users, unblock_users)
    date_hierarchy = "created_at"
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # tickets are opened by bots, through the API

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # deleting would rewrite history the event log has already told

    def save_model(
        self, request: HttpRequest, obj: Ticket, form: ModelForm[Ticket], change: bool
    ) -> None:
        try:
            services.update_ticket(Actor.for_manager(request.user), obj.pk, title=obj.title)
        except SupportError as error:
            self.message_user(request, error.detail, messages.ERROR)


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("id", "ticket", "sender", "author", "short_text", "viewed", "created_at")
    list_filter = ("sender", "viewed", "created_at")
    search_fields = ("text", "=ticket__id")
    list_select_related = ("ticket", "author")
    readonly_fields = ("ticket", "created_at", "sender", "author", "text", "viewed")
    show_full_result_count = False

    @admin.display(description=_("text"))
    def short_text(self, obj: Message) -> str:
        return obj.text if len(obj.text) <= 80 else obj.text[:79] + "…"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.action(description=_("Revoke selected keys"))
def revoke_keys(modeladmin: BotKeyAdmin, request: HttpRequest, queryset: QuerySet[BotKey]) -> None:
    for key in queryset:
        services.revoke_bot_key(key)
    modeladmin.message_user(request, _("Keys revoked; they stop working at once."))


@admin.register(BotKey)
class BotKeyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "prefix", "staff", "created_at", "revoked_at")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter), "staff")
    search_fields = ("name", "prefix")
    fields = ("name", "staff", "prefix", "created_at", "revoked_at")
    readonly_fields = ("prefix", "created_at", "revoked_at")
    actions = (revoke_keys,)

    def save_model(
        self, request: HttpRequest, obj: BotKey, form: ModelForm[BotKey], change: bool
    ) -> None:
        if change:
            # Saving a key forgets every remembered credential (support.credentials),
            # so withdrawing `staff` holds from the key's next request.
            obj.save(update_fields=["name", "staff"])
            return
        key, raw_key = create_bot_key(obj.name, staff=obj.staff)
        obj.pk, obj.prefix, obj.created_at = key.pk, key.prefix, key.created_at
        self.message_user(
            request,
            _("The key for %(name)s is %(key)s — copy it now, it will not be shown again.")
            % {"name": key.name, "key": raw_key},
            messages.WARNING,
        )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # revoke instead: the row records that the key existed


@admin.register(TelegramAccount)
class TelegramAccountAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Set or remove a manager's Telegram link (managers also link themselves with a code).

    Deleting a row unlinks at once: a staff bot's next request for that Telegram
    id is refused (the acting check reads the link on every request).
    """

    list_display = ("user", "telegram_id", "linked_at")
    search_fields = ("=telegram_id", "user__username")
    list_select_related = ("user",)
    raw_id_fields = ("user",)
    fields = ("user", "telegram_id", "linked_at")
    readonly_fields = ("linked_at",)


@admin.action(description=_("Block selected users"))
def block_profiles(
    modeladmin: TelegramProfileAdmin, request: HttpRequest, queryset: QuerySet[TelegramProfile]
) -> None:
    users = list(queryset.order_by("pk").values_list("pk", flat=True))
    _run_for_each_user(modeladmin, request, users, _block)


@admin.action(description=_("Unblock selected users"))
def unblock_profiles(
    modeladmin: TelegramProfileAdmin, request: HttpRequest, queryset: QuerySet[TelegramProfile]
) -> None:
    users = list(queryset.order_by("pk").values_list("pk", flat=True))
    _run_for_each_user(modeladmin, request, users, blocking.unblock)


@admin.register(TelegramProfile)
class TelegramProfileAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """What the bot last told of each Telegram user: to look at, never to edit (the
    next post would overwrite it). Blocking and unblocking are actions, through
    :mod:`support.blocking`, as the console's buttons."""

    list_display = (
        "telegram_id", "__str__", "username", "language_code", "first_contact_at", "blocked",
    )  # fmt: skip
    list_filter = (("blocked_at", admin.EmptyFieldListFilter),)
    search_fields = ("=telegram_id", "first_name", "last_name", "username")
    fields = (
        "telegram_id", "first_name", "last_name", "username", "language_code",
        "first_contact_at", "updated_at", "blocked_at", "blocked_reason", "blocked_by",
    )  # fmt: skip
    readonly_fields = fields
    list_select_related = ("blocked_by",)
    actions = (block_profiles, unblock_profiles)

    @admin.display(description=_("blocked"), boolean=True, ordering="blocked_at")
    def blocked(self, obj: TelegramProfile) -> bool:
        return obj.blocked_at is not None

    date_hierarchy = "first_contact_at"
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class SavedReplyForm(forms.ModelForm):  # type: ignore[type-arg]
    """The API's rules for the shortcut and the text (the service layer's)."""

    class Meta:
        model = SavedReply
        fields = ("shortcut", "text")

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        for name in ("shortcut", "text"):
            if name in cleaned:
                try:
                    services.clean_saved_reply(**{name: cleaned[name]})
                except Invalid as error:
                    for message in (error.errors or {}).get(name, [error.detail]):
                        self.add_error(name, message)
        return cleaned


@admin.register(SavedReply)
class SavedReplyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Saved replies, written through :mod:`support.services` like the API's."""

    form = SavedReplyForm
    list_display = ("shortcut", "short_text", "created_by", "updated_at")
    search_fields = ("shortcut", "text")
    list_select_related = ("created_by",)
    readonly_fields = ("created_by", "created_at", "updated_at")

    @admin.display(description=_("text"))
    def short_text(self, obj: SavedReply) -> str:
        return obj.text if len(obj.text) <= 80 else obj.text[:79] + "…"

    def save_model(
        self, request: HttpRequest, obj: SavedReply, form: ModelForm[SavedReply], change: bool
    ) -> None:
        actor = Actor.for_manager(request.user)
        fields = {"shortcut": obj.shortcut, "text": obj.text}
        try:
            if change:
                services.update_saved_reply(actor, obj.pk, **fields)
            else:
                obj.pk = services.create_saved_reply(actor, **fields).pk
        except SupportError as error:
            self.message_user(request, error.detail, messages.ERROR)

    def delete_model(self, request: HttpRequest, obj: SavedReply) -> None:
        try:
            services.delete_saved_reply(Actor.for_manager(request.user), obj.pk)
        except SupportError as error:
            self.message_user(request, error.detail, messages.ERROR)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[SavedReply]) -> None:
        for reply in queryset:
            self.delete_model(request, reply)

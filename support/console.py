"""``GET manager/``: the manager console, a page of plain JavaScript over the public API.

The page is a client like any other: it reads and writes through the REST
API (session cookie plus CSRF token) and follows the event log over
WebSocket, SSE or long-poll, whichever the network lets through. This view
only checks who may open it and hands the page its configuration: where the
API and the WebSocket live, the limits on text and files, who is signed in,
and the strings the script shows, translated here so the page needs no
second request for them.
"""

from __future__ import annotations

from typing import Any

from django.conf import global_settings, settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, Resolver404, resolve, reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import ensure_csrf_cookie

from support.actors import is_manager
from support.conf import support_settings


def _strings() -> dict[str, str]:
    """Everything the script writes into the page, in the request's language."""
    return {
        "connecting": _("Connecting…"),
        "live": _("Live"),
        "reconnecting": _("Reconnecting…"),
        "signed_out": _("Signed out. Reload the page to sign in again."),
        "websocket": _("WebSocket"),
        "sse": _("Server-Sent Events"),
        "longpoll": _("Long-poll"),
        "unassigned": _("Unassigned"),
        "assigned_to_you": _("Assigned to you"),
        "assigned_to": _("Assigned to %(name)s"),
        "open": _("Open"),
        "resolved": _("Resolved"),
        "you": _("You"),
        "user": _("User"),
        "no_tickets": _("No tickets here."),
        "no_messages": _("No messages yet."),
        "load_more": _("Load more"),
        "load_older": _("Load older messages"),
        "loading": _("Loading…"),
        "assign": _("Take it"),
        "unassign": _("Return to queue"),
        "resolve": _("Resolve"),
        "reopen": _("Reopen"),
        "send": _("Send"),
        "sending": _("Sending…"),
        "unread": _("%(count)s unread"),
        "telegram_user": _("Telegram user %(id)s"),
        "ticket_number": _("Ticket #%(id)s"),
        "chars_left": _("%(used)s / %(limit)s characters"),
        "too_long": _("Too long by %(over)s characters."),
        "network_error": _("Network error: nothing was sent. Your text is kept; try again."),
        "rate_limited": _("Too many requests. Try again in %(seconds)s s."),
        "server_error": _("The server failed; nothing was changed. Try again."),
        "stream_reset": _("Some events were too old to replay; the lists were reloaded."),
        "viewed": _("Seen"),
        "select_ticket": _("Select a ticket from the queue."),
        # Attachments: what a message holds, in the queue and the conversation.
        "photo": _("Photo"),
        "video": _("Video"),
        "voice": _("Voice message"),
        "animation": _("Animation"),
        "sticker": _("Sticker"),
        "document_named": _("Document: %(name)s"),
        "audio_named": _("Audio: %(name)s"),
        "photos_count": _("Photos: %(count)s"),
        "attachments_count": _("Attachments: %(count)s"),
        "download": _("Download"),
        "open_full_size": _("Open %(name)s full size"),
        # The reply box's files.
        "remove_file": _("Remove %(name)s"),
        "uploading": _("Uploading: %(done)s of %(total)s"),
        "cancelled": _("Upload cancelled: nothing was sent. Your text and files are kept."),
        "file_too_large": _("%(name)s is too large (%(size)s); the limit is %(limit)s."),
        "file_empty": _("%(name)s is empty."),
        "file_unsupported": _("%(name)s: the desk does not accept this type of file."),
        "too_many_files": _("A message may carry at most %(limit)s files."),
        "request_too_large": _("The files are larger than the server accepts."),
        "reason_too_large": _("Too large"),
        "reason_empty": _("Empty"),
        "reason_unsupported": _("Type not accepted"),
        # Linking the manager's Telegram account (the staff group).
        "telegram_link": _("Link Telegram"),
        "telegram_linked": _("Telegram linked"),
        "telegram_not_linked": _(
            "Your Telegram account is not linked. Link it to answer tickets from the staff group."
        ),
        "telegram_linked_as": _("Linked to Telegram id %(id)s since %(date)s."),
        "telegram_get_code": _("Get a code"),
        "telegram_new_code": _("Get a new code"),
        "telegram_instructions": _("Send /link %(code)s to the bot in a private chat."),
        "telegram_expires_in": _("The code expires in %(time)s."),
        "telegram_expired": _("The code expired. Get a new one."),
    }


def _logout_url() -> str | None:
    try:
        return reverse("logout")
    except NoReverseMatch:
        return None


def login_url() -> str:
    """``LOGIN_URL``; but where Django's default names no page here, the admin's login.

    1.2.0's manager page sent visitors to ``/admin/login/`` whatever the
    settings said, so a 1.x project may have no page at Django's default
    ``/accounts/login/``: rather than a 404, its managers get the login they
    had. A ``LOGIN_URL`` the project chose is always used as it is.
    """
    chosen = str(settings.LOGIN_URL)
    if chosen != global_settings.LOGIN_URL:
        return chosen
    try:
        resolve(chosen)
    except Resolver404:
        try:
            return reverse("admin:login")
        except NoReverseMatch:
            pass
    return chosen


@never_cache
@ensure_csrf_cookie
def manager_console(request: HttpRequest) -> HttpResponse:
    """The page itself; anonymous visitors go to :func:`login_url` and come back."""
    user: Any = request.user
    if not getattr(user, "is_authenticated", False):
        return redirect_to_login(request.get_full_path(), login_url())
    if not is_manager(user):
        raise PermissionDenied(_("This page is for support managers."))
    api_root = request.path.removesuffix("manager/")
    config = {
        "api": api_root,
        "websocket": "/" + support_settings.WEBSOCKET_PATHS[0].lstrip("/"),
        "maxTextLength": support_settings.MAX_TEXT_LENGTH,
        "maxAttachmentSize": support_settings.MAX_ATTACHMENT_SIZE,
        "maxAttachments": support_settings.MAX_ATTACHMENTS_PER_MESSAGE,
        "me": {"id": user.pk, "name": user.get_full_name() or user.get_username()},
        "strings": _strings(),
    }
    context = {"config": config, "me": config["me"], "logout_url": _logout_url()}
    return render(request, "support/console.html", context)

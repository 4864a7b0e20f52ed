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

import json
import re
from typing import Any

from django.conf import global_settings, settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, Resolver404, resolve, reverse
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import ensure_csrf_cookie

from support import events
from support.actors import is_manager
from support.conf import support_settings
from support.models import Side
from support.realtime import consumer
from support.realtime.replay import Reset


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
        # Who the user is (the contact panel).
        "contact_username": _("Username"),
        "contact_language": _("Language"),
        "contact_telegram_id": _("Telegram id"),
        "contact_first_contact": _("First contact"),
        "contact_no_other_tickets": _("No other tickets."),
        # Private notes and the reply box's modes.
        "note": _("Note"),
        "note_placeholder": _("Private note for managers… (the user never sees it)"),
        "reply_placeholder": _("Reply… (Enter sends, Shift+Enter for a new line)"),
        "save_note": _("Save note"),
        "saving": _("Saving…"),
        # Saved replies ("/" in the reply box).
        "no_saved_replies": _("No saved reply matches."),
        # Alerts.
        "alerts_on": _("Alerts on"),
        "alerts_off": _("Alerts off"),
        "alerts_allow": _("Alerts on · allow notifications"),
        "alert_new_ticket": _("New ticket from %(name)s"),
        "alert_new_message": _("New message from %(name)s"),
        "alert_attachment": _("An attachment"),
        # Blocking (the contact panel, the queue).
        "blocked": _("Blocked"),
        "block": _("Block…"),
        "unblock": _("Unblock"),
        "blocking": _("Blocking…"),
        "unblocking": _("Unblocking…"),
        "blocked_since": _("Since %(date)s, by %(name)s"),
        "blocked_since_date": _("Since %(date)s"),
        "block_submit": _("Block"),
        "blocked_reason": _("Reason: %(reason)s"),
        "block_reason_needed": _("Say why the user is blocked."),
        # Edits and deletions of messages.
        "edited": _("edited"),
        "edited_at": _("Edited %(date)s"),
        "edit": _("Edit"),
        "delete": _("Delete"),
        "save": _("Save"),
        "cancel": _("Cancel"),
        "close": _("Close"),
        "edit_hint": _("Enter saves, Esc cancels"),
        "edit_empty": _("The text cannot be empty."),
        "delete_confirm": _("Delete this reply? It goes for the user too."),
        "deleting": _("Deleting…"),
        "history": _("Edit history"),
        "history_original": _("Original"),
        "history_edited_by": _("Edited by %(name)s"),
        "history_by_user": _("Edited by the user"),
        "history_current": _("Now"),
        # The ticket's head: its rating and the ticket it follows.
        "rated": _("Rated %(score)s of 5"),
        "follows_ticket": _("Follows ticket #%(id)s"),
        # The stats page.
        "stats": _("Stats"),
        # Counts of tickets (ru: "Открыто", "Решено"), not the queue's tab.
        "stats_opened": pgettext("stats", "Opened"),
        "stats_resolved": pgettext("stats", "Resolved"),
        "stats_first_reply": _("Median first reply"),
        "stats_resolution": _("Median time to resolve"),
        "stats_rating": _("Average rating"),
        "stats_ratings_count": _("Ratings: %(count)s"),
        "stats_per_day": _("Tickets opened and resolved per day"),
        "stats_day_opened": _("%(date)s: %(count)s opened"),
        "stats_day_resolved": _("%(date)s: %(count)s resolved"),
        "stats_ratings": _("Ratings"),
        "stats_score": _("%(score)s of 5: %(count)s"),
        "stats_managers": _("Managers"),
        "stats_manager": _("Manager"),
        "stats_replies": _("Replies"),
        "stats_no_managers": _("No manager replied or resolved in these days."),
        "stats_none": _("No data"),
    }


#: django-eventstream's own SSE events around ours (the stream opened, a keep-alive).
_SSE_CONTROL = {"open": "stream-open", "keep_alive": "keep-alive", "error": "stream-error"}
_EVENT_TYPE = re.compile(r"[a-z]+(?:\.[a-z]+)+")


def _event_types() -> list[str]:
    """Every event type the log holds: the public ones, then any other the module names
    (the channel layer's own message types, ``*_MESSAGE_TYPE``, are not events)."""
    types = list(events.EVENT_TYPES)
    for name, value in vars(events).items():
        if not name.isupper() or name.endswith("_MESSAGE_TYPE") or not isinstance(value, str):
            continue
        if _EVENT_TYPE.fullmatch(value) and value not in types:
            types.append(value)
    return types


def protocol() -> dict[str, Any]:
    """The protocol's values the script needs, so none is copied into it by hand.

    ``events`` maps a name (the type with ``_`` for ``.``: ``ticket_message_new``)
    to the type; the script refers to events by those names, and a type the
    server does not send simply never matches.
    """
    types = _event_types()
    return {
        "events": {t.replace(".", "_"): t for t in types},
        "events_all": types,
        "reset": json.loads(Reset(position=0).json)["type"],  # the frame a stream sends
        "close": {
            "bad_cursor": consumer.CLOSE_BAD_CURSOR,
            "revoked": consumer.CLOSE_REVOKED,
            "too_many_streams": consumer.CLOSE_TOO_MANY_STREAMS,
            "slow_reader": consumer.CLOSE_SLOW_READER,
            "try_again": consumer.CLOSE_TRY_AGAIN,
            "server_error": consumer.CLOSE_SERVER_ERROR,
        },
        "sse": _SSE_CONTROL,
        "senders": {"user": Side.USER.value, "support": Side.SUPPORT.value},
    }


def _features(api_root: str) -> dict[str, bool]:
    """Which of the optional endpoints this server has (the page hides what it lacks)."""

    def served(path: str) -> bool:
        try:
            return resolve(api_root + path).url_name != "not-found"
        except Resolver404:
            return False

    return {
        "notes": served("tickets/1/notes/"),
        "savedReplies": served("saved-replies/"),
        "users": served("users/1/"),
        "editMessages": served("tickets/1/messages/1/"),
        "editHistory": served("tickets/1/messages/1/edits/"),
        "stats": served("stats/"),
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
        # How long after sending a manager may edit or delete a reply (the server decides).
        "edit_window_seconds": int(support_settings.EDIT_WINDOW.total_seconds()),
        "protocol": protocol(),
        "features": _features(api_root),
        "me": {"id": user.pk, "name": user.get_full_name() or user.get_username()},
        "strings": _strings(),
    }
    context = {"config": config, "me": config["me"], "logout_url": _logout_url()}
    return render(request, "support/console.html", context)

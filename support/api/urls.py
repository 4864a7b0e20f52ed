"""The REST endpoints; :mod:`support.urls` mounts them with the event streams."""

from __future__ import annotations

from django.urls import path

from support import services
from support.api import downloads, edit_views, saved_replies, views
from support.api.note_views import NoteListView
from support.api.rating_views import RatingView
from support.api.stats_views import StatsView
from support.api.user_views import UserBlockView, UserDetailView, UserUnblockView

#: ``POST tickets/{id}/<action>/``: each action's service function.
ACTIONS = {
    "assign": services.assign,
    "unassign": services.unassign,
    "resolve": services.resolve,
    "reopen": services.reopen,
}

urlpatterns = [
    path("tickets/", views.TicketListView.as_view(), name="ticket-list"),
    path("tickets/<int:pk>/", views.TicketDetailView.as_view(), name="ticket-detail"),
    *(
        path(
            f"tickets/<int:pk>/{action}/",
            views.TicketActionView.as_view(service=service),
            name=f"ticket-{action}",
        )
        for action, service in ACTIONS.items()
    ),
    path("tickets/<int:pk>/messages/", views.MessageListView.as_view(), name="message-list"),
    path(
        "tickets/<int:pk>/messages/viewed/",
        views.MarkViewedView.as_view(),
        name="messages-viewed",
    ),
    path(
        "tickets/<int:pk>/messages/<int:message_id>/",
        edit_views.MessageDetailView.as_view(),
        name="message-detail",
    ),
    path(
        "tickets/<int:pk>/messages/<int:message_id>/edits/",
        edit_views.MessageEditListView.as_view(),
        name="message-edits",
    ),
    path("tickets/<int:pk>/notes/", NoteListView.as_view(), name="note-list"),
    path("tickets/<int:pk>/rating/", RatingView.as_view(), name="ticket-rating"),
    path("users/<int:telegram_id>/", UserDetailView.as_view(), name="user-detail"),
    path("users/<int:telegram_id>/block/", UserBlockView.as_view(), name="user-block"),
    path("users/<int:telegram_id>/unblock/", UserUnblockView.as_view(), name="user-unblock"),
    path(
        "tickets/<int:pk>/telegram-topic/",
        views.TicketTelegramTopicView.as_view(),
        name="ticket-telegram-topic",
    ),
    path("stats/", StatsView.as_view(), name="stats"),
    path("saved-replies/", saved_replies.SavedReplyListView.as_view(), name="saved-reply-list"),
    path(
        "saved-replies/<int:pk>/",
        saved_replies.SavedReplyDetailView.as_view(),
        name="saved-reply-detail",
    ),
    path("telegram/link/", views.TelegramLinkView.as_view(), name="telegram-link"),
    path(
        "telegram/link/confirm/",
        views.TelegramLinkConfirmView.as_view(),
        name="telegram-link-confirm",
    ),
    # django-stubs types views as sync; Django serves async views natively.
    path("attachments/<int:pk>/", downloads.download, name="attachment"),  # type: ignore[arg-type]
    path(
        "attachments/<int:pk>/thumbnail/",
        downloads.thumbnail,  # type: ignore[arg-type]
        name="attachment-thumbnail",
    ),
    path("schema/", views.SchemaView.as_view(), name="schema"),
]

from __future__ import annotations

from django.urls import path, re_path

from support import services
from support.api import views
from support.realtime import longpoll, sse

urlpatterns = [
    path("tickets/", views.TicketListView.as_view(), name="ticket-list"),
    path("tickets/<int:pk>/", views.TicketDetailView.as_view(), name="ticket-detail"),
    path(
        "tickets/<int:pk>/assign/",
        views.TicketActionView.as_view(service=services.assign),
        name="ticket-assign",
    ),
    path(
        "tickets/<int:pk>/unassign/",
        views.TicketActionView.as_view(service=services.unassign),
        name="ticket-unassign",
    ),
    path(
        "tickets/<int:pk>/resolve/",
        views.TicketActionView.as_view(service=services.resolve),
        name="ticket-resolve",
    ),
    path(
        "tickets/<int:pk>/reopen/",
        views.TicketActionView.as_view(service=services.reopen),
        name="ticket-reopen",
    ),
    path("tickets/<int:pk>/messages/", views.MessageListView.as_view(), name="message-list"),
    path(
        "tickets/<int:pk>/messages/viewed/",
        views.MarkViewedView.as_view(),
        name="messages-viewed",
    ),
    # django-stubs types views as sync; Django serves async views natively.
    path("events/", longpoll.longpoll, name="events"),  # type: ignore[arg-type]
    path("events/stream/", sse.stream, name="events-stream"),  # type: ignore[arg-type]
    path("schema/", views.SchemaView.as_view(), name="schema"),
    # Last: any other path under the mount (`tickets/abc/`, say) is a JSON 404.
    re_path(r"^[\s\S]*$", views.not_found, name="not-found"),  # newlines in ids too
]

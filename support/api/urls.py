"""The REST endpoints; :mod:`support.urls` mounts them with the event streams."""

from __future__ import annotations

from django.urls import path

from support import services
from support.api import views

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
    path("schema/", views.SchemaView.as_view(), name="schema"),
]

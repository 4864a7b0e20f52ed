"""List filters. Tickets: ``user_id``, ``resolved``, ``manager``, ``manager__isnull`` (as in
1.x), plus ``search`` and ``ordering``; messages: ``ordering``.

Without ``ordering`` a list comes in 1.2.0's order (its manager page depends on it,
see :mod:`support.api.views`); ``ordering`` asks for another, ``-`` first for
descending. Equal values are kept apart by id, in the same direction, so
pages never overlap.

django-filter's ``BooleanFilter`` quietly ignores a value it cannot read
(``?resolved=maybe`` would list every ticket); these refuse it with a 400.
"""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Model, Q, QuerySet
from django.utils.translation import gettext_lazy as _

from support.models import Message, Ticket

_TRUE = ("true", "True", "1")
_FALSE = ("false", "False", "0")
BOOLEAN_CHOICES = [(value, value) for value in (*_TRUE, *_FALSE)]


def _to_bool(value: str) -> bool:
    return value in _TRUE


def strict_boolean_filter(field_name: str, lookup_expr: str = "exact") -> django_filters.Filter:
    return django_filters.TypedChoiceFilter(
        field_name=field_name, lookup_expr=lookup_expr, choices=BOOLEAN_CHOICES, coerce=_to_bool
    )


class IdFilter(django_filters.NumberFilter):  # type: ignore[misc]
    """A whole number that fits a 64-bit id column (else 400, not a database error)."""

    field_class = forms.IntegerField

    def __init__(self, **kwargs: object) -> None:
        super().__init__(min_value=-(2**63), max_value=2**63 - 1, **kwargs)


class StableOrderingFilter(django_filters.OrderingFilter):  # type: ignore[misc]
    """django-filter's ``OrderingFilter``, with the id as the last key (same direction)."""

    def filter(self, qs: QuerySet[Model], value: list[str] | None) -> QuerySet[Model]:
        if not value:
            return qs
        fields = [self.get_ordering_value(param) for param in value if param]
        if not fields:
            return qs
        last = fields[-1]
        if last.lstrip("-") != "id":
            fields.append("-id" if last.startswith("-") else "id")
        return qs.order_by(*fields)


def ordering_by(*fields: str) -> StableOrderingFilter:
    return StableOrderingFilter(
        fields=tuple((field, field) for field in fields),
        help_text=_("Another order than the default: %(fields)s, each also with a leading -.")
        % {"fields": ", ".join(fields)},
    )


class TicketFilter(django_filters.FilterSet):  # type: ignore[misc]
    user_id = IdFilter(field_name="user_id")
    resolved = strict_boolean_filter("resolved")
    manager = IdFilter(field_name="support_manager_id")
    manager__isnull = strict_boolean_filter("support_manager", "isnull")
    search = django_filters.CharFilter(
        method="filter_search",
        max_length=256,
        help_text=_("A Telegram user id (whole number), or part of the title (any case)."),
    )
    ordering = ordering_by("id", "created_at")

    class Meta:
        model = Ticket
        fields = ("user_id", "resolved", "manager", "manager__isnull", "search", "ordering")

    def filter_search(self, queryset: QuerySet[Ticket], name: str, value: str) -> QuerySet[Ticket]:
        value = value.strip()
        if not value:
            return queryset
        matches = Q(title__icontains=value)
        if value.isascii() and value.isdigit() and int(value) < 2**63:
            matches |= Q(user_id=int(value))
        return queryset.filter(matches)


class MessageFilter(django_filters.FilterSet):  # type: ignore[misc]
    """``ordering`` of ``tickets/{id}/messages/`` (newest first without it, as 1.2.0)."""

    ordering = ordering_by("created_at", "id")

    class Meta:
        model = Message
        fields = ("ordering",)

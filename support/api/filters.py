"""Ticket filters: ``user_id``, ``resolved``, ``manager``, ``manager__isnull`` (as in 1.x),
plus ``search`` and ``ordering`` (what the manager console's queue needs).

django-filter's ``BooleanFilter`` quietly ignores a value it cannot read
(``?resolved=maybe`` would list every ticket); these refuse it with a 400.
"""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from support.models import Ticket

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
    # Oldest first stays the default (1.x's order); ``-id`` is newest first.
    ordering = django_filters.OrderingFilter(fields=(("id", "id"),))

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

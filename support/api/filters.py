"""The seed's ticket filters: ``user_id``, ``resolved``, ``manager``, ``manager__isnull``."""

from __future__ import annotations

import django_filters

from support.models import Ticket


class TicketFilter(django_filters.FilterSet):
    user_id = django_filters.NumberFilter(field_name="user_id")
    resolved = django_filters.BooleanFilter(field_name="resolved")
    manager = django_filters.NumberFilter(field_name="support_manager_id")
    manager__isnull = django_filters.BooleanFilter(
        field_name="support_manager", lookup_expr="isnull"
    )

    class Meta:
        model = Ticket
        fields = ("user_id", "resolved", "manager", "manager__isnull")

"""List filters. Tickets: ``user_id``, ``resolved``, ``manager``, ``manager__isnull`` (as in
1.x), plus ``search`` and ``ordering``; messages: ``ordering`` and ``idempotency_key``.

Without ``ordering`` a list comes in 1.2.0's order (its manager page depends on it,
see :mod:`support.api.views`); ``ordering`` asks for another, ``-`` first for
descending. Equal values are kept apart by id, in the same direction, so
pages never overlap.

django-filter's ``BooleanFilter`` quietly ignores a value it cannot read
(``?resolved=maybe`` would list every ticket); these refuse it with a 400. An
empty value (``?resolved=``) is a filter not given, as in 1.x.

Each filter states its rule in the OpenAPI schema from the same definition it
validates with (:func:`documented`: the values it accepts, the range of an id,
the length of a search term).
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

import django_filters
from django import forms
from django.core.validators import RegexValidator
from django.db.models import Model, Q, QuerySet
from django.utils.translation import gettext_lazy as _
from django_filters.fields import BaseCSVField
from drf_spectacular.utils import extend_schema_field

from support.inputs import (
    ANY_TEXT_PATTERN,
    IDEMPOTENCY_KEY_MAX_LENGTH,
    INT64_MAX,
    INT64_MIN,
    SEARCH_MAX_LENGTH,
)
from support.models import Message, Ticket

_TRUE = ("true", "True", "1")
_FALSE = ("false", "False", "0")
BOOLEAN_CHOICES = [(value, value) for value in (*_TRUE, *_FALSE)]

F = TypeVar("F", bound=django_filters.Filter)


def documented(filter_: F, schema: dict[str, Any]) -> F:
    """*filter_*, with the schema of its value in the OpenAPI document."""
    result: F = extend_schema_field(schema)(filter_)
    return result


def _to_bool(value: str) -> bool:
    return value in _TRUE


def strict_boolean_filter(field_name: str, lookup_expr: str = "exact") -> django_filters.Filter:
    return documented(
        django_filters.TypedChoiceFilter(
            field_name=field_name,
            lookup_expr=lookup_expr,
            choices=BOOLEAN_CHOICES,
            coerce=_to_bool,
        ),
        {
            "type": "string",
            "enum": [value for value, _label in BOOLEAN_CHOICES],
            "description": str(_("true, True or 1; false, False or 0.")),
        },
    )


#: An id in a query string: an optional minus and digits, nothing else ("1.0", " 1", "+1" too).
_ID = re.compile(r"-?[0-9]+")


class IdField(forms.Field):
    """A whole number in decimal digits that fits a 64-bit id column (else 400, never a
    database error)."""

    default_error_messages = {
        "invalid": _("Enter a whole number."),
        "range": _("Out of range for a 64-bit id."),
    }

    def to_python(self, value: Any) -> int | None:
        if value in self.empty_values:
            return None
        if not isinstance(value, str) or _ID.fullmatch(value) is None:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        # Too many digits is out of range before int() (which refuses 4,300 of them) runs.
        if len(value.lstrip("-").lstrip("0")) > len(str(INT64_MAX)):
            raise forms.ValidationError(self.error_messages["range"], code="range")
        number = int(value)
        if not INT64_MIN <= number <= INT64_MAX:
            raise forms.ValidationError(self.error_messages["range"], code="range")
        return number


ID_SCHEMA = {"type": "integer", "format": "int64", "minimum": INT64_MIN, "maximum": INT64_MAX}


class IdFilter(django_filters.Filter):  # type: ignore[misc]
    field_class = IdField


def id_filter(field_name: str, description: str) -> IdFilter:
    return documented(IdFilter(field_name=field_name), {**ID_SCHEMA, "description": description})


class OrderingField(BaseCSVField):  # type: ignore[misc]
    """The comma-separated ``ordering``: every item one of the choices (``id,`` is a 400)."""

    default_error_messages = {"empty_item": _("An empty item in the list.")}

    def clean(self, value: Any) -> Any:
        if value and any(item == "" for item in value):
            raise forms.ValidationError(self.error_messages["empty_item"], code="invalid")
        return super().clean(value)


class StableOrderingFilter(django_filters.OrderingFilter):  # type: ignore[misc]
    """django-filter's ``OrderingFilter``, with the id as the last key (same direction)."""

    base_field_class = OrderingField

    def filter(self, qs: QuerySet[Model], value: list[str] | None) -> QuerySet[Model]:
        if not value:
            return qs
        fields = [self.get_ordering_value(param) for param in value]
        last = fields[-1]
        if last.lstrip("-") != "id":
            fields.append("-id" if last.startswith("-") else "id")
        return qs.order_by(*fields)


def ordering_by(*fields: str) -> StableOrderingFilter:
    description = _("Another order than the default: %(fields)s, each also with a leading -.") % {
        "fields": ", ".join(fields)
    }
    # The schema of one item; the parameter is their comma-separated list.
    choices = sorted({prefix + field for field in fields for prefix in ("", "-")})
    return documented(
        StableOrderingFilter(fields=tuple((field, field) for field in fields)),
        {"type": "string", "enum": choices, "description": str(description)},
    )


class TicketFilter(django_filters.FilterSet):  # type: ignore[misc]
    user_id = id_filter("user_id", str(_("The Telegram user's telegram_id.")))
    resolved = strict_boolean_filter("resolved")
    manager = id_filter("support_manager_id", str(_("The assigned manager's id.")))
    manager__isnull = strict_boolean_filter("support_manager", "isnull")
    search = documented(
        django_filters.CharFilter(
            method="filter_search",
            max_length=SEARCH_MAX_LENGTH,
            strip=False,  # the limit counts what was sent; filter_search strips
            validators=[
                RegexValidator(ANY_TEXT_PATTERN, _("Null characters are not allowed."), "null")
            ],
        ),
        {
            "type": "string",
            "maxLength": SEARCH_MAX_LENGTH,
            "pattern": ANY_TEXT_PATTERN,
            "description": str(
                _("A Telegram user id (whole number), or part of the title (any case).")
            ),
        },
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
        if value.isascii() and value.isdigit() and int(value) <= INT64_MAX:
            matches |= Q(user_id=int(value))
        return queryset.filter(matches)


class MessageFilter(django_filters.FilterSet):  # type: ignore[misc]
    """``ordering`` of ``tickets/{id}/messages/`` (newest first without it, as 1.2.0), and
    ``idempotency_key``: the message posted with that key, if any (a bot finds the desk's
    copy of a Telegram message the user edited by the key it posted it with)."""

    idempotency_key = documented(
        django_filters.CharFilter(
            field_name="idempotency_key",
            max_length=IDEMPOTENCY_KEY_MAX_LENGTH,
            strip=False,  # keys are matched as they were posted
            validators=[
                RegexValidator(ANY_TEXT_PATTERN, _("Null characters are not allowed."), "null")
            ],
        ),
        {
            "type": "string",
            "maxLength": IDEMPOTENCY_KEY_MAX_LENGTH,
            "pattern": ANY_TEXT_PATTERN,
            "description": str(
                _("Only the message posted with this idempotency key (none, or one).")
            ),
        },
    )
    ordering = ordering_by("created_at", "id")

    class Meta:
        model = Message
        fields = ("idempotency_key", "ordering")

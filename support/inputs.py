"""Request bodies: shapes and JSON types only; values are the service layer's job.

DRF's fields coerce (``"12"`` becomes 12, ``12`` becomes ``"12"``); a client
that sends the wrong JSON type has a bug worth hearing about, so these
fields refuse anything but the exact type, and unknown keys are refused too.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from support.models import Side


class StrictCharField(serializers.CharField):
    default_error_messages = {"invalid": _("Must be a string.")}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


class StrictIntegerField(serializers.IntegerField):
    default_error_messages = {"invalid": _("Must be an integer.")}

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return int(super().to_internal_value(data))


class StrictBooleanField(serializers.BooleanField):
    default_error_messages = {"invalid": _("Must be true or false.")}

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class StrictSerializer(serializers.Serializer[Any]):
    """Refuses keys it does not declare, and bodies that are not JSON objects."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, dict):
            raise serializers.ValidationError(
                {"non_field_errors": [_("Expected a JSON object.")]}, code="invalid"
            )
        unknown = sorted(set(data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError(
                {key: [_("Unknown field.")] for key in unknown}, code="invalid"
            )
        return super().to_internal_value(data)


# Lengths are checked by the service layer (its limits are settings); these
# `max_length`s only document the defaults in the OpenAPI schema.


class TicketCreateInput(StrictSerializer):
    user_id = StrictIntegerField(help_text=_("The Telegram user's telegram_id."))
    title = StrictCharField(trim_whitespace=False, allow_blank=True, max_length=None)
    text = StrictCharField(required=False, trim_whitespace=False, allow_blank=True)
    idempotency_key = StrictCharField(
        required=False,
        trim_whitespace=False,
        allow_blank=True,
        help_text=_(
            "Optional; a repeated key from the same bot key returns the ticket it opened (200)."
        ),
    )


class TicketUpdateInput(StrictSerializer):
    title = StrictCharField(required=False, trim_whitespace=False, allow_blank=True)
    resolved = StrictBooleanField(required=False)
    viewed = StrictBooleanField(
        required=False,
        help_text=_(
            "Only true (1.2.0's manager page sends it when a ticket is opened): "
            "the other side's messages are marked viewed."
        ),
    )


class MessageInput(StrictSerializer):
    """A message's body; the WebSocket's ``ticket.message.new`` takes exactly this."""

    text = StrictCharField(trim_whitespace=False, allow_blank=True)
    idempotency_key = StrictCharField(required=False, trim_whitespace=False, allow_blank=True)


class MessageCreateInput(MessageInput):
    text = StrictCharField(
        required=False,
        trim_whitespace=False,
        allow_blank=True,
        help_text=_("Required, unless files are sent (multipart): then it is their caption."),
    )
    sender = serializers.ChoiceField(
        choices=Side.choices,
        required=False,
        help_text=_("Optional; must match the credential's side (bot: user, manager: supp)."),
    )


class MarkViewedInput(StrictSerializer):
    up_to = StrictIntegerField(required=False, help_text=_("Mark messages up to this id."))


class EmptyInput(StrictSerializer):
    """Actions such as assign take no body (an empty object is fine)."""

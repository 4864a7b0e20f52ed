"""WebSocket commands: validate a frame, then call one service function.

A command's fields are checked by the same input definitions as the REST
endpoint that does the same thing (:mod:`support.inputs`), so both
refuse the same JSON; values (lengths, states, permissions) are the service
layer's to judge. Commands spend the credential's request budget as REST
requests do (:mod:`support.ratelimit`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _
from rest_framework import serializers

from support import ratelimit, services
from support.actors import Actor
from support.conf import support_settings
from support.error_bodies import field_errors
from support.exceptions import Invalid, SupportError
from support.inputs import EmptyInput, MarkViewedInput, MessageInput, StrictIntegerField
from support.models import Message, Ticket
from support.serializers import message_data, ticket_data

#: The smallest limit on a text frame, in characters (see :func:`frame_limit`).
MAX_FRAME = 64 * 1024
MAX_REQUEST_ID = 128
#: ``{"type": "ping", "request_id"?: ...}`` is answered ``{"type": "pong", "request_id": ...}``.
PING = "ping"


class BadFrame(SupportError):
    """A frame that is not a JSON object."""

    code = "bad_json"


class FrameTooLarge(SupportError):
    status = 413
    code = "frame_too_large"


class UnknownType(SupportError):
    code = "unknown_type"


Run = Callable[[Actor, int, dict[str, Any]], Ticket | Message]


@dataclass(frozen=True, slots=True)
class Command:
    #: The fields besides ``type``, ``request_id`` and ``ticket_id``.
    input: type[serializers.Serializer[Any]]
    run: Run
    #: whether the ack's data is a message (else the ticket)
    returns_message: bool = False


def _viewed(actor: Actor, ticket_id: int, args: dict[str, Any]) -> Ticket:
    services.mark_viewed(actor, ticket_id, **args)
    return Ticket.objects.get(pk=ticket_id)


COMMANDS: dict[str, Command] = {
    "ticket.assign": Command(EmptyInput, lambda a, t, x: services.assign(a, t)),
    "ticket.unassign": Command(EmptyInput, lambda a, t, x: services.unassign(a, t)),
    "ticket.resolve": Command(EmptyInput, lambda a, t, x: services.resolve(a, t)),
    "ticket.reopen": Command(EmptyInput, lambda a, t, x: services.reopen(a, t)),
    "ticket.message.new": Command(
        MessageInput,
        lambda a, t, x: services.post_message(a, t, **x).message,
        returns_message=True,
    ),
    "ticket.messages.viewed": Command(MarkViewedInput, _viewed),
}

COMMON_FIELDS = ("type", "request_id", "ticket_id")
_TICKET_ID = StrictIntegerField(error_messages={"required": _("This field is required.")})


def frame_limit() -> int:
    """The largest text frame accepted, in characters; also the server's limit to set, in bytes.

    Room for a message of ``SUPPORT_MAX_TEXT_LENGTH`` characters, each written
    as JSON's longest escape (12 characters: a surrogate pair), and for the
    rest of the command: 65,536 for Telegram's 4,096.
    """
    return max(MAX_FRAME, 16 * support_settings.MAX_TEXT_LENGTH)


def parse_frame(text: str) -> dict[str, Any]:
    """The frame as a JSON object, or :class:`BadFrame`."""
    limit = frame_limit()
    if len(text) > limit:
        raise FrameTooLarge(_("Frame larger than %(n)d characters.") % {"n": limit})
    try:
        frame = json.loads(text)
    except (ValueError, RecursionError):
        raise BadFrame(_("Frames must be JSON (and not nested too deeply).")) from None
    if not isinstance(frame, dict):
        raise BadFrame(_("Frames must be JSON objects."))
    return frame


def request_id_of(frame: dict[str, Any]) -> Any:
    """The frame's ``request_id`` if it is usable for an answer, else ``None``."""
    value = frame.get("request_id")
    if isinstance(value, str) and len(value) <= MAX_REQUEST_ID:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


@dataclass(frozen=True, slots=True)
class Call:
    """A validated command: what to run, on which ticket, with which arguments."""

    command: Command
    ticket_id: int
    args: dict[str, Any]


def validate(frame: dict[str, Any]) -> Call:
    """The command a frame names and its arguments; raises on any mismatch."""
    kind = frame.get("type")
    if not isinstance(kind, str):
        raise Invalid.field("type", _("Every command has a string `type`."))
    command = COMMANDS.get(kind)
    if command is None:
        raise UnknownType(_("Unknown command type %(type)r.") % {"type": kind[:64]})
    errors: dict[str, list[str]] = {}
    if "request_id" in frame and request_id_of(frame) is None:
        errors["request_id"] = [_("A string of at most 128 characters, or an integer.")]
    ticket_id = None
    try:
        ticket_id = _TICKET_ID.run_validation(frame.get("ticket_id", serializers.empty))
    except serializers.ValidationError as error:
        errors["ticket_id"] = field_errors({"ticket_id": error.detail})["ticket_id"]
    body = command.input(data={k: v for k, v in frame.items() if k not in COMMON_FIELDS})
    if not body.is_valid():
        errors.update(field_errors(body.errors))
    if errors:
        raise Invalid(_("Invalid command."), errors=errors)
    assert ticket_id is not None
    return Call(command, ticket_id, dict(body.validated_data))


def execute(actor: Actor, call: Call) -> dict[str, Any]:
    """Spend the budget and run a validated command (sync, in a DB thread); the ack's ``data``."""
    ratelimit.spend(actor)
    result = call.command.run(actor, call.ticket_id, call.args)
    if call.command.returns_message:
        assert isinstance(result, Message)
        return message_data(result)
    assert isinstance(result, Ticket)
    return ticket_data(result, reader_side=actor.side)

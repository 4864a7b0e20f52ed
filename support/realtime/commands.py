"""WebSocket commands: validate a frame, then call one service function.

Each command names the fields it takes and their JSON types; anything else
in the frame is refused, as the REST API refuses unknown fields. Values
(lengths, states, permissions) are the service layer's to judge.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from support import services
from support.actors import Actor
from support.exceptions import Invalid, SupportError
from support.models import Message, Ticket
from support.serializers import message_data, ticket_data

#: Largest text frame accepted, in characters (4096-char text plus room for JSON).
MAX_FRAME = 64 * 1024
MAX_REQUEST_ID = 128
#: ``{"type": "ping", "request_id"?: ...}`` is answered ``{"type": "pong", "request_id": ...}``.
PING = "ping"


class BadFrame(SupportError):
    """A frame that is not a JSON object."""

    code = "bad_json"


class FrameTooLarge(SupportError):
    code = "frame_too_large"


class UnknownType(SupportError):
    code = "unknown_type"


@dataclass(frozen=True, slots=True)
class Command:
    #: field name -> (required, accepted JSON type)
    fields: dict[str, tuple[bool, type]]
    run: Callable[[Actor, dict[str, Any]], Ticket | Message]
    #: whether the ack's data is a message (else the ticket)
    returns_message: bool = False


def _viewed(actor: Actor, args: dict[str, Any]) -> Ticket:
    services.mark_viewed(actor, args["ticket_id"], up_to=args.get("up_to"))
    return Ticket.objects.get(pk=args["ticket_id"])


COMMANDS: dict[str, Command] = {
    "ticket.assign": Command({}, lambda a, x: services.assign(a, x["ticket_id"])),
    "ticket.unassign": Command({}, lambda a, x: services.unassign(a, x["ticket_id"])),
    "ticket.resolve": Command({}, lambda a, x: services.resolve(a, x["ticket_id"])),
    "ticket.reopen": Command({}, lambda a, x: services.reopen(a, x["ticket_id"])),
    "ticket.message.new": Command(
        {"text": (True, str), "idempotency_key": (False, str)},
        lambda a, x: (
            services.post_message(
                a, x["ticket_id"], text=x["text"], idempotency_key=x.get("idempotency_key")
            ).message
        ),
        returns_message=True,
    ),
    "ticket.messages.viewed": Command({"up_to": (False, int)}, _viewed),
}

COMMON_FIELDS = {"type", "request_id", "ticket_id"}


def parse_frame(text: str) -> dict[str, Any]:
    """The frame as a JSON object, or :class:`BadFrame`."""
    if len(text) > MAX_FRAME:
        raise FrameTooLarge(_("Frame larger than %(n)d characters.") % {"n": MAX_FRAME})
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


def validate(frame: dict[str, Any]) -> tuple[Command, dict[str, Any]]:
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
    ticket_id = frame.get("ticket_id")
    if isinstance(ticket_id, bool) or not isinstance(ticket_id, int):
        errors["ticket_id"] = [_("Required; a ticket id is an integer.")]
    for name, (required, kind_type) in command.fields.items():
        if name not in frame:
            if required:
                errors[name] = [_("This field is required.")]
            continue
        value = frame[name]
        if (isinstance(value, bool) and kind_type is not bool) or not isinstance(value, kind_type):
            errors[name] = [_("Wrong type.")]
    for name in sorted(set(frame) - COMMON_FIELDS - set(command.fields)):
        errors[name] = [_("Unknown field.")]
    if errors:
        raise Invalid(_("Invalid command."), errors=errors)
    args = {key: value for key, value in frame.items() if key not in ("type", "request_id")}
    return command, args


def execute(actor: Actor, command: Command, args: dict[str, Any]) -> dict[str, Any]:
    """Run a validated command (sync, in a DB thread); the ack's ``data``."""
    result = command.run(actor, args)
    if command.returns_message:
        assert isinstance(result, Message)
        return message_data(result)
    assert isinstance(result, Ticket)
    return ticket_data(result, reader_side=actor.side)

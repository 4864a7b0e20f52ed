"""Events, one model per type, in a union discriminated on ``type``.

An event type this SDK does not know becomes :class:`UnknownEvent` instead
of an error, so a newer server never breaks an older client.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Tag, TypeAdapter

from support_client._models import BaseModel
from support_client.types.notes import Note
from support_client.types.tickets import Message, Rating, TelegramUser, Ticket


class BaseEvent(BaseModel):
    type: str
    #: The cursor of this event: save it, and resume the stream after it.
    event_id: str


class TicketCreated(BaseEvent):
    type: Literal["ticket.created"] = "ticket.created"
    ticket: Ticket


class TicketUpdated(BaseEvent):
    type: Literal["ticket.updated"] = "ticket.updated"
    ticket: Ticket


class TicketAssigned(BaseEvent):
    type: Literal["ticket.assigned"] = "ticket.assigned"
    id: int
    support_manager: int


class TicketUnassigned(BaseEvent):
    type: Literal["ticket.unassigned"] = "ticket.unassigned"
    id: int


class TicketResolved(BaseEvent):
    type: Literal["ticket.resolved"] = "ticket.resolved"
    id: int
    #: Resolved by the desk for being idle (``support_auto_resolve``), not by anyone.
    auto: bool = False


class TicketReopened(BaseEvent):
    type: Literal["ticket.reopened"] = "ticket.reopened"
    id: int


class MessageNew(BaseEvent):
    type: Literal["ticket.message.new"] = "ticket.message.new"
    message: Message


class MessageEdited(BaseEvent):
    """A message's text changed (``message.edited_at``; the old text is in its edits)."""

    type: Literal["ticket.message.edited"] = "ticket.message.edited"
    message: Message


class MessageDeleted(BaseEvent):
    """A manager deleted their reply: message *id* of ticket *ticket* is gone."""

    type: Literal["ticket.message.deleted"] = "ticket.message.deleted"
    ticket: int
    id: int


class TicketRated(BaseEvent):
    """The user rated a resolved ticket (or added the comment to their rating)."""

    type: Literal["ticket.rated"] = "ticket.rated"
    ticket: int
    rating: Rating


class MessagesViewed(BaseEvent):
    type: Literal["ticket.messages.viewed"] = "ticket.messages.viewed"
    ticket: int
    ids: list[int]


class NoteNew(BaseEvent):
    """A manager's private note: only managers' streams carry it, never a bot's."""

    type: Literal["ticket.note.new"] = "ticket.note.new"
    note: Note


class UserUpdated(BaseEvent):
    """A user's Telegram profile changed (as a ticket's ``user`` shows it)."""

    type: Literal["user.updated"] = "user.updated"
    user: TelegramUser


class UserBlocked(BaseEvent):
    """A manager blocked the user (``user.blocked`` is ``True``)."""

    type: Literal["user.blocked"] = "user.blocked"
    user: TelegramUser


class UserUnblocked(BaseEvent):
    """A manager unblocked the user."""

    type: Literal["user.unblocked"] = "user.unblocked"
    user: TelegramUser


class StreamReset(BaseEvent):
    """The cursor was older than the server keeps events: re-read the state over REST."""

    type: Literal["stream.reset"] = "stream.reset"


class UnknownEvent(BaseEvent):
    """An event of a type this SDK does not know; its fields are in ``model_extra``."""


_KNOWN: dict[str, type[BaseEvent]] = {
    model.model_fields["type"].default: model
    for model in (
        TicketCreated,
        TicketUpdated,
        TicketAssigned,
        TicketUnassigned,
        TicketResolved,
        TicketReopened,
        MessageNew,
        MessageEdited,
        MessageDeleted,
        MessagesViewed,
        NoteNew,
        TicketRated,
        UserUpdated,
        UserBlocked,
        UserUnblocked,
        StreamReset,
    )
}


def _event_tag(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return kind if kind in _KNOWN else "unknown"


Event = Annotated[
    Annotated[TicketCreated, Tag("ticket.created")]
    | Annotated[TicketUpdated, Tag("ticket.updated")]
    | Annotated[TicketAssigned, Tag("ticket.assigned")]
    | Annotated[TicketUnassigned, Tag("ticket.unassigned")]
    | Annotated[TicketResolved, Tag("ticket.resolved")]
    | Annotated[TicketReopened, Tag("ticket.reopened")]
    | Annotated[MessageNew, Tag("ticket.message.new")]
    | Annotated[MessageEdited, Tag("ticket.message.edited")]
    | Annotated[MessageDeleted, Tag("ticket.message.deleted")]
    | Annotated[MessagesViewed, Tag("ticket.messages.viewed")]
    | Annotated[NoteNew, Tag("ticket.note.new")]
    | Annotated[TicketRated, Tag("ticket.rated")]
    | Annotated[UserUpdated, Tag("user.updated")]
    | Annotated[UserBlocked, Tag("user.blocked")]
    | Annotated[UserUnblocked, Tag("user.unblocked")]
    | Annotated[StreamReset, Tag("stream.reset")]
    | Annotated[UnknownEvent, Tag("unknown")],
    Discriminator(_event_tag),
]

_EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


def parse_event(data: Any) -> Event:
    """An event from its JSON object (a ``dict``) or JSON text."""
    if isinstance(data, str | bytes):
        return _EVENT_ADAPTER.validate_json(data)
    return _EVENT_ADAPTER.validate_python(data)


class EventPage(BaseModel):
    """One long-poll answer: the events after the cursor given, and the cursor to ask next."""

    events: list[Event]
    cursor: str

"""The SDK's models."""

from support_client.types.events import (
    BaseEvent,
    Event,
    EventPage,
    MessageNew,
    MessagesViewed,
    StreamReset,
    TicketAssigned,
    TicketCreated,
    TicketReopened,
    TicketResolved,
    TicketUnassigned,
    TicketUpdated,
    UnknownEvent,
    parse_event,
)
from support_client.types.tickets import Manager, Message, Sender, TelegramUser, Ticket

__all__ = [
    "BaseEvent",
    "Event",
    "EventPage",
    "Manager",
    "Message",
    "MessageNew",
    "MessagesViewed",
    "Sender",
    "StreamReset",
    "TelegramUser",
    "Ticket",
    "TicketAssigned",
    "TicketCreated",
    "TicketReopened",
    "TicketResolved",
    "TicketUnassigned",
    "TicketUpdated",
    "UnknownEvent",
    "parse_event",
]

"""support_client: the typed SDK for chatlabs-django-support.

It imports neither Django nor ``support``: bots and dashboards install it
with ``pip install "chatlabs-django-support[client]"`` and talk HTTP and
WebSocket only.
"""

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _distribution_version

from support_client._client import AsyncSupportClient, SupportClient
from support_client._exceptions import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    CursorExpiredError,
    InternalServerError,
    InvalidLinkCodeError,
    MethodNotAllowedError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestTooLargeError,
    ServiceUnavailableError,
    StreamError,
    SupportError,
    TelegramNotLinkedError,
    UnprocessableEntityError,
    UnsupportedMediaTypeError,
)
from support_client._realtime import RealtimeConnection
from support_client._streaming import AsyncEventStream, EventStream
from support_client._uploads import FileInput, Upload
from support_client.types import (
    Attachment,
    AttachmentKind,
    Event,
    EventPage,
    LinkCode,
    LinkedManager,
    LinkedManagerAccount,
    Manager,
    Message,
    MessageNew,
    MessagesViewed,
    Note,
    NoteNew,
    Profile,
    SavedReply,
    StreamReset,
    TelegramLink,
    TelegramTopic,
    TelegramUser,
    Ticket,
    TicketAssigned,
    TicketCreated,
    TicketReopened,
    TicketResolved,
    TicketUnassigned,
    TicketUpdated,
    UnknownEvent,
    UserUpdated,
)

try:  # the distribution's version, written once in support/version.py
    __version__ = _distribution_version("chatlabs-django-support")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncEventStream",
    "AsyncSupportClient",
    "Attachment",
    "AttachmentKind",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "CursorExpiredError",
    "Event",
    "EventPage",
    "EventStream",
    "FileInput",
    "InternalServerError",
    "InvalidLinkCodeError",
    "LinkCode",
    "LinkedManager",
    "LinkedManagerAccount",
    "Manager",
    "Message",
    "MessageNew",
    "MessagesViewed",
    "MethodNotAllowedError",
    "NotFoundError",
    "Note",
    "NoteNew",
    "PermissionDeniedError",
    "Profile",
    "RateLimitError",
    "RealtimeConnection",
    "RequestTooLargeError",
    "SavedReply",
    "ServiceUnavailableError",
    "StreamError",
    "StreamReset",
    "SupportClient",
    "SupportError",
    "TelegramLink",
    "TelegramNotLinkedError",
    "TelegramTopic",
    "TelegramUser",
    "Ticket",
    "TicketAssigned",
    "TicketCreated",
    "TicketReopened",
    "TicketResolved",
    "TicketUnassigned",
    "TicketUpdated",
    "UnknownEvent",
    "UnprocessableEntityError",
    "UnsupportedMediaTypeError",
    "Upload",
    "UserUpdated",
    "__version__",
]

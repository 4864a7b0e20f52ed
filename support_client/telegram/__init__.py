"""The Telegram side of the desk, on aiogram 3: ``pip install "chatlabs-django-support[bot]"``.

Two ways to use it:

* **In your own bot**: include :func:`support_router` in your ``Dispatcher``
  beside your handlers; it takes private chats' messages and ``/close`` and
  leaves your commands and your groups alone::

      async with connect(Settings.from_env(os.environ)) as desk:
          dispatcher = Dispatcher()
          dispatcher.include_router(my_router)            # /start, …
          dispatcher.include_router(support_router(desk.support))
          await dispatcher.start_polling(desk.bot, handle_as_tasks=False)

* **On its own**: ``python -m support_client.telegram``, set from the environment.

It imports no Django; ``import support_client`` does not import it (nor aiogram).
See docs/bot.md.
"""

from __future__ import annotations

try:
    import aiogram  # noqa: F401
except ImportError as missing:  # pragma: no cover - depends on the environment
    raise ImportError(
        f"support_client.telegram needs aiogram ({missing}): "
        'pip install "chatlabs-django-support[bot]"'
    ) from None

from support_client.telegram.app import (
    Connected,
    StaffMirror,
    check_desk,
    check_telegram,
    configure_logging,
    connect,
    main,
    make_bot,
    run,
    serve,
)
from support_client.telegram.bot import SupportBot
from support_client.telegram.config import ConfigError, Settings
from support_client.telegram.desk import Desk, Known, Parcel, idempotency_key, ticket_title
from support_client.telegram.media import (
    TELEGRAM_CAPTION_LIMIT,
    TELEGRAM_DOWNLOAD_LIMIT,
    TELEGRAM_PHOTO_LIMIT,
    TELEGRAM_TEXT_LIMIT,
    Incoming,
    Media,
    Outgoing,
    UserProfile,
    incoming,
    media_of,
    text_of,
)
from support_client.telegram.ratings import Press, Ratings, parse_rating, rating_data
from support_client.telegram.relay import Relay
from support_client.telegram.router import greeting_router, is_command, support_router
from support_client.telegram.state import (
    JsonFileState,
    MemoryReplies,
    RatingPrompt,
    ReplyStore,
    SentReply,
    StateStore,
)
from support_client.telegram.telegram import (
    Delivery,
    DownloadFailed,
    FileTooBig,
    Telegram,
    TelegramActions,
    TelegramChat,
    split_text,
    utf16_length,
)
from support_client.telegram.texts import TEXTS, Language, language_of, text_for

__all__ = [
    "TELEGRAM_CAPTION_LIMIT",
    "TELEGRAM_DOWNLOAD_LIMIT",
    "TELEGRAM_PHOTO_LIMIT",
    "TELEGRAM_TEXT_LIMIT",
    "TEXTS",
    "ConfigError",
    "Connected",
    "Delivery",
    "Desk",
    "DownloadFailed",
    "FileTooBig",
    "Incoming",
    "JsonFileState",
    "Known",
    "Language",
    "Media",
    "MemoryReplies",
    "Outgoing",
    "Parcel",
    "Press",
    "RatingPrompt",
    "Ratings",
    "Relay",
    "ReplyStore",
    "SentReply",
    "Settings",
    "StaffMirror",
    "StateStore",
    "SupportBot",
    "Telegram",
    "TelegramActions",
    "TelegramChat",
    "UserProfile",
    "check_desk",
    "check_telegram",
    "configure_logging",
    "connect",
    "greeting_router",
    "idempotency_key",
    "incoming",
    "is_command",
    "language_of",
    "main",
    "make_bot",
    "media_of",
    "parse_rating",
    "rating_data",
    "run",
    "serve",
    "split_text",
    "support_router",
    "text_for",
    "text_of",
    "ticket_title",
    "utf16_length",
]

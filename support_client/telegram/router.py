"""The aiogram routers: :func:`support_router` for any bot, :func:`greeting_router` for ours.

A project includes :func:`support_router` in its own ``Dispatcher``. It takes
only private chats' messages that are not commands (text, files, locations,
contacts; other kinds a user sends, such as a poll or a dice, get a short
answer) and ``/close``, their edits (text and captions), the presses of its
rating buttons (callback data ``support-rate:…``; other callbacks are the
project's) and the replies to its comment questions. A command it does not
own (``/start``, ``/help``, ``/link``, the project's own), service messages
(payments, web app data, shared users, …) and every other chat (groups,
channels) pass it by, so a project's handler gets them whether its router is
included before or after.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from aiogram import Dispatcher, F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery
from aiogram.types import Message as TelegramMessage

from support_client.telegram.bot import SupportBot
from support_client.telegram.media import Incoming, incoming
from support_client.telegram.ratings import RATE_PREFIX, Press

#: What the desk carries (text, files, places, contacts)...
CARRIED = frozenset(
    {
        "text", "photo", "video", "video_note", "voice", "audio", "animation", "sticker",
        "document", "location", "venue", "contact",
    }
)  # fmt: skip
#: ...and what a user may send that it does not: answered with ``not_supported``.
NOT_CARRIED = frozenset(
    {"poll", "dice", "game", "story", "paid_media", "live_photo", "checklist", "giveaway"}
)


def is_command(message: TelegramMessage) -> bool:
    """Whether *message* starts with a bot command (``/name``), as Telegram marks one."""
    entities = message.entities if message.text is not None else message.caption_entities
    return any(e.type == "bot_command" and e.offset == 0 for e in entities or ())


def for_the_desk(message: TelegramMessage) -> bool:
    """A user's message to post (or to answer as not carried): not a command, not service."""
    kind = message.content_type  # a str enum: compares (and hashes) as its value
    return (kind in CARRIED or kind in NOT_CARRIED) and not is_command(message)


#: What an edit can change that the desk keeps: a text, or a file's caption (a live
#: location's updates, also edits, are not the desk's).
EDITABLE = frozenset({"text", "photo", "video", "voice", "audio", "animation", "document"})


def for_the_edit(message: TelegramMessage) -> bool:
    """An edited message whose new text (or caption) goes to the desk."""
    return message.content_type in EDITABLE and not is_command(message)


def _adapt(
    handler: Callable[[Incoming], Awaitable[None]],
) -> Callable[[TelegramMessage], Awaitable[None]]:
    async def handle(message: TelegramMessage) -> None:
        parsed = incoming(message)
        if parsed is not None:
            await handler(parsed)

    return handle


def support_router(support: SupportBot, *, relay: bool = True, name: str = "support") -> Router:
    """A router that carries private chats to the desk through *support*.

    With *relay* (the default) the router's startup starts :meth:`SupportBot.run`
    (managers' replies to users, albums posted) and its shutdown stops it; if
    it fails (the desk refuses the key), the error is logged, kept in
    :attr:`SupportBot.failure`, and polling stops. Poll with
    ``handle_as_tasks=False`` so that an update is confirmed to Telegram only
    once it is handled (what makes a restart safe).
    """
    router = Router(name=name)
    router.message.filter(F.chat.type == "private")
    router.message.register(_adapt(support.on_close), Command("close"))
    router.message.register(support.on_rating_comment, support.is_rating_comment)
    router.message.register(_adapt(support.on_message), for_the_desk)
    router.edited_message.filter(F.chat.type == "private")
    router.edited_message.register(_adapt(support.on_edit), for_the_edit)

    async def pressed(query: CallbackQuery) -> None:
        await support.on_press(Press.of(query))

    router.callback_query.register(pressed, F.data.startswith(RATE_PREFIX))
    if relay:
        stopping: set[asyncio.Task[None]] = set()

        async def started(dispatcher: Dispatcher) -> None:
            def failed(_error: BaseException) -> None:
                task = asyncio.create_task(_stop_polling(dispatcher))
                stopping.add(task)
                task.add_done_callback(stopping.discard)

            support.start(on_failure=failed)

        async def stopped() -> None:
            await support.stop()

        router.startup.register(started)
        router.shutdown.register(stopped)
    return router


async def _stop_polling(dispatcher: Dispatcher) -> None:
    with contextlib.suppress(RuntimeError):  # not polling (any more)
        await dispatcher.stop_polling()


def greeting_router(support: SupportBot, *, name: str = "support-greeting") -> Router:
    """``/start`` and ``/help`` in private chats, answered with what the chat is for:
    for the bot that runs alone (``python -m support_client.telegram``); a project's
    bot has its own."""
    router = Router(name=name)
    router.message.filter(F.chat.type == "private")
    router.message.register(_adapt(support.on_start), Command("start", "help"))

    async def stray(query: CallbackQuery) -> None:
        """A button no handler took (old, or not the bot's): answered, so it stops spinning."""
        await support.on_press(Press.of(query))

    router.callback_query.register(stray)
    return router

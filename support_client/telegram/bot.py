"""The support side of a Telegram bot: :class:`SupportBot` joins the posting and the relay."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from aiogram import Bot
from aiogram.types import Message as TelegramMessage

from support_client import AsyncSupportClient, Event
from support_client.telegram.config import DEFAULT_DELIVERY_TIMEOUT, ConfigError
from support_client.telegram.desk import ALBUM_WINDOW, REFUSED, Desk, Known
from support_client.telegram.media import Incoming
from support_client.telegram.ratings import Press, Ratings
from support_client.telegram.relay import Relay
from support_client.telegram.state import MemoryReplies, ReplyStore, StateStore
from support_client.telegram.telegram import Telegram, TelegramChat

log = logging.getLogger("support_client.telegram")


class SupportBot:
    """Telegram users on one side, the support desk on the other.

    *telegram* is an aiogram ``Bot`` (wrapped in :class:`Telegram`) or anything
    with :class:`TelegramChat`'s methods; *state* is any :class:`StateStore`.
    :attr:`desk` posts users' messages (the router's handlers call it),
    :attr:`relay` sends the desk's events to users, :attr:`ratings` asks for and
    stores ratings; :meth:`run` runs the relay and the albums' poster
    (:func:`support_router` starts it with polling).

    *blocked_text* is what a user the desk refuses as blocked is told, at most
    once an hour (``None``: nothing). *ask_rating* (on by default) asks users to
    rate each resolved ticket.
    """

    def __init__(
        self,
        client: AsyncSupportClient,
        telegram: TelegramChat | Bot,
        state: StateStore,
        *,
        delivery_timeout: float = DEFAULT_DELIVERY_TIMEOUT,
        retry_delay: float = 1.0,
        album_window: float = ALBUM_WINDOW,
        blocked_text: str | None = None,
        ask_rating: bool = True,
    ) -> None:
        self.client = client
        self.telegram: TelegramChat = Telegram(telegram) if isinstance(telegram, Bot) else telegram
        self.state = state
        self.known = Known()
        #: Which Telegram messages replies became, and the comment questions waiting.
        self.replies: ReplyStore = state if isinstance(state, ReplyStore) else MemoryReplies()
        self.ratings = Ratings(client, self.telegram, state, self.replies, enabled=ask_rating)
        self.desk = Desk(
            client,
            self.telegram,
            state,
            self.known,
            delivery_timeout=delivery_timeout,
            retry_delay=retry_delay,
            album_window=album_window,
            blocked_text=blocked_text,
        )
        self.relay = Relay(
            client,
            self.telegram,
            state,
            self.known,
            retry_delay=retry_delay,
            replies=self.replies,
            ratings=self.ratings,
        )
        #: Why :meth:`run` stopped, when it failed (a refused key: a :class:`ConfigError`).
        self.failure: BaseException | None = None
        self._task: asyncio.Task[None] | None = None

    # -- what the router calls ---------------------------------------------------------

    async def on_start(self, incoming: Incoming) -> None:
        await self.desk.on_start(incoming)

    async def on_message(self, incoming: Incoming) -> None:
        await self.desk.on_message(incoming)

    async def on_close(self, incoming: Incoming) -> None:
        await self.desk.on_close(incoming)

    async def on_edit(self, incoming: Incoming) -> None:
        await self.desk.on_edit(incoming)

    async def on_press(self, press: Press) -> None:
        await self.ratings.on_press(press)

    async def is_rating_comment(self, message: TelegramMessage) -> bool:
        return await self.ratings.is_comment(message)

    async def on_rating_comment(self, message: TelegramMessage) -> None:
        await self.ratings.on_comment(message)

    async def handle_event(self, event: Event) -> None:
        await self.relay.handle_event(event)

    # -- running -----------------------------------------------------------------------

    async def run(self) -> None:
        """Follow the desk's events and post finished albums, until cancelled.

        The first of the two to fail stops the other and raises; a key the desk
        stopped accepting is a :class:`ConfigError`.
        """
        tasks = [
            asyncio.create_task(self.relay.follow(), name="support-relay"),
            asyncio.create_task(self.desk.follow_albums(), name="support-albums"),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                failure = task.exception()
                if isinstance(failure, REFUSED):
                    raise ConfigError(f"the desk stopped accepting SUPPORT_API_KEY: {failure}")
                if failure is not None:
                    raise failure
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def start(self, on_failure: Callable[[BaseException], object] | None = None) -> None:
        """:meth:`run` in a task; *on_failure* is called with the error if it fails."""
        if self._task is not None and not self._task.done():
            return
        self.failure = None

        def ended(task: asyncio.Task[None]) -> None:
            if task.cancelled() or task.exception() is None:
                return
            self.failure = task.exception()
            log.error("the support relay stopped: %s", self.failure, exc_info=self.failure)
            if on_failure is not None and self.failure is not None:
                on_failure(self.failure)

        self._task = asyncio.create_task(self.run(), name="support")
        self._task.add_done_callback(ended)

    async def stop(self) -> None:
        """Cancel :meth:`start`'s task and wait for it (its failure stays in :attr:`failure`)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

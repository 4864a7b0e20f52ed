"""Running a bot: connect and check (:func:`connect`), poll (:func:`serve`), and
``python -m support_client.telegram`` (:func:`run`, :func:`main`).

A setting that is missing or refused (a malformed token, a token Telegram
refuses, a key the desk refuses, a URL where the app is not mounted, a state
file that can't be read or written) is a :class:`ConfigError`: :func:`main`
prints it as one line on stderr and returns 2.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from aiogram import Bot, Dispatcher, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramNetworkError,
    TelegramNotFound,
    TelegramServerError,
    TelegramUnauthorizedError,
)

from support_client import AsyncSupportClient, NotFoundError
from support_client.telegram.bot import SupportBot
from support_client.telegram.config import ConfigError, Settings
from support_client.telegram.desk import REFUSED, TRANSIENT
from support_client.telegram.router import greeting_router, support_router
from support_client.telegram.state import JsonFileState, StateStore
from support_client.telegram.telegram import Telegram

log = logging.getLogger("support_client.telegram")


def make_bot(settings: Settings) -> Bot:
    """An aiogram ``Bot`` for the token, on ``TELEGRAM_API_URL``'s server when set."""
    session = (
        AiohttpSession(api=TelegramAPIServer.from_base(settings.api_url))
        if settings.api_url
        else AiohttpSession()
    )
    return Bot(settings.token, session=session)


async def check_desk(client: AsyncSupportClient, settings: Settings) -> str | None:
    """The desk's present cursor, or None while it is unreachable.

    Refused credentials and wrong mounts stop the bot; an unreachable desk does not.
    """
    try:
        return (await client.events.poll(timeout=0)).cursor
    except REFUSED:
        raise ConfigError(
            f"SUPPORT_API_KEY was refused by the desk at {settings.base_url}"
        ) from None
    except NotFoundError:
        raise ConfigError(
            f"SUPPORT_BASE_URL {settings.base_url} is not where the support app is mounted "
            "(events/ answered 404)"
        ) from None
    except TRANSIENT as error:
        log.warning("the desk at %s is not reachable yet (%s); going on", settings.base_url, error)
        return None


async def check_telegram(bot: Bot, settings: Settings) -> None:
    """The token works (``getMe``); a refused token or an unreachable API is a ConfigError."""
    where = settings.api_url or "api.telegram.org"
    for attempt in range(3):
        try:
            me = await bot.get_me()
        except TelegramUnauthorizedError:
            raise ConfigError(f"TELEGRAM_BOT_TOKEN was refused by {where}") from None
        except (TelegramNetworkError, TelegramServerError, TelegramNotFound) as error:
            if attempt == 2:
                raise ConfigError(
                    f"cannot reach the Telegram Bot API at {where}: {error}"
                ) from None
            await asyncio.sleep(1 + attempt)
        else:
            log.info("running as @%s", me.username)
            return


@dataclass(frozen=True)
class Connected:
    """What :func:`connect` opened: the aiogram bot, the desk's client, the state, and
    the :class:`SupportBot` made of them."""

    bot: Bot
    client: AsyncSupportClient
    state: StateStore
    support: SupportBot


@asynccontextmanager
async def connect(
    settings: Settings, *, state: StateStore | None = None
) -> AsyncIterator[Connected]:
    """Open and check everything *settings* name, and close it after.

    *state* replaces the default :class:`JsonFileState` at ``SUPPORT_BOT_STATE``.
    On a first start the relay begins at the desk's present cursor. When the
    block ends, a failure of the relay (see :attr:`SupportBot.failure`) is raised.
    """
    store = state if state is not None else await JsonFileState.open(settings.state_path)
    bot = make_bot(settings)
    try:
        async with AsyncSupportClient(settings.base_url, api_key=settings.api_key) as client:
            await check_telegram(bot, settings)
            present = await check_desk(client, settings)
            if present is not None and await store.get_cursor() is None:
                await store.set_cursor(present)  # a first start: from now on
            support = SupportBot(
                client,
                Telegram(bot),
                store,
                delivery_timeout=settings.delivery_timeout,
                blocked_text=settings.blocked_text,
            )
            yield Connected(bot, client, store, support)
            if support.failure is not None:
                raise support.failure
    finally:
        await bot.session.close()


async def serve(dispatcher: Dispatcher, bot: Bot, *beside: Coroutine[Any, Any, None]) -> None:
    """Poll *bot* into *dispatcher* one update at a time (each confirmed to Telegram only
    once handled), with the *beside* coroutines running until polling stops; the first
    of them to fail stops everything and its error is raised."""
    polling = asyncio.create_task(
        dispatcher.start_polling(bot, handle_as_tasks=False, close_bot_session=False),
        name="telegram",
    )
    jobs = [asyncio.create_task(job) for job in beside]
    try:
        done, _ = await asyncio.wait([polling, *jobs], return_when=asyncio.FIRST_COMPLETED)
    finally:
        for job in jobs:
            job.cancel()
        await asyncio.gather(*jobs, return_exceptions=True)
        await _stop_polling(dispatcher, polling)
    for task in [*jobs, polling]:  # a job's failure is why polling stopped: it goes first
        failure = None if task not in done or task.cancelled() else task.exception()
        if failure is not None:
            raise failure


async def _stop_polling(dispatcher: Dispatcher, polling: asyncio.Task[None]) -> None:
    """Stop *polling* the way aiogram means it to stop, so its own tasks have ended
    before the bot's session closes (cancelling ``start_polling`` leaves its inner
    polling task running into a closed session, which logs a network error after
    the bot's last line); cancelled when it has not started or does not stop."""
    if polling.done():
        return
    try:
        await asyncio.wait_for(dispatcher.stop_polling(), timeout=10)
    except (RuntimeError, TimeoutError):  # not started yet, or stuck in a handler
        polling.cancel()
    await asyncio.gather(polling, return_exceptions=True)


class StaffMirror(Protocol):
    """What the app needs of the staff group (``support_client.telegram.staff.StaffGroup``)."""

    def router(self) -> Router: ...

    async def check(self) -> str | None: ...

    async def run(self) -> None: ...


def staff_group(connected: Connected, chat_id: int) -> StaffMirror:
    """The staff group's mirror for *chat_id*, made of what *connected* opened."""
    try:
        module = importlib.import_module("support_client.telegram.staff")
    except ModuleNotFoundError as missing:
        if missing.name != "support_client.telegram.staff":
            raise
        raise ConfigError(
            "SUPPORT_STAFF_CHAT_ID is set but this installation has no staff group "
            "(support_client.telegram.staff is missing)"
        ) from None
    factory: Callable[..., StaffMirror] = module.StaffGroup
    return factory(
        bot=connected.bot, client=connected.client, state=connected.state, chat_id=chat_id
    )


async def run(settings: Settings, *, state: StateStore | None = None) -> None:
    """The bot on its own: ``/start`` and ``/help`` greet, everything else is the
    desk's; with ``SUPPORT_STAFF_CHAT_ID``, the staff group's router goes first and
    its mirror runs beside the relay."""
    async with connect(settings, state=state) as connected:
        dispatcher = Dispatcher()
        beside: list[Coroutine[Any, Any, None]] = []
        if settings.staff_chat_id is not None:
            staff = staff_group(connected, settings.staff_chat_id)
            # Checked before polling starts: a group that cannot be used stops the
            # bot with its one line, never racing the first getUpdates/getMe.
            problem = await staff.check()
            if problem is not None:
                raise ConfigError(problem)
            dispatcher.include_router(staff.router())
            beside.append(staff.run())
        dispatcher.include_router(support_router(connected.support))
        dispatcher.include_router(greeting_router(connected.support))
        await serve(dispatcher, connected.bot, *beside)


def configure_logging() -> None:
    """INFO lines with the time on stderr; httpx's line per request left out."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)


def main(
    env: Mapping[str, str] | None = None,
    *,
    runner: Callable[[Settings], Awaitable[None]] = run,
    prog: str = "support_client.telegram",
) -> int:
    """Run *runner* with the settings of *env* (``os.environ``) until SIGINT/SIGTERM.

    0 when stopped; 2, after one line on stderr (``<prog>: <what is wrong>``),
    when a setting is wrong.
    """
    try:
        settings = Settings.from_env(os.environ if env is None else env)
        asyncio.run(_awaited(runner(settings)))
    except ConfigError as error:
        sys.stderr.write(f"{prog}: {error}\n")
        return 2
    except KeyboardInterrupt:
        pass
    return 0


async def _awaited(awaitable: Awaitable[None]) -> None:
    await awaitable

"""``support_router`` in a project's own Dispatcher, driven through the fake Bot API.

The project has its own ``/start`` and ``/help`` and a handler for its groups;
the router takes private chats' messages and ``/close`` and nothing else,
whether the project's router is included before or after it. The desk is
mocked with respx (the SDK's httpx); Telegram is tests/fake_telegram.py on
loopback, which aiogram's aiohttp session talks to as to the Bot API.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from itertools import count
from typing import Any

import pytest
import respx
from aiogram import Bot, Dispatcher, F, Router
from aiogram.filters import Command, CommandStart
from aiogram.types import Message as TelegramMessage

from support_client import telegram as tg
from support_client.telegram.router import for_the_desk
from tests import telegram_fixtures
from tests.fake_telegram import FakeTelegram
from tests.sdk.common import TICKET

# The shared fixtures (tests/telegram_fixtures.py), where pytest looks for them.
telegram, desk, bot_token, bot, support = (
    telegram_fixtures.telegram,
    telegram_fixtures.desk,
    telegram_fixtures.bot_token,
    telegram_fixtures.bot,
    telegram_fixtures.support,
)

USER = 5001
GROUP = -1001234
GREETING = "Welcome to Acme!"
HELP = "Acme help: write to us here."

_ids = count(1)


def update(chat: dict[str, Any], text: str | None = None, **content: Any) -> dict[str, Any]:
    """An update as Telegram sends it: a message in *chat* from the user, commands marked."""
    message: dict[str, Any] = {
        "message_id": next(_ids),
        "date": 0,
        "chat": chat,
        "from": {"id": USER, "is_bot": False, "first_name": "Ann", "language_code": "en"},
        **content,
    }
    if text is not None:
        message["text"] = text
        if text.startswith("/"):
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": len(text.split()[0])}
            ]
    return {"update_id": next(_ids), "message": message}


PRIVATE = {"id": USER, "type": "private", "first_name": "Ann"}
IN_GROUP = {"id": GROUP, "type": "supergroup", "title": "Acme staff"}


def project_router(seen: list[str]) -> Router:
    """A project's own handlers: greetings and help, and whatever its groups say."""
    router = Router(name="acme")

    @router.message(CommandStart())
    async def start(message: TelegramMessage) -> None:
        await message.answer(GREETING)

    @router.message(Command("help"))
    async def help_(message: TelegramMessage) -> None:
        await message.answer(HELP)

    @router.message(F.chat.type != "private")
    async def group(message: TelegramMessage) -> None:
        seen.append(message.text or "")

    return router


async def until(what: str, check: Callable[[], bool], timeout: float = 15) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.02)


async def polled(
    dispatcher: Dispatcher,
    bot: Bot,
    telegram: FakeTelegram,
    updates: list[dict[str, Any]],
    done: Callable[[], bool],
) -> None:
    """Poll *bot* into *dispatcher*, push *updates*, and stop once *done* (what the last
    one does: they are handled one after another)."""
    polling = asyncio.create_task(
        dispatcher.start_polling(bot, handle_as_tasks=False, handle_signals=False)
    )
    try:
        await until("polling", lambda: "getupdates" in telegram.methods)
        for one in updates:
            telegram.push(one)
        await until("the updates handled", done)
    finally:
        await dispatcher.stop_polling()
        await polling


@pytest.mark.parametrize("project_first", [True, False], ids=["project-first", "router-first"])
async def test_a_project_bot_with_its_own_commands_and_the_router(
    bot: Bot,
    support: tg.SupportBot,
    telegram: FakeTelegram,
    desk: respx.MockRouter,
    project_first: bool,
) -> None:
    listed = desk.get("tickets/").respond(json=[])
    opened = desk.post("tickets/").respond(201, json={**TICKET, "resolved": False})
    seen: list[str] = []
    routers = [project_router(seen), tg.support_router(support, relay=False)]
    dispatcher = Dispatcher()
    for router in routers if project_first else reversed(routers):
        dispatcher.include_router(router)

    opened_text = tg.text_for("en", "opened", id=TICKET["id"])
    updates = [
        update(PRIVATE, "/start"),
        update(PRIVATE, "/help"),
        update(PRIVATE, "/link K7QM-2XPA"),  # the staff helper's: not the desk's
        update(PRIVATE, "/unknown"),
        update(IN_GROUP, "hello, team"),
        update(IN_GROUP, "/close"),
        update(PRIVATE, "My app crashes"),
    ]
    await polled(dispatcher, bot, telegram, updates, lambda: opened_text in telegram.texts_to(USER))

    texts = telegram.texts_to(USER)
    assert texts == [GREETING, HELP, opened_text]
    assert seen == ["hello, team", "/close"]
    assert opened.call_count == 1  # only the plain message reached the desk
    assert json.loads(opened.calls.last.request.content)["text"] == "My app crashes"
    assert listed.call_count == 2  # the open tickets, then the latest (to reopen): none


PAYMENT = {
    "currency": "EUR",
    "total_amount": 100,
    "invoice_payload": "x",
    "telegram_payment_charge_id": "t",
    "provider_payment_charge_id": "p",
}
PHOTO = [{"file_id": "p", "file_unique_id": "up", "width": 1, "height": 1}]
TAKEN: list[tuple[str, str | None, dict[str, Any], bool]] = [
    ("text", "hello", {}, True),
    ("foreign-command", "/start", {}, False),
    ("foreign-addressed", "/start@desk_test_bot", {}, False),
    ("command-inside", "see /start", {}, True),  # a command only at the start
    ("slash-not-command", "/usr/bin is gone", {"entities": []}, True),
    ("photo", None, {"photo": PHOTO}, True),
    ("photo-command-caption", None, {"photo": PHOTO, "caption": "/start",
     "caption_entities": [{"type": "bot_command", "offset": 0, "length": 6}]}, False),
    ("dice", None, {"dice": {"emoji": "🎲", "value": 3}}, True),  # answered: not carried
    ("payment", None, {"successful_payment": PAYMENT}, False),  # the project's
    ("web-app-data", None, {"web_app_data": {"data": "x", "button_text": "Open"}}, False),
    ("service", None, {"pinned_message": {"message_id": 1, "date": 0, "chat": PRIVATE}}, False),
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "content", "taken"), [t[1:] for t in TAKEN], ids=[t[0] for t in TAKEN]
)
def test_what_the_router_posts_from_a_private_chat(
    text: str | None, content: dict[str, Any], taken: bool
) -> None:
    raw = update(PRIVATE, text)["message"]
    message = TelegramMessage.model_validate({**raw, **content})
    assert for_the_desk(message) is taken


async def test_the_router_runs_the_relay_while_polling_and_stops_it_after(
    bot: Bot, support: tg.SupportBot, telegram: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    running = asyncio.Event()
    stopped = asyncio.Event()

    async def run() -> None:
        running.set()
        try:
            await asyncio.Event().wait()
        finally:
            stopped.set()

    monkeypatch.setattr(support, "run", run)
    dispatcher = Dispatcher()
    dispatcher.include_router(tg.support_router(support))

    await polled(dispatcher, bot, telegram, [], running.is_set)

    assert stopped.is_set()
    assert support.failure is None


async def test_a_relay_that_fails_stops_polling_and_is_kept(
    bot: Bot, support: tg.SupportBot, telegram: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def run() -> None:
        raise tg.ConfigError("the desk stopped accepting SUPPORT_API_KEY: 401")

    monkeypatch.setattr(support, "run", run)
    dispatcher = Dispatcher()
    dispatcher.include_router(tg.support_router(support))

    async with asyncio.timeout(15):
        await dispatcher.start_polling(bot, handle_as_tasks=False, handle_signals=False)

    assert str(support.failure) == "the desk stopped accepting SUPPORT_API_KEY: 401"

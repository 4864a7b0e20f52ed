"""Fixtures the Telegram tests share: the fake Bot API, an aiogram Bot on it, the desk
mocked with respx (the SDK's httpx) and a SupportBot on both.

pytest finds fixtures in a test module's namespace, so a module takes them by naming
them there (``telegram, bot = telegram_fixtures.telegram, telegram_fixtures.bot``; an
assignment, not an import, which the tests' own arguments ``telegram`` and ``bot`` would
shadow). A module that needs another one defines its own by that name: a fixture asks
for the others by name, so the module's own ``telegram`` or ``bot_token`` is the one
the shared ``bot`` gets.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import respx
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from support_client import AsyncSupportClient
from support_client import telegram as tg
from tests.fake_telegram import FakeTelegram

BASE = "http://desk.test/support/"
TOKEN = "4242:TEST-token_for-the-fake-api"


@pytest.fixture
def bot_token() -> str:
    """The token the ``bot`` fixture's Bot has."""
    return TOKEN


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    """The fake Bot API on loopback."""
    fake = FakeTelegram().start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def desk() -> Iterator[respx.MockRouter]:
    """The desk at BASE, mocked with respx."""
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router


@pytest.fixture
async def bot(telegram: FakeTelegram, bot_token: str) -> AsyncIterator[Bot]:
    """aiogram's Bot, talking to the fake Bot API."""
    made = Bot(bot_token, session=AiohttpSession(api=TelegramAPIServer.from_base(telegram.url)))
    try:
        yield made
    finally:
        await made.session.close()


@pytest.fixture
async def support(bot: Bot, tmp_path: Path) -> AsyncIterator[tg.SupportBot]:
    """A SupportBot on the fake Telegram and the mocked desk, its state in tmp_path."""
    async with AsyncSupportClient(BASE, api_key="k", max_retries=0) as client:
        state = tg.JsonFileState(tmp_path / "state.json")
        yield tg.SupportBot(client, bot, state, delivery_timeout=0, retry_delay=0)

"""The SDK's ``client.telegram`` and ``client.acting(…)`` against the live example server.

A manager links their Telegram account with a code, a staff bot confirms it and
answers for them, stores a ticket's topic once; the refusals come back as the
SDK's classes. Sync and async, one server for the module.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support_client import (
    AsyncSupportClient,
    InvalidLinkCodeError,
    PermissionDeniedError,
    SupportClient,
    TelegramNotLinkedError,
    TelegramTopic,
)
from tests.harness.server import Credentials, LiveServer, running_server

pytestmark = pytest.mark.live

TG = 4242


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[LiveServer, Credentials, str]]:
    with running_server(tmp_path_factory.mktemp("telegram-links"), tickets=3) as (live, creds):
        staff_key = live.manage("support_create_bot_key", "--staff", "staff").strip().splitlines()
        yield live, creds, staff_key[-1]


def test_link_act_and_store_a_topic(server: tuple[LiveServer, Credentials, str]) -> None:
    live, credentials, staff_key = server
    with (
        SupportClient(live.api, token=credentials.managers[0]) as desk,
        SupportClient(live.api, api_key=staff_key) as staff,
        SupportClient(live.api, api_key=credentials.bot_key) as bot,
    ):
        assert desk.telegram.link().telegram_id is None
        code = desk.telegram.create_link_code()
        linked = staff.telegram.confirm_link(code.code.lower().replace("-", ""), TG)
        assert (linked.manager.id, linked.telegram_id) == (credentials.manager_ids[0], TG)
        with pytest.raises(InvalidLinkCodeError):
            staff.telegram.confirm_link(code.code, TG)  # used
        assert desk.telegram.link().telegram_id == TG

        acting = staff.acting(TG)
        message = acting.messages.send(1, "On it, from the staff group")
        assert (message.sender, message.author, message.via_staff_chat) == (
            "supp",
            credentials.manager_ids[0],
            True,
        )
        ticket = staff.tickets.get(1)
        assert ticket.support_manager is not None
        assert ticket.support_manager.id == credentials.manager_ids[0]
        assert acting.tickets.resolve(1).resolved is True

        with pytest.raises(TelegramNotLinkedError):
            staff.acting(TG + 1).messages.send(2, "who?")
        with pytest.raises(PermissionDeniedError) as plain:
            bot.acting(TG).messages.send(2, "not staff")
        assert not isinstance(plain.value, TelegramNotLinkedError)
        with pytest.raises(PermissionDeniedError):
            bot.telegram.set_topic(2, chat_id=-100, topic_id=5)

        first = staff.telegram.set_topic(2, chat_id=-100, topic_id=5)
        second = acting.telegram.set_topic(2, chat_id=-100, topic_id=6)
        assert first == second == TelegramTopic(chat_id=-100, topic_id=5)
        replaced = staff.telegram.set_topic(2, chat_id=-100, topic_id=7, replaces=5)
        assert replaced.topic_id == 7
        assert staff.tickets.get(2).telegram_topic == replaced

        desk.telegram.unlink()
        with pytest.raises(TelegramNotLinkedError):
            acting.messages.send(2, "after unlinking")
        assert all(m.text != "after unlinking" for m in staff.messages.list(2))


async def test_the_async_client_acts_too(server: tuple[LiveServer, Credentials, str]) -> None:
    live, credentials, staff_key = server
    async with (
        AsyncSupportClient(live.api, token=credentials.managers[1]) as desk,
        AsyncSupportClient(live.api, api_key=staff_key) as staff,
    ):
        code = await desk.telegram.create_link_code()
        await staff.telegram.confirm_link(code.code, TG + 10)
        message = await staff.acting(TG + 10).messages.send(3, "async reply")
        assert (message.author, message.via_staff_chat) == (credentials.manager_ids[1], True)
        assert (await desk.telegram.link()).telegram_id == TG + 10

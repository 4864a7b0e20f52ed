"""The fake Bot API's forum groups, driven through aiogram as a bot would drive Telegram."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError, TelegramRetryAfter
from aiogram.types import BufferedInputFile, ChatMemberAdministrator, ChatMemberMember

from tests import telegram_fixtures
from tests.fake_telegram import BOT_ID, FakeTelegram, group_message, member

GROUP = -1001234567890
TOKEN = "4242:TEST-token"


@pytest.fixture
def bot_token() -> str:
    """The token of the shared ``bot`` fixture's Bot."""
    return TOKEN


# The shared fixtures (tests/telegram_fixtures.py), where pytest looks for them.
telegram, bot = telegram_fixtures.telegram, telegram_fixtures.bot


async def test_a_forum_group_and_the_bots_rights(telegram: FakeTelegram, bot: Bot) -> None:
    telegram.add_group(GROUP)
    chat = await bot.get_chat(GROUP)
    assert (chat.type, chat.is_forum) == ("supergroup", True)
    me = await bot.get_chat_member(GROUP, BOT_ID)
    assert isinstance(me, ChatMemberAdministrator)
    assert me.can_manage_topics
    telegram.add_group(GROUP, is_forum=False, can_manage_topics=False)
    assert not (await bot.get_chat(GROUP)).is_forum
    me = await bot.get_chat_member(GROUP, BOT_ID)
    assert isinstance(me, ChatMemberAdministrator)
    assert not me.can_manage_topics
    telegram.add_group(GROUP, bot_status="member")
    assert isinstance(await bot.get_chat_member(GROUP, BOT_ID), ChatMemberMember)
    telegram.add_group(GROUP, member_error="Bad Request: member list is inaccessible")
    with pytest.raises(TelegramBadRequest, match="inaccessible"):
        await bot.get_chat_member(GROUP, BOT_ID)
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.get_chat(-100999)


async def test_topics_live_and_die_as_on_telegram(telegram: FakeTelegram, bot: Bot) -> None:
    telegram.add_group(GROUP)
    topic = await bot.create_forum_topic(GROUP, "#1 · Ann · help")
    thread = topic.message_thread_id
    sent = await bot.send_message(GROUP, "hello", message_thread_id=thread)
    assert (sent.message_thread_id, sent.is_topic_message) == (thread, True)
    await bot.send_document(
        GROUP, BufferedInputFile(b"PDF", "a.pdf"), message_thread_id=thread, caption="c"
    )
    await bot.copy_message(GROUP, 5001, 7, message_thread_id=thread)
    assert telegram.texts_in(GROUP, thread) == ["hello"]
    assert [(u.data, u.thread_id) for u in telegram.uploads_to(GROUP, thread)] == [(b"PDF", thread)]
    assert telegram.copies[0].thread_id == thread

    await bot.edit_forum_topic(GROUP, thread, name="✅ #1 · Ann · help")
    with pytest.raises(TelegramBadRequest, match="TOPIC_NOT_MODIFIED"):
        await bot.edit_forum_topic(GROUP, thread, name="✅ #1 · Ann · help")
    await bot.close_forum_topic(GROUP, thread)
    with pytest.raises(TelegramBadRequest, match="TOPIC_NOT_MODIFIED"):
        await bot.close_forum_topic(GROUP, thread)
    await bot.send_message(GROUP, "still can post: an admin", message_thread_id=thread)
    await bot.reopen_forum_topic(GROUP, thread)
    assert telegram.topic(GROUP, thread).names == ["#1 · Ann · help", "✅ #1 · Ann · help"]

    await bot.delete_forum_topic(GROUP, thread)
    with pytest.raises(TelegramBadRequest, match="message thread not found"):
        await bot.send_message(GROUP, "gone", message_thread_id=thread)
    with pytest.raises(TelegramBadRequest, match="TOPIC_ID_INVALID"):
        await bot.close_forum_topic(GROUP, thread)
    with pytest.raises(TelegramBadRequest, match="message thread not found"):
        await bot.send_message(GROUP, "never was", message_thread_id=999)
    assert telegram.topics(GROUP) == []
    with pytest.raises(TelegramBadRequest, match="TOPIC_TITLE"):
        await bot.create_forum_topic(GROUP, "x" * 129)


async def test_topics_need_a_forum_and_the_right(telegram: FakeTelegram, bot: Bot) -> None:
    telegram.add_group(GROUP, can_manage_topics=False)
    with pytest.raises(TelegramBadRequest, match="not enough rights"):
        await bot.create_forum_topic(GROUP, "t")
    telegram.add_group(GROUP, is_forum=False)
    with pytest.raises(TelegramBadRequest, match="not a forum"):
        await bot.create_forum_topic(GROUP, "t")
    telegram.add_group(GROUP, bot_status="left")
    with pytest.raises(TelegramForbiddenError):
        await bot.send_message(GROUP, "t")


async def test_a_groups_flood_control(telegram: FakeTelegram, bot: Bot) -> None:
    telegram.add_group(GROUP)
    telegram.flood_limit(GROUP, 3, 1.0)
    for n in range(3):
        await bot.send_message(GROUP, f"m{n}")
    with pytest.raises(TelegramRetryAfter) as flood:
        await bot.send_message(GROUP, "m3")
    assert flood.value.retry_after == 1
    assert telegram.flooded == 1
    for n in range(10):  # a private chat has no such limit here
        await bot.send_message(5001, f"p{n}")
    time.sleep(1.05)
    await bot.send_message(GROUP, "m3")
    assert telegram.texts_to(GROUP) == ["m0", "m1", "m2", "m3"]


async def test_updates_from_members_and_topic_service_messages(
    telegram: FakeTelegram, bot: Bot
) -> None:
    telegram.add_group(GROUP)
    thread = (await bot.create_forum_topic(GROUP, "#1")).message_thread_id
    mia = member(77, "Mia")
    telegram.push(group_message(GROUP, thread, mia, "/take", message_id=telegram.next_message_id()))
    telegram.close_topic_as(GROUP, thread, mia)
    updates = await bot.get_updates(timeout=1)
    assert len(updates) == 2
    said, closed = (u.message for u in updates)
    assert said is not None
    assert closed is not None
    assert (said.message_thread_id, said.is_topic_message, said.text) == (thread, True, "/take")
    assert said.reply_to_message is not None
    assert said.reply_to_message.forum_topic_created
    assert closed.forum_topic_closed is not None
    assert telegram.topic(GROUP, thread).closed
    telegram.reopen_topic_as(GROUP, thread, mia)
    later = await bot.get_updates(offset=updates[-1].update_id + 1, timeout=1)
    assert [u.message.forum_topic_reopened is not None for u in later if u.message] == [True]
    assert (await bot.get_chat(77)).first_name == "Mia"  # a member who wrote is known


async def test_the_bots_own_service_messages_come_when_asked(
    telegram: FakeTelegram, bot: Bot
) -> None:
    telegram.add_group(GROUP)
    telegram.echo_service_messages = True
    thread = (await bot.create_forum_topic(GROUP, "#1")).message_thread_id
    await bot.close_forum_topic(GROUP, thread)
    updates = await bot.get_updates(timeout=1)
    kinds = [(u.message.forum_topic_created is not None, u.message.forum_topic_closed is not None)
             for u in updates if u.message]  # fmt: skip
    assert kinds == [(True, False), (False, True)]
    assert all(u.message and u.message.from_user and u.message.from_user.is_bot for u in updates)


async def test_a_held_call_waits_unanswered_until_released(
    telegram: FakeTelegram, bot: Bot
) -> None:
    telegram.add_group(GROUP)
    telegram.hold("sendMessage", GROUP)
    waiting = asyncio.create_task(bot.send_message(GROUP, "held"))
    await bot.send_message(5001, "not held: another chat")
    for _ in range(100):
        if telegram.held:
            break
        await asyncio.sleep(0.01)
    assert telegram.held == 1
    assert telegram.texts_to(GROUP) == []
    telegram.release()
    await waiting
    assert telegram.texts_to(GROUP) == ["held"]

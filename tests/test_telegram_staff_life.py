"""The staff group mirrors a conversation's life (issue 23): an edit is a line with the
new text in the ticket's topic, a deleted reply and a rating a line each, a blocked or
unblocked user a line in the General topic; nothing for a ticket without a topic.
Through the fake Bot API and the staff tests' fake desk."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiogram import Bot

from support_client import (
    Event,
    Message,
    MessageDeleted,
    MessageEdited,
    Rating,
    TelegramUser,
    TicketRated,
    UserBlocked,
    UserUnblocked,
)
from support_client.telegram.staff import StaffGroup
from support_client.telegram.staff_texts import TEXTS
from tests import telegram_fixtures, test_telegram_staff
from tests.fake_telegram import FakeTelegram
from tests.test_telegram_staff import GROUP, USER, FakeDesk, new_state, staff

EN, RU = TEXTS["en"], TEXTS["ru"]
NOW = "2026-12-06T21:00:00Z"

# The staff tests' fake Telegram (its group, its user), token and fake desk, and the shared bot.
telegram, bot_token, desk = (
    test_telegram_staff.telegram,
    test_telegram_staff.bot_token,
    test_telegram_staff.desk,
)
bot = telegram_fixtures.bot


@pytest.fixture
def group(bot: Bot, desk: FakeDesk, tmp_path: Path) -> StaffGroup:
    return staff(bot, desk, new_state(tmp_path))


def edited(message: Message, text: str) -> MessageEdited:
    changed = message.model_copy(update={"text": text, "edited_at": NOW})
    return MessageEdited(message=changed, event_id="e-edit")


def rated(ticket: int, score: int, comment: str = "") -> TicketRated:
    rating = Rating(score=score, comment=comment, created_at=NOW)  # type: ignore[arg-type]
    return TicketRated(ticket=ticket, rating=rating, event_id="e-rated")


async def test_edits_deletes_and_ratings_are_lines_in_the_topic(
    telegram: FakeTelegram, desk: FakeDesk, group: StaffGroup
) -> None:
    ticket = desk.open(text="helo")
    thread = await group.topic_for(ticket.id)
    first = Message.model_validate(ticket.messages[0])
    reply = desk.post(ticket, "supp", "On it, An", author=desk.managers[77])
    before = telegram.texts_in(GROUP, thread)

    events: list[Event] = [
        edited(first, "hello"),
        edited(reply, "On it, Ann"),
        MessageDeleted(ticket=ticket.id, id=reply.id, event_id="e-del"),
        rated(ticket.id, 4),
        rated(ticket.id, 4, "fast"),
    ]
    for event in events:
        await group.handle_event(event)

    assert telegram.texts_in(GROUP, thread)[len(before) :] == [
        EN["edited"].format(name="Ann", text="hello"),
        EN["edited"].format(name="Mia Smith", text="On it, Ann"),
        EN["deleted"],
        EN["rated"].format(score=4, stars="★★★★☆"),
        EN["rated_comment"].format(score=4, stars="★★★★☆", comment="fast"),
    ]


async def test_a_block_and_an_unblock_are_lines_in_the_general_topic(
    telegram: FakeTelegram, group: StaffGroup
) -> None:
    ann = TelegramUser(telegram_id=USER, first_name="Ann", blocked=True)
    await group.handle_event(UserBlocked(user=ann, event_id="e1"))
    await group.handle_event(
        UserUnblocked(user=ann.model_copy(update={"blocked": False}), event_id="e2")
    )
    assert telegram.texts_in(GROUP, None) == [  # type: ignore[arg-type]
        EN["blocked"].format(name="Ann", id=USER),
        EN["unblocked"].format(name="Ann", id=USER),
    ]


@pytest.mark.parametrize(
    "event",
    [
        MessageDeleted(ticket=1, id=5, event_id="e"),
        TicketRated(ticket=1, rating={"score": 5, "created_at": NOW}, event_id="e"),  # type: ignore[arg-type]
    ],
    ids=["deleted", "rated"],
)
async def test_nothing_for_a_ticket_without_a_topic(
    telegram: FakeTelegram, desk: FakeDesk, group: StaffGroup, event: Any
) -> None:
    desk.open()
    await group.handle_event(event)
    assert telegram.sent == []
    assert telegram.topics(GROUP) == []


def test_every_new_line_is_in_both_languages() -> None:
    for key in ("edited", "deleted", "rated", "rated_comment", "blocked", "unblocked"):
        assert EN[key]
        assert RU[key]
        assert EN[key] != RU[key]

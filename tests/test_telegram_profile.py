"""The bot sends the sender's Telegram profile with every post, through the fake Bot API.

Telegram is tests/fake_telegram.py on loopback (aiogram talks to it as to the
Bot API); the desk is mocked with respx, so what each post carries is read
from the request. The whole road, the desk storing it, is in
``test_telegram_profile_live.py``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from itertools import count
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from aiogram import Bot, Dispatcher

from support_client import Profile
from support_client import telegram as tg
from support_client.telegram.desk import desk_profile
from tests import telegram_fixtures
from tests.fake_telegram import FakeTelegram
from tests.sdk.common import MESSAGE, TICKET

# The shared fixtures (tests/telegram_fixtures.py), where pytest looks for them.
telegram, desk, bot_token, bot, support = (
    telegram_fixtures.telegram,
    telegram_fixtures.desk,
    telegram_fixtures.bot_token,
    telegram_fixtures.bot,
    telegram_fixtures.support,
)

USER = 5001
PRIVATE = {"id": USER, "type": "private", "first_name": "Ann"}

_ids = count(1)


def update(text: str, **sender: Any) -> dict[str, Any]:
    message = {
        "message_id": next(_ids),
        "date": 0,
        "chat": PRIVATE,
        "from": {"id": USER, "is_bot": False, **sender},
        "text": text,
    }
    return {"update_id": next(_ids), "message": message}


async def until(check: Callable[[], bool], timeout: float = 15) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.02)


async def polled(
    bot: Bot,
    support: tg.SupportBot,
    telegram: FakeTelegram,
    updates: list[dict[str, Any]],
    done: Callable[[], bool],
) -> None:
    dispatcher = Dispatcher()
    dispatcher.include_router(tg.support_router(support, relay=False))
    polling = asyncio.create_task(
        dispatcher.start_polling(bot, handle_as_tasks=False, handle_signals=False)
    )
    try:
        await until(lambda: "getupdates" in telegram.methods)
        for one in updates:
            telegram.push(one)
        await until(done)
    finally:
        await dispatcher.stop_polling()
        await polling


def body(call: Any) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(call.request.content)
    return parsed


async def test_the_first_message_carries_the_profile_and_later_ones_follow_a_rename(
    bot: Bot, support: tg.SupportBot, telegram: FakeTelegram, desk: respx.MockRouter
) -> None:
    opened_ticket = {**TICKET, "resolved": False}
    tickets: list[dict[str, Any]] = []

    def listed(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=tickets)

    def opened(request: httpx.Request) -> httpx.Response:
        tickets.append(opened_ticket)
        return httpx.Response(201, json=opened_ticket)

    desk.get("tickets/").mock(side_effect=listed)
    create = desk.post("tickets/").mock(side_effect=opened)
    send = desk.post(f"tickets/{TICKET['id']}/messages/").respond(201, json=MESSAGE)
    ann = {"first_name": "Ann", "last_name": "Lee", "username": "ann_lee", "language_code": "en"}
    updates = [
        update("My app crashes", **ann),
        update("Still broken", **{**ann, "first_name": "Anna", "username": "anna"}),
        update("No last name now", first_name="Anna"),  # Telegram leaves out what is unset
    ]
    await polled(bot, support, telegram, updates, lambda: send.call_count == 2)

    assert body(create.calls.last)["profile"] == ann
    first, second = (body(call)["profile"] for call in send.calls)
    assert first == {**ann, "first_name": "Anna", "username": "anna"}
    assert second == {"first_name": "Anna", "last_name": "", "username": "", "language_code": ""}


async def test_a_desk_that_refuses_the_profile_gets_the_post_without_it(
    bot: Bot, support: tg.SupportBot, telegram: FakeTelegram, desk: respx.MockRouter
) -> None:
    desk.get("tickets/").respond(json=[])
    refused = {
        "code": "invalid",
        "detail": "Invalid input.",
        "errors": {"profile": ["Unknown field."]},
    }
    create = desk.post("tickets/").mock(
        side_effect=[
            httpx.Response(400, json=refused),
            httpx.Response(201, json={**TICKET, "resolved": False}),
        ]
    )
    opened_text = tg.text_for("en", "opened", id=TICKET["id"])
    updates = [update("Hello", first_name="Ann")]
    await polled(bot, support, telegram, updates, lambda: opened_text in telegram.texts_to(USER))
    first, second = (body(call) for call in create.calls)
    assert first["profile"]["first_name"] == "Ann"
    assert "profile" not in second
    assert first["idempotency_key"] == second["idempotency_key"]


def test_an_album_part_kept_in_the_state_keeps_its_profile(tmp_path: Path) -> None:
    profile = tg.UserProfile(first_name="Ann", username="ann")
    part = tg.Incoming(1, 1, 7, "en", "x", (), "g", profile)
    assert tg.Incoming.from_json(json.loads(json.dumps(part.to_json()))) == part
    older = {k: v for k, v in part.to_json().items() if k != "profile"}
    assert tg.Incoming.from_json(older).profile is None


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        (("Ann", "Lee", "ann", "en"), ("Ann", "Lee", "ann", "en")),
        (("A" * 80, "", "", ""), ("A" * 64, "", "", "")),
        (("An\x00n", "", "", ""), ("Ann", "", "", "")),
        (("Ann\ud800", "", "", ""), ("Ann", "", "", "")),
        (("   ", "\t", "", ""), ("", "", "", "")),
        (("Ann", "", "bad name", ""), ("Ann", "", "", "")),
        (("Ann", "", "", "x" * 40), ("Ann", "", "", "x" * 35)),
    ],
    ids=["as-is", "too-long", "nul", "surrogate", "blank", "bad-username", "long-language"],
)
def test_the_profile_is_made_to_fit_the_desks_rules(
    given: tuple[str, str, str, str], sent: tuple[str, str, str, str]
) -> None:
    fields = ("first_name", "last_name", "username", "language_code")
    assert desk_profile(tg.UserProfile(*given)) == Profile(**dict(zip(fields, sent, strict=True)))

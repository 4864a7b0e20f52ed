"""A conversation's life on Telegram (issue 23), through the fake Bot API: a user's edit
updates the desk, a manager's edit and delete reach the chat as an edit and a delete
(also after a restart), a blocked user gets no ticket and at most one configured
answer an hour, the rating buttons store one rating (a second press changes nothing)
and the optional comment; callback data that is not ours, or malformed, is answered
and ignored.

The desk is mocked with respx (the SDK's httpx); Telegram is tests/fake_telegram.py on
loopback, which aiogram's session talks to as to the Bot API. The desk's events are
handed to the bot as the relay would (``handle_event``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from itertools import count
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from aiogram import Bot, Dispatcher

from support_client import (
    AsyncSupportClient,
    Message,
    MessageDeleted,
    MessageEdited,
    MessageNew,
    TelegramUser,
    TicketResolved,
    UserBlocked,
    UserUnblocked,
)
from support_client import telegram as tg
from tests import telegram_fixtures
from tests.fake_telegram import (
    FakeTelegram,
    callback_update,
    edited_update,
    next_update_id,
    private_chat,
    telegram_user,
)
from tests.sdk.common import MESSAGE, TICKET, USER_MESSAGE
from tests.telegram_fixtures import BASE, TOKEN

# The shared fixtures (tests/telegram_fixtures.py), where pytest looks for them.
telegram, desk, bot_token, bot = (
    telegram_fixtures.telegram,
    telegram_fixtures.desk,
    telegram_fixtures.bot_token,
    telegram_fixtures.bot,
)

USER = 123  # TICKET's user
BLOCKED = {"code": "user_blocked", "detail": "This user is blocked."}
RATING = {"score": 4, "comment": "", "created_at": "2026-12-06T20:00:00Z"}

_ids = count(100)


def said(
    text: str | None = None, *, message_id: int | None = None, **content: Any
) -> dict[str, Any]:
    """A user's message in their private chat, as an update."""
    body: dict[str, Any] = {
        "message_id": message_id or next(_ids),
        "date": 0,
        "chat": private_chat(USER),
        "from": telegram_user(USER),
        **content,
    }
    if text is not None:
        body["text"] = text
        if text.startswith("/"):
            body["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text)}]
    return {"update_id": next_update_id(), "message": body}


def resolved_ticket(**changes: Any) -> dict[str, Any]:
    return {**TICKET, "resolved": True, "resolved_at": "2026-12-06T19:00:00Z", **changes}


@pytest.fixture(autouse=True)
def _no_handler_fails(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """No update's handler raised (aiogram logs it and goes on): never a crash."""
    yield
    failed = [r for r in caplog.records if r.name.startswith("aiogram") and r.levelno >= 40]
    assert not failed, [r.getMessage() for r in failed]


@pytest.fixture
async def client() -> AsyncIterator[AsyncSupportClient]:
    async with AsyncSupportClient(BASE, api_key="k", max_retries=0) as made:
        yield made


Make = Callable[..., tg.SupportBot]


@pytest.fixture
def make(bot: Bot, client: AsyncSupportClient, tmp_path: Path) -> Make:
    """``make(**options)``: a SupportBot on the fake Telegram, its state in tmp_path
    (the same file each time: a second one is the first restarted)."""

    def factory(**options: Any) -> tg.SupportBot:
        state = tg.JsonFileState.load(tmp_path / "state.json")
        return tg.SupportBot(client, bot, state, delivery_timeout=0, retry_delay=0, **options)

    return factory


@pytest.fixture
def support(make: Make) -> tg.SupportBot:
    return make()


async def until(what: str, check: Callable[[], bool], timeout: float = 15) -> None:
    try:
        async with asyncio.timeout(timeout):
            while not check():
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


@asynccontextmanager
async def polling(
    support: tg.SupportBot, bot: Bot, telegram: FakeTelegram
) -> AsyncIterator[Dispatcher]:
    """The bot as it runs alone (the support router, then the greeting one), polling
    the fake Telegram until the block ends."""
    dispatcher = Dispatcher()
    dispatcher.include_router(tg.support_router(support, relay=False))
    dispatcher.include_router(tg.greeting_router(support))
    task = asyncio.create_task(
        dispatcher.start_polling(bot, handle_as_tasks=False, handle_signals=False)
    )
    try:
        await until("polling", lambda: "getupdates" in telegram.methods)
        yield dispatcher
    finally:
        await dispatcher.stop_polling()
        await task


async def handled(telegram: FakeTelegram, *updates: dict[str, Any]) -> None:
    """Push *updates* and wait until Telegram has heard each was handled (the offset
    past the last one: the bot handles one update at a time)."""
    for one in updates:
        telegram.push(one)
    last = updates[-1]["update_id"]

    def confirmed() -> bool:
        return any(
            method == "getupdates" and int(params.get("offset") or 0) > last
            for method, params in list(telegram.calls)
        )

    await until(f"update {last} handled", confirmed)


def body(route: respx.Route, index: int = -1) -> Any:
    return json.loads(route.calls[index].request.content)


# -- a user's edit -> the desk ---------------------------------------------------------


def found(desk: respx.MockRouter, messages: list[dict[str, Any]]) -> respx.Route:
    desk.get("tickets/").respond(json=[TICKET])
    return desk.get("tickets/16/messages/").respond(json=messages)


async def test_an_edited_message_updates_the_desk(
    support: tg.SupportBot, bot: Bot, telegram: FakeTelegram, desk: respx.MockRouter
) -> None:
    listed = desk.get("tickets/").respond(json=[TICKET])
    lookup = desk.get("tickets/16/messages/").respond(json=[{**USER_MESSAGE, "text": "helo"}])
    edit = desk.patch("tickets/16/messages/32/").respond(
        json={**USER_MESSAGE, "text": "hello", "edited_at": "2026-12-06T21:00:00Z"}
    )
    async with polling(support, bot, telegram):
        await handled(telegram, edited_update(USER, 77, "hello"))

    assert body(edit) == {"text": "hello"}
    assert dict(listed.calls.last.request.url.params) == {
        "user_id": str(USER),
        "ordering": "-id",
        "limit": "3",
    }
    assert lookup.calls.last.request.url.params["idempotency_key"] == f"tg-{USER}-77"
    assert telegram.texts_to(USER) == []  # the user is told nothing: it simply is edited


PHOTO = [{"file_id": "p", "file_unique_id": "up", "width": 1, "height": 1}]
#: (name, the edit, the desk's copy (None: none), the text PATCHed (None: no PATCH))
EDITS: list[tuple[str, dict[str, Any], dict[str, Any] | None, str | None]] = [
    ("caption", edited_update(USER, 78, photo=PHOTO, caption="new caption"),
     {**USER_MESSAGE, "text": "old"}, "new caption"),
    ("caption-removed", edited_update(USER, 79, photo=PHOTO),
     {**USER_MESSAGE, "text": "old"}, ""),
    ("same-text", edited_update(USER, 80, "thanks"), USER_MESSAGE, None),
    ("not-on-the-desk", edited_update(USER, 81, "hello"), None, None),
    ("manager-message-with-that-key", edited_update(USER, 82, "x"), MESSAGE, None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("update", "copy", "patched"), [e[1:] for e in EDITS], ids=[e[0] for e in EDITS]
)
async def test_what_an_edit_changes_on_the_desk(
    support: tg.SupportBot,
    bot: Bot,
    telegram: FakeTelegram,
    desk: respx.MockRouter,
    update: dict[str, Any],
    copy: dict[str, Any] | None,
    patched: str | None,
) -> None:
    found(desk, [] if copy is None else [copy])
    edit = desk.patch(url__regex=r"tickets/16/messages/\d+/$").respond(json=USER_MESSAGE)
    async with polling(support, bot, telegram):
        await handled(telegram, update)
    if patched is None:
        assert edit.call_count == 0
    else:
        assert body(edit) == {"text": patched}
    assert telegram.texts_to(USER) == []


async def test_a_live_locations_updates_are_not_the_desks(
    support: tg.SupportBot, bot: Bot, telegram: FakeTelegram, desk: respx.MockRouter
) -> None:
    listed = desk.get("tickets/").respond(json=[TICKET])
    place = {"latitude": 52.5, "longitude": 13.4, "live_period": 900}
    async with polling(support, bot, telegram):
        await handled(telegram, edited_update(USER, 83, location=place))
    assert listed.call_count == 0


async def test_an_edit_too_long_for_the_desk_is_answered(
    support: tg.SupportBot, bot: Bot, telegram: FakeTelegram, desk: respx.MockRouter
) -> None:
    found(desk, [USER_MESSAGE])
    desk.patch("tickets/16/messages/32/").respond(
        400, json={"code": "invalid", "detail": "Invalid input.", "errors": {"text": ["long"]}}
    )
    async with polling(support, bot, telegram):
        await handled(telegram, edited_update(USER, 84, "x" * 20))
    assert telegram.texts_to(USER) == [tg.text_for("en", "too_long")]


# -- a manager's edit and delete -> Telegram ---------------------------------------------


def reply(text: str, message_id: int = 31, **more: Any) -> Message:
    return Message.model_validate({**MESSAGE, "id": message_id, "text": text, **more})


async def test_a_managers_edit_and_delete_reach_telegram(
    make: Make, telegram: FakeTelegram, desk: respx.MockRouter
) -> None:
    desk.get("tickets/16/").respond(json=TICKET)
    support = make()
    await support.handle_event(MessageNew(message=reply("Helo, try again"), event_id="s:1"))
    [sent] = telegram.visible(USER)
    assert sent.text == "Helo, try again"

    edited = reply("Hello, try again", edited_at="2026-12-06T21:00:00Z")
    await support.handle_event(MessageEdited(message=edited, event_id="s:2"))
    assert telegram.shown(USER, sent.message_id).history == ["Helo, try again", "Hello, try again"]
    assert telegram.texts_to(USER) == ["Helo, try again"]  # edited, nothing sent anew

    restarted = make()  # the state file remembers which message the reply became
    await restarted.handle_event(MessageDeleted(ticket=16, id=31, event_id="s:3"))
    assert telegram.shown(USER, sent.message_id).deleted
    assert telegram.visible(USER) == []
    assert await restarted.replies.get_reply(31) is None  # forgotten once deleted


async def test_a_long_reply_edited_short_loses_its_second_part(
    support: tg.SupportBot, telegram: FakeTelegram, desk: respx.MockRouter
) -> None:
    desk.get("tickets/16/").respond(json=TICKET)
    long = ("All the details you asked for. " * 200)[:5000]
    await support.handle_event(MessageNew(message=reply(long), event_id="s:1"))
    first, second = telegram.visible(USER)

    await support.handle_event(MessageEdited(message=reply("Short now."), event_id="s:2"))
    assert [m.text for m in telegram.visible(USER)] == ["Short now."]
    assert telegram.shown(USER, second.message_id).deleted

    await support.handle_event(MessageEdited(message=reply(long), event_id="s:3"))
    assert [m.text for m in telegram.visible(USER)] == tg.split_text(long)
    assert telegram.visible(USER)[0].message_id == first.message_id


PNG = b"\x89PNG\r\n\x1a\n" + b"p" * 16
PHOTO_ATTACHMENT = {
    "id": 12, "kind": "photo", "filename": "shot.png", "content_type": "image/png",
    "size": len(PNG), "width": 1, "height": 1, "url": "/support/attachments/12/",
    "thumbnail_url": None,
}  # fmt: skip


async def test_a_captioned_files_edit_edits_the_caption(
    support: tg.SupportBot, telegram: FakeTelegram, desk: respx.MockRouter
) -> None:
    desk.get("tickets/16/").respond(json=TICKET)
    desk.get("http://desk.test/support/attachments/12/").respond(content=PNG)
    photo = reply("see the shot", attachments=[PHOTO_ATTACHMENT])
    await support.handle_event(MessageNew(message=photo, event_id="s:1"))
    [shot] = telegram.visible(USER)
    assert (shot.text, shot.is_caption) == ("see the shot", True)

    edited = reply("see this shot", attachments=[PHOTO_ATTACHMENT])
    await support.handle_event(MessageEdited(message=edited, event_id="s:2"))
    assert telegram.shown(USER, shot.message_id).text == "see this shot"
    assert "editmessagecaption" in telegram.methods


async def test_edits_of_unknown_and_user_messages_change_nothing(
    support: tg.SupportBot, telegram: FakeTelegram, desk: respx.MockRouter
) -> None:
    user_side = Message.model_validate({**USER_MESSAGE, "text": "edited by the user"})
    await support.handle_event(MessageEdited(message=user_side, event_id="s:1"))
    await support.handle_event(MessageEdited(message=reply("never sent", 99), event_id="s:2"))
    await support.handle_event(MessageDeleted(ticket=16, id=99, event_id="s:3"))
    assert not {"editmessagetext", "deletemessage", "sendmessage"} & set(telegram.methods)


async def test_replies_are_remembered_for_48_hours(tmp_path: Path) -> None:
    now = [1_000_000.0]
    state = tg.JsonFileState(tmp_path / "s.json", clock=lambda: now[0])
    await state.set_reply(1, tg.SentReply(USER, ((5, "text"),), now[0]))
    now[0] += 47 * 3600
    await state.set_reply(2, tg.SentReply(USER, ((6, "text"),), now[0]))
    assert await state.get_reply(1) is not None
    now[0] += 2 * 3600  # 49 h after the first
    assert await state.get_reply(1) is None
    await state.set_reply(3, tg.SentReply(USER, ((7, "caption"), (8, "file")), now[0]))
    loaded = tg.JsonFileState.load(tmp_path / "s.json")
    assert sorted(loaded.replies) == ["2", "3"]  # the old one was dropped from the file
    assert loaded.replies["3"].parts == ((7, "caption"), (8, "file"))


# -- a blocked user ----------------------------------------------------------------------


async def test_a_blocked_user_gets_no_ticket_and_nothing_said(
    make: Make, bot: Bot, telegram: FakeTelegram, desk: respx.MockRouter
) -> None:
    desk.get("tickets/").respond(json=[])
    opened = desk.post("tickets/").respond(403, json=BLOCKED)
    support = make()
    async with polling(support, bot, telegram):
        await handled(telegram, said("hello"), said("anyone?"))
    assert opened.call_count == 2  # each refused once, not retried
    assert telegram.texts_to(USER) == []


async def test_a_blocked_user_is_told_the_configured_text_once_an_hour(
    make: Make, bot: Bot, telegram: FakeTelegram, desk: respx.MockRouter
) -> None:
    desk.get("tickets/").respond(json=[TICKET])
    posted = desk.post("tickets/16/messages/").respond(403, json=BLOCKED)
    desk.get("tickets/16/messages/").respond(json=[USER_MESSAGE])
    edit = desk.patch("tickets/16/messages/32/").respond(403, json=BLOCKED)
    notice = "You can no longer write to support."
    support = make(blocked_text=notice)
    now = [5000.0]
    support.desk.clock = lambda: now[0]
    async with polling(support, bot, telegram):
        await handled(telegram, said("hello"), said("hello?"), edited_update(USER, 85, "hi"))
        assert telegram.texts_to(USER) == [notice]
        now[0] += 3599
        await handled(telegram, said("still there?"))
        assert telegram.texts_to(USER) == [notice]
        now[0] += 1
        await handled(telegram, said("an hour later"))
    assert telegram.texts_to(USER) == [notice, notice]
    assert posted.call_count == 4
    assert edit.call_count == 1


def test_the_blocked_text_is_a_setting() -> None:
    env = {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "SUPPORT_BASE_URL": BASE,
        "SUPPORT_API_KEY": "k",
    }
    assert tg.Settings.from_env(env).blocked_text is None
    settings = tg.Settings.from_env({**env, "SUPPORT_BOT_BLOCKED_TEXT": "  Blocked.  "})
    assert settings.blocked_text == "Blocked."
    with pytest.raises(tg.ConfigError, match="SUPPORT_BOT_BLOCKED_TEXT must be at most"):
        tg.Settings.from_env({**env, "SUPPORT_BOT_BLOCKED_TEXT": "x" * 5000})


async def test_a_blocked_users_resolutions_are_not_announced(
    support: tg.SupportBot, telegram: FakeTelegram, desk: respx.MockRouter
) -> None:
    desk.get("tickets/16/").respond(json=resolved_ticket())
    desk.get("tickets/17/").respond(
        json=resolved_ticket(id=17, user={"telegram_id": USER, "blocked": True})
    )
    user = TelegramUser(telegram_id=USER, blocked=True)
    await support.handle_event(UserBlocked(user=user, event_id="s:1"))
    await support.handle_event(TicketResolved(id=16, event_id="s:2"))
    await support.handle_event(UserUnblocked(user=user, event_id="s:3"))
    await support.handle_event(TicketResolved(id=17, event_id="s:4"))  # the desk says blocked
    assert telegram.texts_to(USER) == []


# -- ratings ---------------------------------------------------------------------------


def rating_route(desk: respx.MockRouter) -> respx.Route:
    """``POST tickets/16/rating/`` as the desk answers it: the first stores, every later
    one answers the first rating, changing nothing."""
    stored: list[dict[str, Any]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        if stored:
            return httpx.Response(200, json=stored[0])
        stored.append({**RATING, "score": json.loads(request.content)["score"]})
        return httpx.Response(201, json=stored[0])

    return desk.post("tickets/16/rating/").mock(side_effect=answer)


def buttons(markup: dict[str, Any] | None) -> list[tuple[str, str]]:
    assert markup is not None
    return [(b["text"], b["callback_data"]) for row in markup["inline_keyboard"] for b in row]


async def test_the_rating_buttons_store_one_rating_and_a_comment(
    support: tg.SupportBot, bot: Bot, telegram: FakeTelegram, desk: respx.MockRouter
) -> None:
    desk.get("tickets/16/").respond(json=resolved_ticket())
    rate = rating_route(desk)
    comment = desk.patch("tickets/16/rating/").respond(json={**RATING, "comment": "fast"})
    desk.get("tickets/").respond(json=[TICKET])
    posted = desk.post("tickets/16/messages/").respond(201, json=USER_MESSAGE)

    await support.handle_event(TicketResolved(id=16, event_id="s:1"))
    resolved, question = telegram.visible(USER)
    assert resolved.text == tg.text_for("en", "resolved", id=16)
    assert question.text == tg.text_for("en", "rate", id=16)
    assert buttons(question.markup) == [(str(n), f"support-rate:16:{n}") for n in range(1, 6)]

    async with polling(support, bot, telegram):
        await handled(
            telegram, callback_update(USER, "support-rate:16:4", message_id=question.message_id)
        )
        shown = tg.text_for("en", "rated", id=16, stars="★★★★☆", score=4)
        assert telegram.shown(USER, question.message_id).text == shown
        assert telegram.shown(USER, question.message_id).markup is None  # the buttons go
        prompt = telegram.visible(USER)[-1]
        assert prompt.text == tg.text_for("en", "comment_ask")
        assert prompt.markup is not None
        assert prompt.markup["force_reply"] is True

        # A second press (say, a double tap before the buttons went): nothing changes.
        await handled(
            telegram, callback_update(USER, "support-rate:16:1", message_id=question.message_id)
        )
        assert telegram.shown(USER, question.message_id).text == shown
        assert len(telegram.visible(USER)) == 3  # no second comment question

        reply_to = {"message_id": prompt.message_id, "date": 0, "chat": private_chat(USER),
                    "from": {"id": 4242, "is_bot": True, "first_name": "Support"},
                    "text": prompt.text}  # fmt: skip
        await handled(telegram, said(" fast ", reply_to_message=reply_to))
        await handled(telegram, said("and kind", reply_to_message=reply_to))  # asked once

    assert [body(rate, i)["score"] for i in range(rate.call_count)] == [4, 1]
    assert [a[1] for a in telegram.answers] == [
        tg.text_for("en", "rated_thanks"),
        tg.text_for("en", "rated_already"),
    ]
    assert body(comment) == {"comment": "fast"}
    assert comment.call_count == 1
    assert telegram.texts_to(USER)[-1] == tg.text_for("en", "comment_thanks")
    # The second reply to the question, no longer waited for, is an ordinary message.
    assert posted.call_count == 1
    assert body(posted)["text"] == "and kind"


async def test_an_automatic_resolution_has_its_own_text(
    support: tg.SupportBot, telegram: FakeTelegram, desk: respx.MockRouter
) -> None:
    desk.get("tickets/16/").respond(json=resolved_ticket())
    await support.handle_event(TicketResolved(id=16, auto=True, event_id="s:1"))
    assert telegram.texts_to(USER)[0] == tg.text_for("en", "resolved_auto", id=16)


@pytest.mark.parametrize(
    "ticket",
    [
        resolved_ticket(rating=RATING),  # rated already (resolved again)
        {**TICKET, "resolved": False},  # reopened since
    ],
    ids=["rated", "reopened"],
)
async def test_no_question_for_a_rated_or_reopened_ticket(
    support: tg.SupportBot, telegram: FakeTelegram, desk: respx.MockRouter, ticket: dict[str, Any]
) -> None:
    desk.get("tickets/16/").respond(json=ticket)
    await support.handle_event(TicketResolved(id=16, event_id="s:1"))
    assert telegram.texts_to(USER) == [tg.text_for("en", "resolved", id=16)]


async def test_a_ticket_closed_by_the_user_is_rated_without_the_notice(
    support: tg.SupportBot, telegram: FakeTelegram, desk: respx.MockRouter
) -> None:
    desk.get("tickets/").respond(json=[TICKET])
    desk.post("tickets/16/resolve/").respond(json=resolved_ticket())
    desk.get("tickets/16/").respond(json=resolved_ticket())
    await support.on_close(tg.Incoming(USER, USER, 5, "en", "/close"))
    await support.handle_event(TicketResolved(id=16, event_id="s:1"))
    assert telegram.texts_to(USER) == [
        tg.text_for("en", "closed", id=16),
        tg.text_for("en", "rate", id=16),
    ]


#: (name, the desk's answer to the rating, the toast, whether the question is edited to it)
REFUSED_RATINGS: list[tuple[str, int, dict[str, Any], str | None, bool]] = [
    ("reopened", 409, {"code": "ticket_not_resolved", "detail": "open"}, "rate_not_resolved",
     True),
    ("gone", 404, {"code": "not_found", "detail": "gone"}, "rate_gone", True),
    ("blocked", 403, BLOCKED, None, False),
    ("desk-down", 503, {"code": "busy", "detail": "busy"}, "rate_later", False),
    ("bad-score", 400, {"code": "invalid", "detail": "bad", "errors": {"score": ["no"]}},
     "rate_not_ours", False),
]  # fmt: skip


@pytest.mark.parametrize(
    ("status", "answer", "toast", "edited"),
    [r[1:] for r in REFUSED_RATINGS],
    ids=[r[0] for r in REFUSED_RATINGS],
)
async def test_a_refused_rating_is_answered_and_stores_nothing(
    support: tg.SupportBot,
    bot: Bot,
    telegram: FakeTelegram,
    desk: respx.MockRouter,
    status: int,
    answer: dict[str, Any],
    toast: str | None,
    edited: bool,
) -> None:
    desk.get("tickets/16/").respond(json=resolved_ticket())
    rate = desk.post("tickets/16/rating/").respond(status, json=answer)
    await support.handle_event(TicketResolved(id=16, event_id="s:1"))
    question = telegram.visible(USER)[-1]
    async with polling(support, bot, telegram):
        await handled(
            telegram, callback_update(USER, "support-rate:16:5", message_id=question.message_id)
        )
    assert rate.call_count == 1
    assert telegram.answers == [(telegram.answers[0][0], toast and tg.text_for("en", toast))]
    now = telegram.shown(USER, question.message_id)
    if edited:
        assert toast is not None
        assert now.text == tg.text_for("en", toast)
    else:
        assert now.text == question.text
        assert now.markup == question.markup  # pressed again later
    assert len(telegram.visible(USER)) == 2  # no comment question


#: Button presses that are no rating of ours: (name, data, the chat of the message pressed)
STRAY: list[tuple[str, str | None, dict[str, Any] | None]] = [
    ("no-data", None, None),
    ("empty", "", None),
    ("other-bot", "menu:open", None),
    ("prefix-only", "support-rate:", None),
    ("no-score", "support-rate:16", None),
    ("score-6", "support-rate:16:6", None),
    ("score-0", "support-rate:16:0", None),
    ("not-a-number", "support-rate:x:1", None),
    ("negative", "support-rate:-16:3", None),
    ("leading-zero", "support-rate:016:3", None),
    ("extra", "support-rate:16:4:extra", None),
    ("huge-ticket", "support-rate:" + "9" * 40 + ":3", None),
    ("unicode-digit", "support-rate:١٦:3", None),
    ("in-a-group", "support-rate:16:4", {"id": -100777, "type": "supergroup", "title": "g"}),
    ("anothers-chat", "support-rate:16:4", private_chat(999)),
]


@pytest.mark.parametrize(("data", "chat"), [s[1:] for s in STRAY], ids=[s[0] for s in STRAY])
async def test_a_press_that_is_not_our_rating_is_answered_and_ignored(
    support: tg.SupportBot,
    bot: Bot,
    telegram: FakeTelegram,
    desk: respx.MockRouter,
    data: str | None,
    chat: dict[str, Any] | None,
) -> None:
    rate = desk.post(url__regex=r"tickets/\d+/rating/$").respond(201, json=RATING)
    async with polling(support, bot, telegram):
        await handled(
            telegram,
            callback_update(USER, data, message_id=5, chat=chat, query_id="q1"),
            said("/start"),  # and the bot goes on
        )
    assert rate.call_count == 0
    assert telegram.answers == [("q1", tg.text_for("en", "rate_not_ours"))]
    assert telegram.texts_to(USER) == [tg.text_for("en", "start")]


async def test_a_projects_own_buttons_are_left_to_the_project(
    support: tg.SupportBot, bot: Bot, telegram: FakeTelegram
) -> None:
    seen: list[str | None] = []
    dispatcher = Dispatcher()
    dispatcher.include_router(tg.support_router(support, relay=False))

    @dispatcher.callback_query()
    async def project(query: Any) -> None:
        seen.append(query.data)
        await query.answer("the project's")

    task = asyncio.create_task(
        dispatcher.start_polling(bot, handle_as_tasks=False, handle_signals=False)
    )
    try:
        await until("polling", lambda: "getupdates" in telegram.methods)
        await handled(telegram, callback_update(USER, "menu:open", message_id=5, query_id="q2"))
    finally:
        await dispatcher.stop_polling()
        await task
    assert seen == ["menu:open"]
    assert telegram.answers == [("q2", "the project's")]


# -- after resolution: the desk's reopen window -----------------------------------------


@pytest.mark.parametrize("reopened", [True, False], ids=["within-the-window", "after-it"])
async def test_a_message_after_resolution_goes_to_the_latest_ticket_first(
    support: tg.SupportBot,
    bot: Bot,
    telegram: FakeTelegram,
    desk: respx.MockRouter,
    reopened: bool,
) -> None:
    def listed(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("resolved") == "false":
            return httpx.Response(200, json=[])  # nothing open
        return httpx.Response(200, json=[resolved_ticket()])  # the latest, resolved

    lists = desk.get("tickets/").mock(side_effect=listed)
    answer = (
        httpx.Response(201, json=USER_MESSAGE)
        if reopened
        else httpx.Response(409, json={"code": "ticket_resolved", "detail": "resolved"})
    )
    sent = desk.post("tickets/16/messages/").mock(return_value=answer)
    opened = desk.post("tickets/").respond(201, json={**TICKET, "id": 17, "previous": 16})
    async with polling(support, bot, telegram):
        await handled(telegram, said("one more thing", message_id=90))

    assert dict(lists.calls[1].request.url.params) == {
        "user_id": str(USER),
        "ordering": "-id",
        "limit": "1",
    }
    assert body(sent)["idempotency_key"] == f"tg-{USER}-90"
    if reopened:  # the desk reopened it: its ticket.reopened tells the user
        assert opened.call_count == 0
        assert telegram.texts_to(USER) == []
    else:
        assert body(opened)["idempotency_key"] == f"tg-{USER}-90"
        assert telegram.texts_to(USER) == [tg.text_for("en", "opened", id=17)]


async def asked_for_a_comment(support: tg.SupportBot, ticket_id: int = 16) -> dict[str, Any]:
    """A comment question the bot sent (as the state remembers it): the message replied to."""
    prompt_id = 555
    await support.replies.set_prompt(USER, prompt_id, tg.RatingPrompt(ticket_id, 1e12))
    return {"message_id": prompt_id, "date": 0, "chat": private_chat(USER),
            "from": {"id": 4242, "is_bot": True, "first_name": "Support"}, "text": "?"}  # fmt: skip


#: (name, the reply's content, the comment stored (None: none), whether it goes to the desk)
COMMENTS: list[tuple[str, dict[str, Any], str | None, bool]] = [
    ("text", {"text": "kind"}, "kind", False),
    ("spaces-trimmed", {"text": "  kind  "}, "kind", False),
    ("too-long-cut", {"text": "x" * 1500}, "x" * 1000, False),
    ("blank", {"text": "   "}, None, False),
    ("a-command", {"text": "/close", "entities": [{"type": "bot_command", "offset": 0,
                                                    "length": 6}]}, None, False),
    ("a-photo", {"photo": PHOTO, "caption": "look"}, None, True),
]  # fmt: skip


@pytest.mark.parametrize(
    ("content", "stored", "posted"), [c[1:] for c in COMMENTS], ids=[c[0] for c in COMMENTS]
)
async def test_what_a_reply_to_the_comment_question_stores(
    support: tg.SupportBot,
    bot: Bot,
    telegram: FakeTelegram,
    desk: respx.MockRouter,
    content: dict[str, Any],
    stored: str | None,
    posted: bool,
) -> None:
    comment = desk.patch("tickets/16/rating/").respond(json={**RATING, "comment": stored or ""})
    desk.get("tickets/").respond(json=[TICKET])
    desk.post("tickets/16/resolve/").respond(json=resolved_ticket())
    post = desk.post("tickets/16/messages/").respond(201, json=USER_MESSAGE)
    telegram.add_file(b"\xff\xd8\xff" + b"j" * 16)  # the photo's bytes ("p" is its id below)
    telegram.files["p"] = telegram.files.pop("file-1")
    reply_to = await asked_for_a_comment(support)
    async with polling(support, bot, telegram):
        await handled(telegram, said(reply_to_message=reply_to, **content))
    if stored is None:
        assert comment.call_count == 0
    else:
        assert body(comment) == {"comment": stored}
        assert telegram.texts_to(USER) == [tg.text_for("en", "comment_thanks")]
        assert await support.replies.get_prompt(USER, 555) is None  # asked once
    assert post.call_count == (1 if posted else 0)


async def test_a_reply_to_another_message_is_an_ordinary_message(
    support: tg.SupportBot, bot: Bot, telegram: FakeTelegram, desk: respx.MockRouter
) -> None:
    comment = desk.patch("tickets/16/rating/").respond(json=RATING)
    desk.get("tickets/").respond(json=[TICKET])
    post = desk.post("tickets/16/messages/").respond(201, json=USER_MESSAGE)
    reply_to = {**(await asked_for_a_comment(support)), "message_id": 556}
    async with polling(support, bot, telegram):
        await handled(telegram, said("about your last answer", reply_to_message=reply_to))
    assert comment.call_count == 0
    assert body(post)["text"] == "about your last answer"


@pytest.mark.parametrize(
    ("status", "answer", "kept"),
    [
        (503, {"code": "busy", "detail": "busy"}, True),  # the user may reply again
        (404, {"code": "not_found", "detail": "no rating"}, False),
        (403, BLOCKED, False),
    ],
    ids=["desk-down", "no-rating", "blocked"],
)
async def test_a_refused_comment(
    support: tg.SupportBot,
    bot: Bot,
    telegram: FakeTelegram,
    desk: respx.MockRouter,
    status: int,
    answer: dict[str, Any],
    kept: bool,
) -> None:
    desk.patch("tickets/16/rating/").respond(status, json=answer)
    reply_to = await asked_for_a_comment(support)
    async with polling(support, bot, telegram):
        await handled(telegram, said("kind", reply_to_message=reply_to))
    assert (await support.replies.get_prompt(USER, 555) is not None) is kept
    expected = [tg.text_for("en", "undelivered")] if kept else []
    assert telegram.texts_to(USER) == expected

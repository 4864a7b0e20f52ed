"""The example bot's parts, without processes: settings, state, splitting, refusals, events.

The desk is mocked with respx and Telegram with a recorder; the whole path
through real processes is in ``test_telegram_bot_live.py``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
import respx
import telegram_bot as tb

from support_client import AsyncSupportClient, StreamReset, TicketResolved
from tests.sdk.common import TICKET

BASE = "http://desk.test/support/"
TOKEN = "4242:TEST-token"


class Recorder:
    """Stands in for :class:`telegram_bot.Telegram`."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, str]] = []

    async def send(self, chat_id: int, text: str, *, patient: bool = False) -> bool:
        self.sent.append((chat_id, text))
        return True


@pytest.fixture
async def client() -> AsyncIterator[AsyncSupportClient]:
    async with AsyncSupportClient(BASE, api_key="k", max_retries=0) as made:
        yield made


@pytest.fixture
def desk() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE) as router:
        yield router


@pytest.fixture
def bot(client: AsyncSupportClient, tmp_path: Path) -> tb.SupportBot:
    state = tb.State(tmp_path / "state.json")
    return tb.SupportBot(client, Recorder(), state, delivery_timeout=0, retry_delay=0)


def sent(bot: tb.SupportBot) -> list[tuple[int, str]]:
    return cast(Recorder, bot.telegram).sent


def message(text: str | None = "hello", *, language: tb.Language = "en") -> tb.Incoming:
    return tb.Incoming(user_id=123, chat_id=123, message_id=7, language=language, text=text)


def ticket(**changes: Any) -> dict[str, Any]:
    return {**TICKET, **changes}


# -- helpers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("short", ["short"]),
        ("a" * 10, ["a" * 8, "aa"]),
        ("word " * 3, ["word ", "word ", "word "]),
        ("one two\nthree", ["one two\n", "three"]),
        ("\U0001f600" * 5, ["\U0001f600" * 4, "\U0001f600"]),  # 2 UTF-16 units each
        ("abcdefgh" + " " * 8, ["abcdefgh"]),  # whitespace-only parts are dropped
    ],
)
def test_split_text_keeps_parts_within_the_limit(text: str, parts: list[str]) -> None:
    assert tb.split_text(text, limit=8) == parts


def test_split_text_of_5000_characters_is_two_telegram_messages() -> None:
    text = ("All the details you asked for. " * 200)[:5000]
    parts = tb.split_text(text)
    assert len(parts) == 2
    assert "".join(parts) == text
    assert all(len(part) <= tb.TELEGRAM_TEXT_LIMIT for part in parts)
    assert parts[0].endswith(" ")  # cut between words


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("My app crashes\nsince Monday", "My app crashes"),
        ("\n\n  spaced   out  \n", "spaced out"),
        ("x" * 100, "x" * 63 + "…"),
    ],
)
def test_ticket_title_is_the_first_line_shortened(text: str, title: str) -> None:
    assert tb.ticket_title(text) == title


@pytest.mark.parametrize(
    ("code", "language"),
    [("ru", "ru"), ("ru-RU", "ru"), ("RU", "ru"), ("en", "en"), ("uk", "en"), (None, "en")],
)
def test_language_of_a_telegram_user(code: str | None, language: str) -> None:
    assert tb.language_of(code) == language


def test_idempotency_key_is_built_from_chat_and_message_ids() -> None:
    assert tb.idempotency_key(-100123, 45) == "tg--100123-45"


# -- settings and state ----------------------------------------------------------------

GOOD = {"TELEGRAM_BOT_TOKEN": TOKEN, "SUPPORT_BASE_URL": BASE, "SUPPORT_API_KEY": "k"}


def test_settings_from_the_environment() -> None:
    settings = tb.Settings.from_env(
        {**GOOD, "TELEGRAM_API_URL": "http://127.0.0.1:8081", "SUPPORT_BOT_STATE": "/tmp/s.json"}
    )
    assert settings.token == TOKEN
    assert settings.api_url == "http://127.0.0.1:8081"
    assert settings.state_path == Path("/tmp/s.json")
    assert settings.delivery_timeout == 30  # docs/bot.md
    assert tb.Settings.from_env(GOOD).state_path == Path("telegram_bot_state.json")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"TELEGRAM_BOT_TOKEN": ""}, "TELEGRAM_BOT_TOKEN is not set"),
        ({"TELEGRAM_BOT_TOKEN": "nope"}, "TELEGRAM_BOT_TOKEN does not look like a bot token"),
        ({"SUPPORT_BASE_URL": ""}, "SUPPORT_BASE_URL is not set"),
        ({"SUPPORT_BASE_URL": "desk.test/support/"}, "SUPPORT_BASE_URL must be an http(s) URL"),
        ({"SUPPORT_API_KEY": " "}, "SUPPORT_API_KEY is not set"),
        ({"TELEGRAM_API_URL": "localhost:8081"}, "TELEGRAM_API_URL must be an http(s) URL"),
        ({"SUPPORT_BOT_DELIVERY_TIMEOUT": "soon"}, "SUPPORT_BOT_DELIVERY_TIMEOUT must be"),
        ({"SUPPORT_BOT_DELIVERY_TIMEOUT": "-1"}, "SUPPORT_BOT_DELIVERY_TIMEOUT must be"),
    ],
)
def test_a_bad_setting_is_one_clear_line(changes: dict[str, str], message: str) -> None:
    with pytest.raises(tb.ConfigError) as caught:
        tb.Settings.from_env({**GOOD, **changes})
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_main_prints_one_line_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert tb.main(env={}) == 2
    assert capsys.readouterr().err == (
        "telegram_bot: TELEGRAM_BOT_TOKEN is not set (ask @BotFather for one)\n"
    )


async def test_state_is_saved_atomically_and_loaded_back(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    state = tb.State(path, "support:41", {123: "ru"})
    await state.save()
    state.cursor = "support:42"
    await state.save()
    loaded = tb.State.load(path)
    assert (loaded.cursor, loaded.languages) == ("support:42", {123: "ru"})
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]  # no temporary left


def test_a_missing_state_file_starts_empty(tmp_path: Path) -> None:
    state = tb.State.load(tmp_path / "none.json")
    assert (state.cursor, state.languages) == (None, {})


@pytest.mark.parametrize("content", ["{", "[]", '{"cursor": 5}', '{"languages": {}}'])
def test_a_state_file_that_is_not_ours_is_a_clear_error(tmp_path: Path, content: str) -> None:
    path = tmp_path / "state.json"
    path.write_text(content)
    with pytest.raises(tb.ConfigError, match="is not this bot's state file"):
        tb.State.load(path)


# -- Telegram -> desk ------------------------------------------------------------------


async def test_a_first_message_opens_a_ticket_with_its_key(
    bot: tb.SupportBot, desk: respx.MockRouter
) -> None:
    desk.get("tickets/").respond(json=[])
    create = desk.post("tickets/").respond(201, json=ticket(resolved=False))

    await bot.on_text(message("My app crashes\nsince Monday"))

    assert json.loads(create.calls.last.request.content) == {
        "user_id": 123,
        "title": "My app crashes",
        "text": "My app crashes\nsince Monday",
        "idempotency_key": "tg-123-7",
    }
    assert sent(bot) == [(123, tb.text_for("en", "opened", id=16))]


async def test_a_replayed_key_that_returns_a_resolved_ticket_says_nothing(
    bot: tb.SupportBot, desk: respx.MockRouter
) -> None:
    # The update was posted before the ticket was resolved: nothing new happened.
    desk.get("tickets/").respond(json=[])
    desk.post("tickets/").respond(200, json=ticket(resolved=True))

    await bot.on_text(message())

    assert sent(bot) == []


async def test_a_ticket_resolved_meanwhile_makes_way_for_a_new_one(
    bot: tb.SupportBot, desk: respx.MockRouter
) -> None:
    desk.get("tickets/").respond(json=[ticket(id=5)])
    desk.post("tickets/5/messages/").respond(
        409, json={"code": "ticket_resolved", "detail": "resolved"}
    )
    create = desk.post("tickets/").respond(201, json=ticket(id=6, resolved=False))

    await bot.on_text(message())

    assert create.called
    assert sent(bot) == [(123, tb.text_for("en", "opened", id=6))]


async def test_text_over_the_desks_limit_gets_a_plain_answer(
    bot: tb.SupportBot, desk: respx.MockRouter
) -> None:
    desk.get("tickets/").respond(json=[ticket()])
    desk.post("tickets/16/messages/").respond(
        400, json={"code": "invalid", "detail": "x", "errors": {"text": ["too long"]}}
    )

    await bot.on_text(message("x" * 5000, language="ru"))

    assert sent(bot) == [(123, tb.text_for("ru", "too_long"))]


@pytest.mark.parametrize("status", [401, 403, 503])
async def test_a_refusing_or_absent_desk_gets_the_undelivered_answer(
    bot: tb.SupportBot, desk: respx.MockRouter, status: int
) -> None:
    desk.get("tickets/").respond(status, json={"code": "x", "detail": "x"})

    await bot.on_text(message())

    assert sent(bot) == [(123, tb.text_for("en", "undelivered"))]


async def test_an_unreachable_desk_is_retried_with_the_same_key(
    bot: tb.SupportBot, desk: respx.MockRouter
) -> None:
    bot.delivery_timeout = 5
    desk.get("tickets/").respond(json=[ticket()])
    send = desk.post("tickets/16/messages/").mock(
        side_effect=[httpx.ConnectError("down"), httpx.Response(201, json=TICKET["last_message"])]
    )

    await bot.on_text(message())

    keys = [json.loads(call.request.content)["idempotency_key"] for call in send.calls]
    assert keys == ["tg-123-7", "tg-123-7"]
    assert sent(bot) == []


async def test_not_text_is_answered_in_the_users_language(bot: tb.SupportBot) -> None:
    await bot.on_not_text(message(None, language="ru"))
    assert sent(bot) == [(123, tb.text_for("ru", "only_text"))]


# -- desk -> Telegram ------------------------------------------------------------------


async def test_a_ticket_the_user_closed_is_not_announced_again(
    bot: tb.SupportBot, desk: respx.MockRouter
) -> None:
    desk.get("tickets/").respond(json=[ticket()])
    desk.post("tickets/16/resolve/").respond(json=ticket(resolved=True))

    await bot.on_close(message())
    await bot.handle_event(TicketResolved(id=16, event_id="support:9"))

    assert sent(bot) == [(123, tb.text_for("en", "closed", id=16))]


async def test_an_event_for_a_deleted_ticket_is_skipped(
    bot: tb.SupportBot, desk: respx.MockRouter
) -> None:
    desk.get("tickets/99/").respond(404, json={"code": "not_found", "detail": "gone"})

    await bot.handle_event(TicketResolved(id=99, event_id="support:9"))

    assert sent(bot) == []


async def test_a_stream_reset_is_logged_and_its_cursor_saved(
    bot: tb.SupportBot, caplog: pytest.LogCaptureFixture
) -> None:
    class Events:
        def stream(self, after: str | None, transport: str) -> AsyncIterator[Any]:
            assert (after, transport) == ("support:1", "auto")

            async def events() -> AsyncIterator[Any]:
                yield StreamReset(event_id="support:500")

            return events()

    bot.client = cast(Any, type("Client", (), {"events": Events()})())
    bot.state.cursor = "support:1"

    await bot.follow_desk()

    assert "stream.reset" in caplog.text
    assert tb.State.load(bot.state.path).cursor == "support:500"

"""``python -m support_client.telegram`` and the state store.

Each bad setting stops the entry point with one line on stderr and exit
status 2, before it polls anything; the state store is a protocol any object
can follow (here one in memory), and the default file keeps every field.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest
import respx
from aiogram import Bot, Dispatcher, Router

from support_client import AsyncSupportClient, TicketResolved
from support_client import telegram as tg
from tests import telegram_fixtures
from tests.fake_telegram import FakeTelegram
from tests.harness.process import ROOT, free_port
from tests.sdk.common import MESSAGE, TICKET
from tests.telegram_fixtures import BASE, TOKEN

# The shared fixture (tests/telegram_fixtures.py), where pytest looks for it.
telegram = telegram_fixtures.telegram

GOOD = {"TELEGRAM_BOT_TOKEN": TOKEN, "SUPPORT_BASE_URL": BASE, "SUPPORT_API_KEY": "k"}
PROG = "support_client.telegram"


# -- the entry point -------------------------------------------------------------------

SETTINGS: list[tuple[str, dict[str, str], str]] = [
    ("no-token", {"TELEGRAM_BOT_TOKEN": ""}, "TELEGRAM_BOT_TOKEN is not set"),
    ("bad-token", {"TELEGRAM_BOT_TOKEN": "nope"},
     "TELEGRAM_BOT_TOKEN does not look like a bot token"),
    ("no-desk", {"SUPPORT_BASE_URL": " "}, "SUPPORT_BASE_URL is not set"),
    ("desk-not-a-url", {"SUPPORT_BASE_URL": "desk.test/support/"},
     "SUPPORT_BASE_URL must be an http(s) URL"),
    ("desk-ftp", {"SUPPORT_BASE_URL": "ftp://desk.test/"},
     "SUPPORT_BASE_URL must be an http(s) URL"),
    ("no-key", {"SUPPORT_API_KEY": ""}, "SUPPORT_API_KEY is not set"),
    ("api-not-a-url", {"TELEGRAM_API_URL": "localhost:8081"},
     "TELEGRAM_API_URL must be an http(s) URL"),
    ("timeout-word", {"SUPPORT_BOT_DELIVERY_TIMEOUT": "soon"}, "SUPPORT_BOT_DELIVERY_TIMEOUT must"),
    ("timeout-nan", {"SUPPORT_BOT_DELIVERY_TIMEOUT": "nan"}, "SUPPORT_BOT_DELIVERY_TIMEOUT must"),
    ("timeout-long", {"SUPPORT_BOT_DELIVERY_TIMEOUT": "3601"}, "SUPPORT_BOT_DELIVERY_TIMEOUT must"),
    ("staff-word", {"SUPPORT_STAFF_CHAT_ID": "staff"}, "SUPPORT_STAFF_CHAT_ID must be"),
    ("staff-positive", {"SUPPORT_STAFF_CHAT_ID": "12345"}, "SUPPORT_STAFF_CHAT_ID must be"),
    ("staff-zero", {"SUPPORT_STAFF_CHAT_ID": "0"}, "SUPPORT_STAFF_CHAT_ID must be"),
    ("staff-fraction", {"SUPPORT_STAFF_CHAT_ID": "-100.5"}, "SUPPORT_STAFF_CHAT_ID must be"),
    ("staff-past-64-bits", {"SUPPORT_STAFF_CHAT_ID": str(-(2**63) - 1)},
     "SUPPORT_STAFF_CHAT_ID must be"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "line"), [s[1:] for s in SETTINGS], ids=[s[0] for s in SETTINGS]
)
def test_a_bad_setting_exits_2_with_one_line(
    changes: dict[str, str], line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert tg.main(env={**GOOD, **changes}) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{PROG}: {line}")
    assert err.endswith("\n")
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("raw", "chat_id"), [("", None), (" -1001234567890 ", -1001234567890), ("-42", -42)]
)
def test_the_staff_chat_id_is_optional_and_negative(raw: str, chat_id: int | None) -> None:
    settings = tg.Settings.from_env({**GOOD, "SUPPORT_STAFF_CHAT_ID": raw})
    assert settings.staff_chat_id == chat_id


STATE_FILES: list[tuple[str, str | None, str]] = [
    ("not-json", "{", "is not this bot's state file"),
    ("a-list", "[]", "is not this bot's state file"),
    ("cursor-a-number", '{"cursor": 5}', "is not this bot's state file"),
    ("staff-cursor-a-number", '{"cursor": null, "staff_cursor": 5}',
     "is not this bot's state file"),
    ("topic-not-a-pair", '{"cursor": null, "topics": {"1": 5}}', "is not this bot's state file"),
    ("no-directory", None, "cannot be written"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("content", "line"), [s[1:] for s in STATE_FILES], ids=[s[0] for s in STATE_FILES]
)
def test_a_state_file_it_cannot_use_exits_2(
    tmp_path: Path, content: str | None, line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "state.json"
    if content is None:
        path = tmp_path / "missing" / "state.json"
    else:
        path.write_text(content)

    assert tg.main(env={**GOOD, "SUPPORT_BOT_STATE": str(path)}) == 2

    err = capsys.readouterr().err
    assert err.startswith(f"{PROG}: SUPPORT_BOT_STATE {path} ")
    assert line in err
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("status", "line"),
    [
        (401, f"SUPPORT_API_KEY was refused by the desk at {BASE}"),
        (403, f"SUPPORT_API_KEY was refused by the desk at {BASE}"),
        (
            404,
            f"SUPPORT_BASE_URL {BASE} is not where the support app is mounted "
            "(events/ answered 404)",
        ),
    ],
)
def test_a_desk_that_refuses_exits_2(
    telegram: FakeTelegram,
    tmp_path: Path,
    status: int,
    line: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    env = {
        **GOOD,
        "TELEGRAM_API_URL": telegram.url,
        "SUPPORT_BOT_STATE": str(tmp_path / "state.json"),
    }
    with respx.mock(base_url=BASE) as desk:
        desk.get("events/").respond(status, json={"code": "x", "detail": "no"})
        assert tg.main(env=env) == 2
    assert capsys.readouterr().err == f"{PROG}: {line}\n"
    assert telegram.methods == ["getme"]  # checked, never polled


def test_an_unreachable_bot_api_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    env = {**GOOD, "TELEGRAM_API_URL": nowhere, "SUPPORT_BOT_STATE": str(tmp_path / "s.json")}
    assert tg.main(env=env) == 2
    assert capsys.readouterr().err.startswith(
        f"{PROG}: cannot reach the Telegram Bot API at {nowhere}"
    )


def test_python_m_support_client_telegram_exits_2_with_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SUPPORT_", "TELEGRAM_"))}
    result = subprocess.run(
        [sys.executable, "-m", "support_client.telegram"],
        cwd=tmp_path,
        env={**env, **GOOD, "PYTHONPATH": str(ROOT), "SUPPORT_STAFF_CHAT_ID": "1001234"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"{PROG}: SUPPORT_STAFF_CHAT_ID must be a group's chat id, a negative integer "
        "(e.g. -1001234567890), not '1001234'"
    ]


def test_the_sdk_does_not_import_the_telegram_side_and_it_imports_no_django() -> None:
    code = (
        "import sys, support_client\n"
        "assert 'aiogram' not in sys.modules and 'support_client.telegram' not in sys.modules\n"
        "import support_client.telegram\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in {'django', 'support'})\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env={"PATH": ""})


# -- the state store -------------------------------------------------------------------


class MemoryState:
    """A project's own store: dicts in memory, every call recorded."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.values: dict[str, Any] = {"cursor": None, "staff_cursor": None}
        self.languages: dict[int, tg.Language] = {}
        self.albums: dict[str, list[tg.Incoming]] = {}
        self.topics: dict[int, tuple[int, int]] = {}

    async def get_cursor(self) -> str | None:
        cursor: str | None = self.values["cursor"]
        return cursor

    async def set_cursor(self, cursor: str) -> None:
        self.calls.append(("set_cursor", cursor))
        self.values["cursor"] = cursor

    async def get_staff_cursor(self) -> str | None:
        cursor: str | None = self.values["staff_cursor"]
        return cursor

    async def set_staff_cursor(self, cursor: str) -> None:
        self.values["staff_cursor"] = cursor

    async def get_language(self, user_id: int) -> tg.Language | None:
        return self.languages.get(user_id)

    async def set_language(self, user_id: int, language: tg.Language) -> None:
        self.calls.append(("set_language", (user_id, language)))
        self.languages[user_id] = language

    async def get_albums(self) -> dict[str, list[tg.Incoming]]:
        self.calls.append(("get_albums", None))
        return {key: list(parts) for key, parts in self.albums.items()}

    async def set_album(self, key: str, parts: Sequence[tg.Incoming]) -> None:
        self.calls.append(("set_album", (key, [p.message_id for p in parts])))
        self.albums[key] = list(parts)

    async def drop_album(self, key: str) -> None:
        self.calls.append(("drop_album", key))
        self.albums.pop(key, None)

    async def get_topic(self, ticket_id: int) -> tuple[int, int] | None:
        return self.topics.get(ticket_id)

    async def set_topic(self, ticket_id: int, chat_id: int, topic_id: int) -> None:
        self.topics[ticket_id] = (chat_id, topic_id)


class Chat:
    """Telegram, as far as the bot needs it: what it sends, recorded."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, str]] = []

    async def send(self, chat_id: int, text: str, *, patient: bool = False) -> bool:
        self.sent.append((chat_id, text))
        return True

    async def send_files(
        self, chat_id: int, text: str, files: Sequence[tg.Outgoing], *, patient: bool = False
    ) -> bool:
        return True

    async def download(self, file_id: str, destination: Path) -> None:
        destination.write_bytes(b"\x89PNG\r\n\x1a\n" + b"p" * 16)


def part(message_id: int, *, group: str = "g1") -> tg.Incoming:
    media = (tg.Media(f"f{message_id}", "photo", f"photo_{message_id}.jpg", 10),)
    return tg.Incoming(123, 123, message_id, "ru", None, media, group)


def test_both_stores_follow_the_protocol(tmp_path: Path) -> None:
    assert isinstance(MemoryState(), tg.StateStore)
    assert isinstance(tg.JsonFileState(tmp_path / "s.json"), tg.StateStore)


async def test_a_projects_own_store_keeps_languages_and_albums() -> None:
    state = MemoryState()
    chat = Chat()
    async with AsyncSupportClient(BASE, api_key="k", max_retries=0) as client:
        support = tg.SupportBot(client, chat, state, delivery_timeout=0, retry_delay=0)
        with respx.mock(base_url=BASE) as desk:
            desk.get("tickets/").respond(json=[TICKET])
            post = desk.post("tickets/16/messages/").respond(201, json=MESSAGE)

            await support.on_message(part(7))
            await support.on_message(part(8))
            await support.on_message(part(7))  # delivered again: kept once
            assert list(state.albums.values()) == [[part(7), part(8)]]
            await support.desk.flush_albums(123)
            await support.handle_event(TicketResolved(id=16, event_id="support:9"))

    assert post.call_count == 1
    assert state.calls == [
        ("set_language", (123, "ru")),
        ("get_albums", None),  # read once, then kept in memory
        ("set_album", ("tg-123-album-g1-7", [7])),
        ("set_album", ("tg-123-album-g1-7", [7, 8])),
        ("drop_album", "tg-123-album-g1-7"),
    ]
    assert state.albums == {}
    # The announcement is in the language the store keeps for the user.
    assert chat.sent == [(123, tg.text_for("ru", "resolved", id=16))]


async def test_the_relay_resumes_from_the_cursor_a_projects_store_keeps() -> None:
    state = MemoryState()
    state.values["cursor"] = "support:41"
    async with AsyncSupportClient(BASE, api_key="k", max_retries=0) as client:
        support = tg.SupportBot(client, Chat(), state)
        with respx.mock(base_url=BASE, assert_all_called=False) as desk:
            poll = desk.get("events/").respond(json={"events": [], "cursor": "support:99"})
            assert await support.relay.start_cursor() == "support:41"
            state.values["cursor"] = None  # a first start: the desk's present cursor, saved
            assert await support.relay.start_cursor() == "support:99"
    assert poll.call_count == 1
    assert state.calls == [("set_cursor", "support:99")]


async def test_albums_a_projects_store_kept_are_posted_after_a_restart() -> None:
    state = MemoryState()
    state.albums = {"tg-123-album-g1-7": [part(7)]}
    async with AsyncSupportClient(BASE, api_key="k", max_retries=0) as client:
        support = tg.SupportBot(client, Chat(), state, retry_delay=0, album_window=0)
        with respx.mock(base_url=BASE) as desk:
            desk.get("tickets/").respond(json=[TICKET])
            post = desk.post("tickets/16/messages/").respond(201, json=MESSAGE)
            await support.desk.flush_albums(123)
    assert post.call_count == 1
    assert state.albums == {}


async def test_the_file_keeps_the_staff_cursor_and_topics(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    state = await tg.JsonFileState.open(path)
    await state.set_cursor("support:41")
    await state.set_staff_cursor("support:40")
    await state.set_topic(16, -1001234, 77)
    await state.set_language(5, "ru")

    loaded = tg.JsonFileState.load(path)
    assert await loaded.get_cursor() == "support:41"
    assert await loaded.get_staff_cursor() == "support:40"
    assert await loaded.get_topic(16) == (-1001234, 77)
    assert await loaded.get_topic(17) is None
    assert await loaded.get_language(5) == "ru"
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]  # no temporary left


def test_a_file_from_before_the_staff_group_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text(json.dumps({"version": 1, "cursor": "support:3", "languages": {"5": "ru"},
                                "albums": {}}))  # fmt: skip
    loaded = tg.JsonFileState.load(path)
    assert (loaded.cursor, loaded.staff_cursor, loaded.topics) == ("support:3", None, {})
    assert loaded.languages == {5: "ru"}


# -- the staff group's wiring -------------------------------------------------------------


class FakeStaff:
    """Stands in for ``support_client.telegram.staff.StaffGroup``: records how it is
    made, where its router goes, and fails at start as a group without topics would."""

    made: ClassVar[list[dict[str, Any]]] = []
    order: ClassVar[list[str]] = []

    def __init__(self, **kwargs: Any) -> None:
        FakeStaff.made.append(kwargs)
        self.started = asyncio.Event()

    def router(self) -> Router:
        router = Router(name="staff")

        async def started(dispatcher: Dispatcher) -> None:
            FakeStaff.order.extend(r.name for r in dispatcher.sub_routers)
            self.started.set()

        router.startup.register(started)
        return router

    async def check(self) -> str | None:
        return None  # usable at start; it fails once running (below)

    async def run(self) -> None:
        await self.started.wait()
        raise tg.ConfigError("the bot may not manage topics in the staff group")


@pytest.fixture
def fake_staff(monkeypatch: pytest.MonkeyPatch) -> type[FakeStaff]:
    FakeStaff.made.clear()
    FakeStaff.order.clear()
    module = types.ModuleType("support_client.telegram.staff")
    module.StaffGroup = FakeStaff  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "support_client.telegram.staff", module)

    async def relay(self: tg.SupportBot) -> None:
        await asyncio.Event().wait()  # the desk's stream is not what this is about

    monkeypatch.setattr(tg.SupportBot, "run", relay)
    return FakeStaff


def test_the_staff_group_goes_first_and_its_failure_at_start_exits_2(
    telegram: FakeTelegram,
    tmp_path: Path,
    fake_staff: type[FakeStaff],
    capsys: pytest.CaptureFixture[str],
) -> None:
    env = {
        **GOOD,
        "TELEGRAM_API_URL": telegram.url,
        "SUPPORT_BOT_STATE": str(tmp_path / "state.json"),
        "SUPPORT_STAFF_CHAT_ID": "-1001234",
    }
    with respx.mock(base_url=BASE) as desk:
        desk.get("events/").respond(json={"events": [], "cursor": "support:1"})
        assert tg.main(env=env) == 2

    assert capsys.readouterr().err == (
        f"{PROG}: the bot may not manage topics in the staff group\n"
    )
    (made,) = fake_staff.made
    assert made["chat_id"] == -1001234
    assert isinstance(made["bot"], Bot)
    assert isinstance(made["client"], AsyncSupportClient)
    assert isinstance(made["state"], tg.JsonFileState)
    assert fake_staff.order == ["staff", "support", "support-greeting"]


def test_a_staff_chat_without_the_staff_module_exits_2(
    telegram: FakeTelegram,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setitem(sys.modules, "support_client.telegram.staff", None)
    env = {
        **GOOD,
        "TELEGRAM_API_URL": telegram.url,
        "SUPPORT_BOT_STATE": str(tmp_path / "state.json"),
        "SUPPORT_STAFF_CHAT_ID": "-1001234",
    }
    with respx.mock(base_url=BASE) as desk:
        desk.get("events/").respond(json={"events": [], "cursor": "support:1"})
        assert tg.main(env=env) == 2
    assert capsys.readouterr().err.startswith(
        f"{PROG}: SUPPORT_STAFF_CHAT_ID is set but this installation has no staff group"
    )

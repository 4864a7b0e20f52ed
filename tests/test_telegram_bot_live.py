"""The example Telegram bot end to end: a Telegram user, the desk, a manager, and back.

The example project runs under daphne, a fake Bot API server (tests/fake_telegram.py)
on loopback stands in for Telegram, and the bot runs as users run it,
``python example/telegram_bot.py``, in a subprocess pointed at both. The bot
is SIGKILLed between two manager replies and restarted; the desk is stopped
under it while a user writes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import Any

import pytest

from support_client import SupportClient, Ticket
from tests.fake_telegram import FakeTelegram
from tests.harness.process import ROOT
from tests.harness.server import Credentials, LiveServer, running_server

pytestmark = pytest.mark.live

USER, RU_USER = 5001, 5002
TOKEN = "4242:TEST-token_for-the-fake-api"
LONG_REPLY = ("All the details you asked for. " * 200)[:5000]


@dataclass
class BotProcess:
    """``python example/telegram_bot.py`` against a live desk and the fake Telegram."""

    workdir: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def log(self) -> Path:
        return self.workdir / "bot.log"

    @property
    def state(self) -> Path:
        return Path(self.env["SUPPORT_BOT_STATE"])

    def start(self) -> BotProcess:
        self.starts += 1
        with self.log.open("ab") as log:
            log.write(f"--- start {self.starts}\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                [sys.executable, "example/telegram_bot.py"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self

    def saved_cursor(self) -> str | None:
        try:
            cursor: str | None = json.loads(self.state.read_text())["cursor"]
        except (OSError, ValueError, KeyError):
            return None
        return cursor

    def wait_ready(self, telegram: FakeTelegram, calls_before: int) -> None:
        """Its cursor is saved and it is long-polling Telegram."""
        wait(
            "the bot to start",
            lambda: (
                self.saved_cursor() is not None
                and telegram.methods[calls_before:].count("getupdates") > 0
            ),
            self,
        )

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(10)
        self.process = None

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""


#: How long a wait may take before the test fails: generous, for a busy machine
#: (processes starting, a restarted desk); a passing test waits only as long as it must.
TIMEOUT = 60.0


def wait(what: str, check: Callable[[], bool], bot: BotProcess, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if bot.process is not None and bot.process.poll() is not None:
            raise AssertionError(f"the bot exited ({bot.process.returncode}):\n{bot.tail()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; bot log:\n{bot.tail()}")
        time.sleep(0.05)


_ids = count(1)


def update(user: int, text: str | None = None, *, message_id: int, lang: str = "en",
           **content: Any) -> dict[str, Any]:  # fmt: skip
    """A Telegram update: a private message from *user*, text or other *content*."""
    message: dict[str, Any] = {
        "message_id": message_id,
        "date": int(time.time()),
        "chat": {"id": user, "type": "private", "first_name": "Ann"},
        "from": {"id": user, "is_bot": False, "first_name": "Ann", "language_code": lang},
        **content,
    }
    if text is not None:
        message["text"] = text
        if text.startswith("/"):
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": len(text.split()[0])}
            ]
    return {"update_id": next(_ids), "message": message}


@dataclass
class World:
    live: LiveServer
    credentials: Credentials
    telegram: FakeTelegram
    bot: BotProcess
    desk: SupportClient  # a manager
    api: SupportClient  # the bot's key, to look at what the bot did
    messages: Callable[[int], list[str]] = field(init=False)

    def __post_init__(self) -> None:
        # What the user wrote to a ticket (manager replies left out).
        self.messages = lambda ticket: [
            m.text for m in self.api.messages.list(ticket) if m.sender == "user"
        ]

    def tickets(self, user: int) -> list[Ticket]:
        return self.api.tickets.list(user_id=user)

    def wait(self, what: str, check: Callable[[], bool], timeout: float = TIMEOUT) -> None:
        wait(what, check, self.bot, timeout)

    def wait_sent(self, user: int, text: str, timeout: float = TIMEOUT) -> None:
        self.wait(
            f"{text[:40]!r} sent to {user}", lambda: text in self.telegram.texts_to(user), timeout
        )

    def wait_caught_up(self) -> None:
        """The bot has handled, and saved, every event the desk has so far."""
        head = self.desk.events.poll().cursor
        self.wait(f"the bot's cursor to reach {head}", lambda: self.bot.saved_cursor() == head)


@contextmanager
def world(tmp_path: Path, **bot_env: str) -> Iterator[World]:
    # Replies longer than Telegram's 4,096 characters exist only if the desk takes them.
    with running_server(tmp_path, SUPPORT_MAX_TEXT_LENGTH="8000") as (live, credentials):
        telegram = FakeTelegram().start()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SUPPORT_", "TELEGRAM_"))}
        env.update(
            TELEGRAM_BOT_TOKEN=TOKEN,
            TELEGRAM_API_URL=telegram.url,
            SUPPORT_BASE_URL=live.api,
            SUPPORT_API_KEY=credentials.bot_key,
            SUPPORT_BOT_STATE=str(tmp_path / "state" / "bot.json"),
            PYTHONPATH=str(ROOT),
            PYTHONUNBUFFERED="1",
            **bot_env,
        )
        (tmp_path / "state").mkdir()
        bot = BotProcess(tmp_path, env).start()
        try:
            with (
                SupportClient(live.api, token=credentials.managers[0]) as desk,
                SupportClient(live.api, api_key=credentials.bot_key) as api,
            ):
                bot.wait_ready(telegram, 0)
                yield World(live, credentials, telegram, bot, desk, api)
        finally:
            bot.kill(signal.SIGTERM)
            telegram.stop()


@pytest.fixture
def w(tmp_path: Path) -> Iterator[World]:
    with world(tmp_path) as started:
        yield started


def test_from_a_telegram_user_to_a_manager_and_back_across_a_restart(w: World) -> None:
    tg, bot = w.telegram, w.bot

    # A first message opens a ticket titled after it; the user hears its number.
    first = "My app crashes on start\nsince this morning, every time"
    tg.push(update(USER, first, message_id=1))
    w.wait("a ticket", lambda: len(w.tickets(USER)) == 1)
    ticket = w.tickets(USER)[0]
    assert ticket.title == "My app crashes on start"
    assert w.messages(ticket.id) == [first]
    w.wait_sent(USER, f"Thank you! Your request #{ticket.id} is open; a manager will answer here.")

    # The next goes to the same ticket; updates delivered twice are posted once.
    second = update(USER, "It started after the update", message_id=2)
    tg.push(second)
    tg.push(second)
    tg.push(update(USER, first, message_id=1))  # the first message, delivered again
    tg.push(update(USER, "Version 2.1", message_id=3))
    w.wait("three messages", lambda: len(w.messages(ticket.id)) >= 3)
    assert w.messages(ticket.id) == [first, "It started after the update", "Version 2.1"]
    assert len(w.tickets(USER)) == 1

    # A manager's reply takes the ticket: both reach the user, the announcement first.
    w.desk.messages.send(ticket.id, "Reply one: please reinstall")
    w.wait_sent(USER, "Reply one: please reinstall")
    assigned = f"A manager has taken your request #{ticket.id}."
    assert tg.texts_to(USER)[-2:] == [assigned, "Reply one: please reinstall"]

    # Killed between two replies, restarted: each reply reaches the user exactly once.
    w.wait_caught_up()
    bot.kill()
    w.desk.messages.send(ticket.id, "Reply two: and clear the cache")
    calls = len(tg.methods)
    bot.start().wait_ready(tg, calls)
    w.wait_sent(USER, "Reply two: and clear the cache")

    # A 5,000-character reply arrives as two Telegram messages, through a 429.
    tg.rate_limit_next_send(retry_after=1)
    w.desk.messages.send(ticket.id, LONG_REPLY)
    w.wait("the long reply", lambda: "".join(tg.texts_to(USER)).endswith(LONG_REPLY))
    parts = tg.texts_to(USER)[-2:]
    assert "".join(parts) == LONG_REPLY
    assert all(len(part) <= 4096 for part in parts)
    assert tg.rate_limited == 1

    # A photo gets a plain answer and posts nothing; in Russian for a Russian user.
    photo = [{"file_id": "p1", "file_unique_id": "u1", "width": 90, "height": 90}]
    tg.push(update(USER, message_id=4, photo=photo))
    w.wait_sent(
        USER, "Sorry, only text messages reach support for now. Please describe it in words."
    )
    sticker = {"file_id": "s1", "file_unique_id": "s1", "type": "regular", "width": 512,
               "height": 512, "is_animated": False, "is_video": False}  # fmt: skip
    tg.push(update(RU_USER, message_id=1, lang="ru", sticker=sticker))
    w.wait("a Russian answer", lambda: any("только текстовые" in t for t in tg.texts_to(RU_USER)))
    assert len(w.messages(ticket.id)) == 3
    assert w.tickets(RU_USER) == []

    # Resolution is announced; writing again opens a new ticket; /close resolves it.
    w.desk.tickets.resolve(ticket.id)
    w.wait_sent(USER, f"Your request #{ticket.id} is resolved. If you need anything else, "
                      "just write here: that opens a new request.")  # fmt: skip
    tg.push(update(USER, "One more question", message_id=5))
    w.wait("a second ticket", lambda: len(w.tickets(USER)) == 2)
    again = w.tickets(USER)[-1]
    assert (again.title, w.messages(again.id)) == ("One more question", ["One more question"])
    tg.push(update(USER, "/close", message_id=6))
    w.wait("the ticket closed", lambda: w.api.tickets.get(again.id).resolved)
    w.wait_sent(USER, f"Request #{again.id} is closed. Write here any time to open a new one.")
    w.wait_caught_up()

    texts = tg.texts_to(USER)
    for reply in ("Reply one: please reinstall", "Reply two: and clear the cache", assigned):
        assert texts.count(reply) == 1, (reply, texts)
    assert not any(f"#{again.id} is resolved" in text for text in texts)  # answered by /close
    assert [t.text for t in w.api.messages.list(ticket.id) if t.sender == "supp"] == [
        "Reply one: please reinstall",
        "Reply two: and clear the cache",
        LONG_REPLY,
    ]


def test_a_message_sent_while_the_desk_is_down(tmp_path: Path) -> None:
    """Retried with the same key while the desk restarts; the user is told when it stays down."""
    # 20 s: room for daphne to restart on a busy machine (the bot retries at about
    # 0, 1, 3, 7 and 15 s); the user is told about 16 s after the desk stays down.
    with world(tmp_path, SUPPORT_BOT_DELIVERY_TIMEOUT="20") as w:
        tg = w.telegram
        w.live.stop()
        tg.push(update(USER, "Are you there?", message_id=1))
        time.sleep(1.5)
        w.live.start()
        w.wait("the ticket", lambda: len(w.tickets(USER)) == 1)
        ticket = w.tickets(USER)[0]
        assert w.messages(ticket.id) == ["Are you there?"]

        w.live.stop()
        tg.push(update(USER, "Hello?", message_id=2))
        w.wait_sent(
            USER,
            "Sorry, your message could not be delivered to support right now. "
            "Please send it again a little later.",
        )
        w.live.start()
        assert w.messages(ticket.id) == ["Are you there?"]
        assert len(w.tickets(USER)) == 1


def test_a_missing_setting_stops_the_bot_with_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SUPPORT_", "TELEGRAM_"))}
    result = subprocess.run(
        [sys.executable, "example/telegram_bot.py"],
        cwd=ROOT,
        env={**env, "PYTHONPATH": str(ROOT), "TELEGRAM_BOT_TOKEN": TOKEN},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "telegram_bot: SUPPORT_BASE_URL is not set (where the support app is mounted, "
        "e.g. http://127.0.0.1:8000/support/)"
    ]

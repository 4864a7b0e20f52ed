"""The staff group end to end: the example server, the fake Bot API with a forum group,
and ``python -m support_client.telegram`` with ``SUPPORT_STAFF_CHAT_ID`` in a subprocess.

A manager links their Telegram account with a code from the desk, answers a user
from the ticket's topic (the user gets it, the desk records that manager and
assigns the ticket), sees a console reply in the topic and resolves the ticket
with ``/resolve``; an unlinked member is refused; a deleted topic is created
again; 60 user messages reach the topic in order through the group's flood
control; a key without the staff capability is refused with 403.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from support_client import PermissionDeniedError, SupportClient, Ticket
from support_client.telegram.staff_texts import TEXTS
from tests.fake_telegram import FakeTelegram, Topic, group_message, member
from tests.harness.process import ROOT
from tests.harness.server import Credentials, LiveServer, running_server
from tests.test_telegram_bot_live import TIMEOUT, TOKEN, BotProcess, update, wait

pytestmark = pytest.mark.live

EN = TEXTS["en"]
GROUP = -1001234567890
USER = 5001
MIA, EVE = 7001, 7002  # Telegram ids: Mia links to manager m1; Eve never links


@dataclass
class StaffWorld:
    live: LiveServer
    credentials: Credentials
    telegram: FakeTelegram
    bot: BotProcess
    desk: SupportClient  # manager m1, in the console
    api: SupportClient  # the staff bot's key

    def wait(self, what: str, check: Callable[[], bool], timeout: float = TIMEOUT) -> None:
        wait(what, check, self.bot, timeout)

    def topic(self) -> Topic:
        self.wait("a topic", lambda: len(self.telegram.topics(GROUP)) == 1)
        return self.telegram.topics(GROUP)[0]

    def in_topic(self, thread: int) -> list[str]:
        return self.telegram.texts_in(GROUP, thread)

    def wait_in_topic(self, thread: int, text: str) -> None:
        self.wait(f"{text[:40]!r} in the topic", lambda: text in self.in_topic(thread))

    def ticket(self) -> Ticket:
        self.wait("a ticket", lambda: len(self.api.tickets.list(user_id=USER)) == 1)
        return self.api.tickets.list(user_id=USER)[0]

    def say(self, thread: int, who: int, text: str, topic: Topic | None = None) -> None:
        """A member writes in a topic, as Telegram delivers it to the bot."""
        self.telegram.push(
            group_message(
                GROUP,
                thread,
                member(who, "Mia" if who == MIA else "Eve"),
                text,
                message_id=self.telegram.next_message_id(),
                topic_name=topic.name if topic else "",
            )
        )

    def staff_cursor(self) -> str | None:
        try:
            cursor: str | None = json.loads(self.bot.state.read_text())["staff_cursor"]
        except (OSError, ValueError, KeyError):
            return None
        return cursor

    def wait_mirrored(self) -> None:
        head = self.desk.events.poll().cursor
        self.wait(f"the mirror at {head}", lambda: self.staff_cursor() == head)


@contextmanager
def staff_world(tmp_path: Path) -> Iterator[StaffWorld]:
    with running_server(tmp_path) as (live, credentials):
        staff_key = live.manage("support_create_bot_key", "--staff", "staff-bot").split()[-1]
        telegram = FakeTelegram().start()
        telegram.add_group(GROUP)
        telegram.flood_limit(GROUP, 20, 2.0)  # Telegram's 20 a minute, 30 times faster
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SUPPORT_", "TELEGRAM_"))}
        env.update(
            TELEGRAM_BOT_TOKEN=TOKEN,
            TELEGRAM_API_URL=telegram.url,
            SUPPORT_BASE_URL=live.api,
            SUPPORT_API_KEY=staff_key,
            SUPPORT_BOT_STATE=str(tmp_path / "state" / "bot.json"),
            SUPPORT_STAFF_CHAT_ID=str(GROUP),
            PYTHONPATH=str(ROOT),
            PYTHONUNBUFFERED="1",
        )
        (tmp_path / "state").mkdir()
        bot = BotProcess(tmp_path, env, ("-m", "support_client.telegram")).start()
        try:
            with (
                SupportClient(live.api, token=credentials.managers[0]) as desk,
                SupportClient(live.api, api_key=staff_key) as api,
            ):
                world = StaffWorld(live, credentials, telegram, bot, desk, api)
                bot.wait_ready(telegram, 0)
                world.wait("the mirror to start", lambda: world.staff_cursor() is not None)
                yield world
        finally:
            bot.kill(signal.SIGTERM)
            telegram.stop()


def private(user: int, text: str, message_id: int) -> dict[str, Any]:
    return update(user, text, message_id=message_id)


def test_a_manager_answers_from_the_topic(tmp_path: Path) -> None:
    with staff_world(tmp_path) as w:
        tg = w.telegram
        manager_id = w.credentials.manager_ids[0]

        # The manager links their Telegram account with a code the console shows.
        code = w.desk.telegram.create_link_code().code
        tg.push(private(MIA, f"/link {code}", 1))
        w.wait("the link", lambda: any(t.startswith("Linked:") for t in tg.texts_to(MIA)))
        assert w.desk.telegram.link().telegram_id == MIA
        tg.push(private(EVE, f"/link {code}", 1))  # used: refused in words
        w.wait("a refusal", lambda: tg.texts_to(EVE) == [EN["link_invalid"]])

        # A user's first message opens a ticket and its topic, where the message shows.
        tg.push(private(USER, "My app crashes on start", 2))
        ticket = w.ticket()
        topic = w.topic()
        assert topic.name == f"#{ticket.id} · Ann · My app crashes on start"
        w.wait_in_topic(topic.thread_id, "My app crashes on start")
        assert w.api.tickets.get(ticket.id).telegram_topic is not None

        # An unlinked member is refused, and nothing reaches the user or the desk.
        w.say(topic.thread_id, EVE, "I can help!")
        w.wait_in_topic(topic.thread_id, EN["how_to_link"])

        # Mia answers in the topic: the user gets it, as m1's reply, and m1 has the ticket.
        w.say(topic.thread_id, MIA, "Please reinstall the app")
        w.wait(
            "the reply to reach the user", lambda: "Please reinstall the app" in tg.texts_to(USER)
        )
        replies = [m for m in w.desk.messages.list(ticket.id) if m.sender == "supp"]
        assert [(m.text, m.author, m.via_staff_chat) for m in replies] == [
            ("Please reinstall the app", manager_id, True)
        ]
        manager = w.desk.tickets.get(ticket.id).support_manager
        assert manager is not None
        assert manager.id == manager_id
        assert "I can help!" not in tg.texts_to(USER)

        # A reply in the console shows in the topic, named after its manager.
        w.desk.messages.send(ticket.id, "Or clear the cache")
        w.wait_in_topic(topic.thread_id, "M1: Or clear the cache")

        # /resolve in the topic resolves the ticket; the user is told; the topic closes.
        w.say(topic.thread_id, MIA, "/resolve")
        w.wait("the ticket resolved", lambda: w.desk.tickets.get(ticket.id).resolved)
        w.wait(
            "the user told",
            lambda: any(f"#{ticket.id} is resolved" in t for t in tg.texts_to(USER)),
        )
        w.wait("the topic closed", lambda: tg.topic(GROUP, topic.thread_id).closed)
        w.wait_mirrored()
        closed = tg.topic(GROUP, topic.thread_id)
        assert closed.name.startswith("✅ #")
        texts = w.in_topic(topic.thread_id)
        assert "Please reinstall the app" not in " ".join(texts)  # not mirrored back
        assert texts.count("My app crashes on start") == 1
        assert "✅ Resolved." in texts

        # A key without the staff capability cannot act for a manager.
        with SupportClient(w.live.api, api_key=w.credentials.bot_key, max_retries=0) as plain:
            with pytest.raises(PermissionDeniedError) as refused:
                plain.acting(MIA).messages.send(ticket.id, "sneaky")
            assert refused.value.code == "permission_denied"
            with pytest.raises(PermissionDeniedError):
                plain.telegram.set_topic(ticket.id, chat_id=GROUP, topic_id=1)
        assert len(w.desk.messages.list(ticket.id)) == 3


def test_a_deleted_topic_and_a_busy_minute(tmp_path: Path) -> None:
    with staff_world(tmp_path) as w:
        tg = w.telegram
        tg.push(private(USER, "First", 1))
        ticket = w.ticket()
        old = w.topic().thread_id
        w.wait_in_topic(old, "First")

        # Someone deletes the topic: the next message makes a new one, with a summary.
        tg.delete_topic(GROUP, old)
        tg.push(private(USER, "Second", 2))
        w.wait(
            "a new topic",
            lambda: len(tg.topics(GROUP)) == 1 and tg.topics(GROUP)[0].thread_id != old,
        )
        new = tg.topics(GROUP)[0].thread_id
        w.wait_in_topic(new, "Second")
        summary = w.in_topic(new)[0]
        assert summary.startswith(EN["summary_recreated"])
        stored = w.api.tickets.get(ticket.id).telegram_topic
        assert stored is not None
        assert (stored.chat_id, stored.topic_id) == (GROUP, new)

        # 60 messages in a minute reach the topic in order, through the flood control's 429s.
        flooded = tg.flooded
        for n in range(60):
            tg.push(private(USER, f"message {n}", 10 + n))
        w.wait("60 messages in the topic", lambda: w.in_topic(new)[-1:] == ["message 59"], 120)
        assert [t for t in w.in_topic(new) if t.startswith("message ")] == [
            f"message {n}" for n in range(60)
        ]
        assert tg.flooded > flooded


def test_two_first_messages_and_a_kill_make_one_topic(tmp_path: Path) -> None:
    """Two updates at once; the bot is SIGKILLed while it sends the first into the new
    topic (Telegram never took it) and restarted: one topic, each message once."""
    with staff_world(tmp_path) as w:
        tg = w.telegram
        tg.hold("sendMessage", GROUP)
        tg.push(private(USER, "First at once", 1))
        tg.push(private(USER, "Second at once", 2))
        w.wait("the mirror sending into the topic", lambda: tg.held > 0)
        w.bot.kill()
        tg.release()
        calls = len(tg.methods)
        w.bot.start().wait_ready(tg, calls)
        topic = w.topic()
        w.wait_in_topic(topic.thread_id, "Second at once")
        w.wait_mirrored()
        texts = w.in_topic(topic.thread_id)
        assert texts.count("First at once") == 1
        assert texts.count("Second at once") == 1
        assert len(tg.topics(GROUP, deleted=True)) == 1
        ticket = w.ticket()
        assert [m.text for m in w.api.messages.list(ticket.id)] == [
            "First at once",
            "Second at once",
        ]

"""The Telegram bot end to end: a Telegram user, the desk, a manager, and back.

The example project runs under daphne, a fake Bot API server (tests/fake_telegram.py)
on loopback stands in for Telegram, and the bot runs as users run it, in a
subprocess pointed at both: the example project bot, ``python
example/telegram_bot.py`` (its own ``/start`` beside the support router), and
the package on its own, ``python -m support_client.telegram``. The bot
is SIGKILLed between two manager replies and restarted; the desk is stopped
under it while a user writes. Files go both ways byte for byte (a user's
photo, album, voice message and document to the desk; a manager's photo and
PDF to the user as multipart uploads), and the bot is SIGKILLed in the middle
of an upload (a proxy between it and the desk holds the upload half sent, or
its answer) without anything posted twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import Any, Literal

import pytest

from support_client import Message, SupportClient, Ticket
from tests.fake_telegram import FakeTelegram
from tests.harness.process import ROOT
from tests.harness.server import Credentials, LiveServer, running_server

pytestmark = pytest.mark.live

USER, RU_USER = 5001, 5002
TOKEN = "4242:TEST-token_for-the-fake-api"
LONG_REPLY = ("All the details you asked for. " * 200)[:5000]


@dataclass
class BotProcess:
    """The bot (``python example/telegram_bot.py`` unless *command* says otherwise)
    against a live desk and the fake Telegram."""

    workdir: Path
    env: dict[str, str]
    command: tuple[str, ...] = ("example/telegram_bot.py",)
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
                [sys.executable, *self.command],
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

    def saved_albums(self) -> dict[str, Any] | None:
        """The albums its state file keeps for posting (``None`` before it has one)."""
        try:
            albums: dict[str, Any] = json.loads(self.state.read_text())["albums"]
        except (OSError, ValueError, KeyError):
            return None
        return albums

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

    def posted(self, user: int) -> list[Message]:
        """Every message the user posted, over all their tickets, oldest first."""
        return [
            m
            for t in self.tickets(user)
            for m in self.api.messages.list(t.id)
            if m.sender == "user"
        ]

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
def world(
    tmp_path: Path,
    proxy: StallingProxy | None = None,
    command: tuple[str, ...] = BotProcess.command,
    **bot_env: str,
) -> Iterator[World]:
    """The desk, the fake Telegram and the bot (run as *command*); the bot reaches the
    desk through *proxy* (started here on the desk's port) when one is given."""
    # Replies longer than Telegram's 4,096 characters exist only if the desk takes them.
    with running_server(tmp_path, SUPPORT_MAX_TEXT_LENGTH="8000") as (live, credentials):
        telegram = FakeTelegram().start()
        if proxy is not None:
            proxy.start(live.port)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SUPPORT_", "TELEGRAM_"))}
        env.update(
            TELEGRAM_BOT_TOKEN=TOKEN,
            TELEGRAM_API_URL=telegram.url,
            SUPPORT_BASE_URL=live.api if proxy is None else f"{proxy.url}/support/",
            SUPPORT_API_KEY=credentials.bot_key,
            SUPPORT_BOT_STATE=str(tmp_path / "state" / "bot.json"),
            PYTHONPATH=str(ROOT),
            PYTHONUNBUFFERED="1",
            **bot_env,
        )
        (tmp_path / "state").mkdir()
        bot = BotProcess(tmp_path, env, command).start()
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
            if proxy is not None:
                proxy.stop()


@pytest.fixture
def w(tmp_path: Path) -> Iterator[World]:
    with world(tmp_path) as started:
        yield started


GREETING = "Welcome to Acme! Ask us anything here"  # example/telegram_bot.py's own /start


def test_from_a_telegram_user_to_a_manager_and_back_across_a_restart(w: World) -> None:
    tg, bot = w.telegram, w.bot

    # The project's own /start answers; it, /help (nobody's) and /link are not posted.
    tg.push(update(USER, "/start", message_id=100))
    tg.push(update(USER, "/help", message_id=101))
    tg.push(update(USER, "/link K7QM-2XPA", message_id=102))
    w.wait("the greeting", lambda: any(t.startswith(GREETING) for t in tg.texts_to(USER)))

    # A first message opens a ticket titled after it; the user hears its number.
    first = "My app crashes on start\nsince this morning, every time"
    tg.push(update(USER, first, message_id=1))
    w.wait("a ticket", lambda: len(w.tickets(USER)) == 1)
    ticket = w.tickets(USER)[0]
    assert ticket.title == "My app crashes on start"
    assert w.messages(ticket.id) == [first]
    w.wait_sent(USER, f"Thank you! Your request #{ticket.id} is open; a manager will answer here.")
    assert len(tg.texts_to(USER)) == 2  # the greeting, then this: the commands posted nothing

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

    # A message of a kind the desk can't carry gets a plain answer; in Russian for a Russian user.
    tg.push(update(USER, message_id=4, dice={"emoji": "🎲", "value": 3}))
    w.wait_sent(
        USER,
        "Sorry, this kind of message can't reach support. Please send text, photos, "
        "files or voice messages.",
    )
    tg.push(update(RU_USER, message_id=1, lang="ru", dice={"emoji": "🎯", "value": 6}))
    w.wait("a Russian answer", lambda: any("не доходят" in t for t in tg.texts_to(RU_USER)))
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


def test_the_package_runs_on_its_own(tmp_path: Path) -> None:
    """``python -m support_client.telegram``: its /start, a ticket, a reply, /close."""
    with world(tmp_path, command=("-m", "support_client.telegram")) as w:
        tg = w.telegram
        tg.push(update(USER, "/start", message_id=1))
        w.wait_sent(
            USER,
            "Hello! This is the support chat. Write your question here and a support "
            "manager will answer in this chat.\n\nSend /close when your question is solved.",
        )
        tg.push(update(USER, "Where is my order?", message_id=2))
        w.wait("a ticket", lambda: len(w.tickets(USER)) == 1)
        (ticket,) = w.tickets(USER)
        assert w.messages(ticket.id) == ["Where is my order?"]
        w.desk.messages.send(ticket.id, "On its way")
        w.wait_sent(USER, "On its way")
        tg.push(update(USER, "/close", message_id=3))
        w.wait("the ticket closed", lambda: w.api.tickets.get(ticket.id).resolved)
        w.wait_caught_up()
        assert w.messages(ticket.id) == ["Where is my order?"]


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


# -- files -------------------------------------------------------------------------------


def image(kind: str, width: int, height: int, colour: tuple[int, int, int]) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, format=kind)
    return out.getvalue()


OGG = b"OggS\x00\x02" + bytes(range(256)) * 40
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n" + b"% filler\n" * 3000 + b"%%EOF\n"


def file(telegram: FakeTelegram, data: bytes, **more: Any) -> dict[str, Any]:
    """A file as an update describes it, its bytes served by the fake's getFile."""
    file_id = telegram.add_file(data)
    return {"file_id": file_id, "file_unique_id": f"u-{file_id}", "file_size": len(data), **more}


def sizes(telegram: FakeTelegram, largest: bytes) -> list[dict[str, Any]]:
    """A photo's sizes as Telegram sends them, smallest first; only the largest is the real one."""
    thumb = image("JPEG", 8, 6, (0, 0, 0))
    return [
        file(telegram, thumb, width=8, height=6),
        file(telegram, largest, width=64, height=48),
    ]


def test_a_users_photo_album_voice_and_document_reach_the_desk_byte_for_byte(w: World) -> None:
    tg = w.telegram
    photo = image("JPEG", 64, 48, (200, 30, 60))
    first, second = image("PNG", 30, 20, (0, 90, 0)), image("JPEG", 64, 48, (0, 0, 200))

    # A photo with a caption opens a ticket titled after the caption.
    tg.push(update(USER, message_id=1, photo=sizes(tg, photo), caption="The error I get"))
    w.wait("the photo", lambda: len(w.posted(USER)) == 1)
    (ticket,) = w.tickets(USER)
    assert ticket.title == "The error I get"
    (posted,) = w.posted(USER)
    assert posted.text == "The error I get"
    assert [(a.kind, a.width, a.height) for a in posted.attachments] == [("photo", 64, 48)]
    assert w.api.attachments.read(posted.attachments[0]) == photo
    assert len(tg.downloads) == 1  # the largest size only

    # An album (one media_group_id, two updates): one message, two attachments, its caption.
    album = {"media_group_id": "13579"}
    tg.push(update(USER, message_id=2, photo=sizes(tg, first), caption="Both screens", **album))
    tg.push(update(USER, message_id=3, photo=sizes(tg, second), **album))
    w.wait("the album", lambda: len(w.posted(USER)) == 2)
    together = w.posted(USER)[1]
    assert together.text == "Both screens"
    assert [w.api.attachments.read(a) for a in together.attachments] == [first, second]

    # A voice message, a document with its name, and a location as text.
    tg.push(update(USER, message_id=4, voice=file(tg, OGG, duration=2, mime_type="audio/ogg")))
    tg.push(update(USER, message_id=5, document=file(tg, PDF, file_name="invoice №7.pdf")))
    tg.push(update(USER, message_id=6, location={"latitude": 52.52, "longitude": 13.405}))
    w.wait("five messages", lambda: len(w.posted(USER)) == 5)
    voice, document, location = w.posted(USER)[2:]
    assert [(a.kind, a.content_type) for a in voice.attachments] == [("voice", "audio/ogg")]
    assert w.api.attachments.read(voice.attachments[0]) == OGG
    assert [(a.kind, a.filename) for a in document.attachments] == [("document", "invoice №7.pdf")]
    assert w.api.attachments.read(document.attachments[0]) == PDF
    assert location.text.startswith("📍 52.520000, 13.405000 https://www.openstreetmap.org/")
    assert location.attachments == []

    w.wait_caught_up()
    assert len(w.tickets(USER)) == 1
    assert len(w.posted(USER)) == 5  # nothing twice


def test_an_over_limit_file_gets_the_apology_and_no_post(w: World) -> None:
    tg = w.telegram
    too_big = 25 * 1024 * 1024
    video = {"file_id": "big-1", "file_unique_id": "ub1", "file_size": too_big, "width": 1,
             "height": 1, "duration": 60}  # fmt: skip
    tg.push(update(USER, message_id=1, video=video, caption="the recording"))
    w.wait_sent(
        USER,
        "Sorry, this file is over 20 MB, the largest a bot can receive from Telegram, so it "
        "did not reach support. Please send a smaller file, or a link to it.",
    )
    # Telegram did not say the size; getFile refuses it: the same answer, in Russian.
    refused = tg.add_file(b"never served", too_big=True)
    tg.push(update(RU_USER, message_id=1, lang="ru",
                   document={"file_id": refused, "file_unique_id": "ur"}))  # fmt: skip
    w.wait("a Russian apology", lambda: any("больше 20 МБ" in t for t in tg.texts_to(RU_USER)))
    w.wait_caught_up()
    assert w.tickets(USER) == w.tickets(RU_USER) == []
    assert tg.downloads == []


def test_a_managers_photo_and_pdf_reach_the_user_as_uploads(w: World) -> None:
    tg = w.telegram
    tg.push(update(USER, "Can you send me the invoice?", message_id=1))
    w.wait("a ticket", lambda: len(w.tickets(USER)) == 1)
    (ticket,) = w.tickets(USER)
    screen = image("PNG", 40, 30, (10, 120, 200))

    w.desk.messages.send(
        ticket.id, "Here it is", files=[("annotated.png", screen), ("invoice.pdf", PDF)]
    )
    w.wait("two uploads", lambda: len(tg.uploads_to(USER)) == 2)
    photo, pdf = tg.uploads_to(USER)
    assert (photo.method, photo.filename, photo.data, photo.caption) == (
        "sendphoto", "annotated.png", screen, "Here it is",
    )  # fmt: skip
    assert (pdf.method, pdf.filename, pdf.data, pdf.caption) == (
        "senddocument", "invoice.pdf", PDF, None,
    )  # fmt: skip

    # A caption over Telegram's 1,024 characters goes first, as a message of its own.
    long_caption = "Details: " + "all of it. " * 150
    w.desk.messages.send(ticket.id, long_caption, files=[("terms.pdf", PDF)])
    w.wait("the third upload", lambda: len(tg.uploads_to(USER)) == 3)
    terms = tg.uploads_to(USER)[2]
    assert (terms.method, terms.data, terms.caption) == ("senddocument", PDF, None)
    assert long_caption in tg.texts_to(USER)
    w.wait_caught_up()
    assert all(u.reference is None for u in tg.uploads_to(USER))  # bytes, never a URL


class StallingProxy:
    """Between the bot and the desk: passes everything, but holds the first multipart
    ``POST``: half its body sent (``"request"``: the desk never gets all of it) or all of
    it sent and its answer kept back (``"response"``: the desk has stored it, the bot
    does not know), until :meth:`stop`."""

    def __init__(self, hold: Literal["request", "response"]) -> None:
        self.hold = hold
        self.port = 0
        self.stalled = threading.Event()
        self._armed = True
        self._upstream = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, upstream_port: int) -> StallingProxy:
        self._upstream = upstream_port
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def stop(self) -> None:
        async def shutdown() -> None:
            # Not by cancelling the handlers (Python 3.11's streams then log an error):
            # the stalled one is released, every connection closed, and they end.
            if self._server is not None:
                self._server.close()
            self._release.set()
            for end in self._connections:
                end.close()
            if self._handlers:
                await asyncio.wait(self._handlers, timeout=5)
            await asyncio.sleep(0.1)  # the transports done closing

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _start(self) -> None:
        self._release = asyncio.Event()
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        task.add_done_callback(self._handlers.discard)
        upstream_reader, upstream = await asyncio.open_connection("127.0.0.1", self._upstream)
        self._connections |= {writer, upstream}
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lowered = head.lower()
            if b"\r\nupgrade:" not in lowered:  # one request a connection, so each is seen
                head = with_connection_close(head)
            if self._armed and lowered.startswith(b"post ") and b"multipart/form-data" in lowered:
                self._armed = False
                match = re.search(rb"\r\ncontent-length: *(\d+)", lowered)
                assert match is not None, head
                await self._stall(head, int(match.group(1)), reader, upstream, upstream_reader)
                return
            upstream.write(head)
            pipes = {
                asyncio.ensure_future(pipe(reader, upstream)),
                asyncio.ensure_future(pipe(upstream_reader, writer)),
            }
            _done, rest = await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
            if rest:
                await asyncio.wait(rest, timeout=5)
            for task in rest:
                task.cancel()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            for end in (writer, upstream):
                end.close()
                self._connections.discard(end)

    async def _stall(
        self,
        head: bytes,
        length: int,
        reader: asyncio.StreamReader,
        upstream: asyncio.StreamWriter,
        upstream_reader: asyncio.StreamReader,
    ) -> None:
        sent = length // 2 if self.hold == "request" else length
        upstream.write(head + await reader.readexactly(sent))
        await upstream.drain()
        if self.hold == "response":
            await upstream_reader.readuntil(b"\r\n\r\n")  # the desk has answered: it is stored
        self.stalled.set()
        await self._release.wait()  # until stop()


def with_connection_close(head: bytes) -> bytes:
    lines = head.split(b"\r\n")
    kept = [line for line in lines[1:] if line and not line.lower().startswith(b"connection:")]
    return b"\r\n".join([lines[0], *kept, b"Connection: close", b"", b""])


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    with contextlib.suppress(ConnectionError, OSError):
        writer.write_eof()


@pytest.mark.parametrize("hold", ["response", "request"])
def test_a_sigkill_mid_upload_posts_nothing_twice(tmp_path: Path, hold: str) -> None:
    """Killed while its upload's answer is held (the desk stored it) or while the upload
    is half sent (the desk stored nothing): after the restart, one message, whole."""
    proxy = StallingProxy(hold)  # type: ignore[arg-type]
    with world(tmp_path, proxy) as w:
        tg, bot = w.telegram, w.bot
        shots = [image("PNG", 300, 300, (i * 60, 20, 20)) for i in (1, 2)]
        shots = [shot + os.urandom(200_000) for shot in shots]  # big enough to stall halfway
        album = {"media_group_id": "2468"}
        tg.push(update(USER, message_id=1, photo=sizes(tg, shots[0]), caption="Look", **album))
        tg.push(update(USER, message_id=2, photo=sizes(tg, shots[1]), **album))
        wait("the upload to stall", lambda: proxy.stalled.is_set(), bot)
        bot.kill()
        stored = w.posted(USER)
        assert len(stored) == (1 if hold == "response" else 0)

        calls = len(tg.methods)
        bot.start().wait_ready(tg, calls)
        w.wait("the album posted and forgotten", lambda: bot.saved_albums() == {})
        w.wait_caught_up()
        (posted,) = w.posted(USER)
        assert posted.text == "Look"
        assert [w.api.attachments.read(a) for a in posted.attachments] == shots
        assert len(w.tickets(USER)) == 1

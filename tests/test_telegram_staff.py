"""The staff group's parts, without processes: a fake Bot API (tests/fake_telegram.py,
driven through aiogram) and a fake desk (an in-memory object with the SDK's methods).

The whole path against the example server is in ``test_telegram_staff_live.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import string
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import count
from pathlib import Path
from typing import Any, cast

import pytest
from aiogram import Bot, Dispatcher
from aiogram.types import Update

from support_client import (
    APITimeoutError,
    AsyncSupportClient,
    Attachment,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    Event,
    EventPage,
    LinkedManager,
    Message,
    MessageNew,
    NotFoundError,
    PermissionDeniedError,
    TelegramTopic,
    Ticket,
    TicketAssigned,
    TicketCreated,
    TicketReopened,
    TicketResolved,
    TicketUnassigned,
)
from support_client.telegram.config import ConfigError
from support_client.telegram.staff import StaffGroup, topic_name
from support_client.telegram.staff_texts import TEXTS
from support_client.telegram.state import JsonFileState
from support_client.telegram.texts import Language
from tests import telegram_fixtures
from tests.fake_telegram import FakeTelegram, group_message, member, service_message
from tests.harness.process import ROOT, free_port

EN = TEXTS["en"]
GROUP = -1001234567890
OTHER_GROUP = -1009876543210
TOKEN = "4242:TEST-token"
USER = 5001
MIA, BOB, EVE = 77, 78, 79  # linked, linked, not linked


# -- a fake desk -----------------------------------------------------------------------


@dataclass
class Manager:
    id: int
    first_name: str
    last_name: str = ""
    active: bool = True


@dataclass
class DeskTicket:
    id: int
    user: int
    title: str
    created_at: datetime
    resolved: bool = False
    manager: Manager | None = None
    topic: tuple[int, int] | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)


class FakeDesk:
    """The desk as the staff group sees it through the SDK: tickets, messages,
    attachments, the event log, topics set once, link codes and acting managers."""

    def __init__(self) -> None:
        self.tickets_: dict[int, DeskTicket] = {}
        self.log: list[Event] = []
        self.managers = {MIA: Manager(1, "Mia", "Smith"), BOB: Manager(2, "Bob")}
        self.files: dict[str, bytes] = {}
        self.codes: dict[str, Manager] = {"K7QM-2XPA": Manager(3, "Zoe")}
        self.set_topic_calls: list[tuple[int, int, int, int | None]] = []
        #: Before the next set_topic is stored, another writer's topic is (a lost race).
        self.other_writer: int | None = None
        self.keys: dict[str, Message] = {}
        #: The bot's key has the staff capability.
        self.staff_key = True
        #: What tickets.get raises instead of answering.
        self.get_error: Exception | None = None
        self.writes = 0
        #: Private notes written: (ticket id, manager id, text).
        self.notes_: list[tuple[int, int, str]] = []
        self.note_calls = 0
        self._ids = count(100)
        self.events = self
        self.messages = self
        self.attachments = self
        self.telegram = self
        self.tickets = self

    # -- test side -----------------------------------------------------------------

    def open(self, title: str = "My app crashes", text: str = "It crashes") -> DeskTicket:
        ticket = DeskTicket(len(self.tickets_) + 1, USER, title, datetime.now(UTC))
        self.tickets_[ticket.id] = ticket
        self._emit(TicketCreated(event_id="", ticket=self._ticket(ticket)))
        self.post(ticket, "user", text)
        return ticket

    def post(
        self,
        ticket: DeskTicket,
        sender: str,
        text: str,
        *,
        author: Manager | None = None,
        via_staff_chat: bool = False,
        files: Sequence[tuple[str, str, bytes]] = (),
    ) -> Message:
        if author is not None and ticket.manager is None:  # a reply takes the ticket
            ticket.manager = author
            self._emit(TicketAssigned(event_id="", id=ticket.id, support_manager=author.id))
        number = next(self._ids)
        attachments = []
        for name, kind, content in files:
            url = f"http://desk.test/files/{number}/{name}"
            self.files[url] = content
            attachments.append(
                {
                    "id": next(self._ids),
                    "kind": kind,
                    "filename": name,
                    "size": len(content),
                    "content_type": "application/octet-stream",
                    "url": url,
                }
            )
        data: dict[str, Any] = {
            "id": number,
            "created_at": datetime.now(UTC).isoformat(),
            "sender": sender,
            "text": text,
            "viewed": False,
            "ticket": ticket.id,
            "author": author.id if author else None,
            "attachments": attachments,
            "via_staff_chat": via_staff_chat,
        }
        ticket.messages.append(data)
        message = Message.model_validate(data)
        self._emit(MessageNew(event_id="", message=message))
        return message

    def resolve_(self, ticket: DeskTicket) -> None:
        ticket.resolved = True
        self._emit(TicketResolved(event_id="", id=ticket.id))

    def _emit(self, event: Event) -> None:
        self.log.append(event.model_copy(update={"event_id": f"e{len(self.log) + 1}"}))

    def _ticket(self, ticket: DeskTicket) -> Ticket:
        data: dict[str, Any] = {
            "id": ticket.id,
            "user": {"telegram_id": ticket.user},
            "created_at": ticket.created_at.isoformat(),
            "title": ticket.title,
            "resolved": ticket.resolved,
            "support_manager": None
            if ticket.manager is None
            else {
                "id": ticket.manager.id,
                "first_name": ticket.manager.first_name,
                "last_name": ticket.manager.last_name,
            },
            "telegram_topic": None
            if ticket.topic is None
            else {"chat_id": ticket.topic[0], "topic_id": ticket.topic[1]},
        }
        return Ticket.model_validate(data)

    # -- the SDK's methods ---------------------------------------------------------

    async def poll(self, after: str | None = None, *, timeout: int = 0) -> EventPage:
        return EventPage(events=[], cursor=self.log[-1].event_id if self.log else "e0")

    def stream(self, after: str | None = None, *, transport: str = "auto") -> AsyncIterator[Event]:
        async def events() -> AsyncIterator[Event]:
            index = int((after or "e0")[1:])
            while True:
                while index < len(self.log):
                    yield self.log[index]
                    index += 1
                await asyncio.sleep(0.01)

        return events()

    async def get(self, ticket_id: int) -> Ticket:
        if self.get_error is not None:
            raise self.get_error
        if ticket_id not in self.tickets_:
            raise NotFoundError("gone", status_code=404, code="not_found")
        return self._ticket(self.tickets_[ticket_id])

    async def list(self, ticket_id: int, *, ordering: str = "created_at", limit: int = 100) -> Any:
        messages = [Message.model_validate(m) for m in self.tickets_[ticket_id].messages]
        if ordering.startswith("-"):
            messages.reverse()
        return messages[:limit]

    async def download(self, attachment: Attachment, *, to: Path) -> int:
        if attachment.url not in self.files:
            raise NotFoundError("gone", status_code=404, code="not_found")
        to.write_bytes(self.files[attachment.url])
        return len(self.files[attachment.url])

    async def set_topic(
        self, ticket_id: int, *, chat_id: int, topic_id: int, replaces: int | None = None
    ) -> TelegramTopic:
        await asyncio.sleep(0.01)  # as a request would: another writer may come between
        if not self.staff_key:
            raise PermissionDeniedError("no", status_code=403, code="permission_denied")
        self.set_topic_calls.append((ticket_id, chat_id, topic_id, replaces))
        ticket = self.tickets_[ticket_id]
        if self.other_writer is not None:
            ticket.topic, self.other_writer = (GROUP, self.other_writer), None
        if ticket.topic is None or (replaces is not None and replaces == ticket.topic[1]):
            ticket.topic = (chat_id, topic_id)
        return TelegramTopic(chat_id=ticket.topic[0], topic_id=ticket.topic[1])

    async def confirm_link(self, code: str, telegram_id: int) -> LinkedManager:
        manager = self.codes.pop(code.upper(), None)
        if manager is None:
            raise BadRequestError("bad code", status_code=400, code="invalid_link_code")
        self.managers[telegram_id] = manager
        self.writes += 1
        name = f"{manager.first_name} {manager.last_name}".strip()
        return LinkedManager.model_validate(
            {
                "manager": {"id": manager.id, "username": "zoe", "name": name},
                "telegram_id": telegram_id,
            }
        )

    def acting(self, telegram_id: int) -> Acting:
        return Acting(self, telegram_id)


class Acting:
    """``client.acting(telegram_id)``: the desk's rules for the linked manager."""

    def __init__(self, desk: FakeDesk, telegram_id: int) -> None:
        self.desk = desk
        self.telegram_id = telegram_id
        self.messages = self
        self.tickets = self
        self.notes = self

    async def create(self, ticket_id: int, text: str) -> None:
        """``notes.create``: any ticket (resolved, another's), never an event for a bot."""
        manager = self._manager()
        self.desk.note_calls += 1
        if ticket_id not in self.desk.tickets_:
            raise NotFoundError("gone", status_code=404, code="not_found")
        if text == "slow":  # written, but the answer is lost
            self.desk.notes_.append((ticket_id, manager.id, text))
            raise APITimeoutError("read timed out")
        if len(text) > 4096:
            raise BadRequestError(
                "too long", status_code=400, code="invalid", detail="The note is too long."
            )
        self.desk.writes += 1
        self.desk.notes_.append((ticket_id, manager.id, text))

    def _manager(self) -> Manager:
        manager = self.desk.managers.get(self.telegram_id)
        if manager is None:
            raise PermissionDeniedError("no", status_code=403, code="telegram_not_linked")
        if not manager.active:
            raise PermissionDeniedError("no", status_code=403, code="permission_denied")
        return manager

    def _open(self, ticket_id: int, manager: Manager) -> DeskTicket:
        ticket = self.desk.tickets_[ticket_id]
        if ticket.manager is not None and ticket.manager != manager:
            raise ConflictError("no", status_code=409, code="assigned_to_other")
        return ticket

    async def send(
        self,
        ticket_id: int,
        text: str = "",
        *,
        files: Any = (),
        kinds: Any = None,
        idempotency_key: str | None = None,
    ) -> Message:
        manager = self._manager()
        if idempotency_key in self.desk.keys:
            return self.desk.keys[idempotency_key]
        ticket = self._open(ticket_id, manager)
        if ticket.resolved:
            raise ConflictError("no", status_code=409, code="ticket_resolved")
        named = [
            (name, kind, Path(content).read_bytes())  # the SDK reads a path as it sends
            for (name, content), kind in zip(files, kinds or [], strict=True)
        ]
        self.desk.writes += 1
        message = self.desk.post(
            ticket, "supp", text, author=manager, via_staff_chat=True, files=named
        )
        if idempotency_key:
            self.desk.keys[idempotency_key] = message
        return message

    async def assign(self, ticket_id: int) -> None:
        manager = self._manager()
        ticket = self.desk.tickets_[ticket_id]
        if ticket.manager is not None and ticket.manager != manager:
            raise ConflictError("no", status_code=409, code="already_assigned")
        ticket.manager = manager
        self.desk.writes += 1
        self.desk._emit(TicketAssigned(event_id="", id=ticket_id, support_manager=manager.id))

    async def unassign(self, ticket_id: int) -> None:
        self._open(ticket_id, self._manager()).manager = None
        self.desk.writes += 1
        self.desk._emit(TicketUnassigned(event_id="", id=ticket_id))

    async def resolve(self, ticket_id: int) -> None:
        self._open(ticket_id, self._manager()).resolved = True
        self.desk.writes += 1
        self.desk._emit(TicketResolved(event_id="", id=ticket_id))

    async def reopen(self, ticket_id: int) -> None:
        self._open(ticket_id, self._manager()).resolved = False
        self.desk.writes += 1
        self.desk._emit(TicketReopened(event_id="", id=ticket_id))


# -- fixtures --------------------------------------------------------------------------


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    fake = FakeTelegram().start()
    fake.add_group(GROUP)
    fake.add_user(USER, "Ann")
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def bot_token() -> str:
    """The token of the shared ``bot`` fixture's Bot (on this module's ``telegram``)."""
    return TOKEN


bot = telegram_fixtures.bot  # the shared fixture (tests/telegram_fixtures.py)


@pytest.fixture
def desk() -> FakeDesk:
    return FakeDesk()


def staff(bot: Bot, desk: FakeDesk, state: JsonFileState) -> StaffGroup:
    return StaffGroup(
        bot=bot, client=cast(AsyncSupportClient, desk), state=state, chat_id=GROUP, retry_delay=0
    )


def new_state(tmp_path: Path) -> JsonFileState:
    return JsonFileState(tmp_path / f"state-{next(_states)}.json")


_states = count(1)


@pytest.fixture
def group(bot: Bot, desk: FakeDesk, tmp_path: Path) -> StaffGroup:
    return staff(bot, desk, new_state(tmp_path))


def saved(group: StaffGroup) -> JsonFileState:
    """The state as its file has it (what a restart would read)."""
    return JsonFileState.load(state_of(group).path)


def state_of(group: StaffGroup) -> JsonFileState:
    assert isinstance(group.state, JsonFileState)
    return group.state


async def eventually(what: str, check: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def mirroring(group: StaffGroup) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(group.run())
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def caught_up(group: StaffGroup, desk: FakeDesk, task: asyncio.Task[None]) -> None:
    head = desk.log[-1].event_id

    def done() -> bool:
        if task.done():
            task.result()  # raise what stopped it
        return saved(group).staff_cursor == head  # on disk: what a restart reads

    await eventually(f"the mirror at {head}", done, timeout=20)


async def feed(bot: Bot, group: StaffGroup, update: dict[str, Any]) -> None:
    dispatcher = Dispatcher()
    dispatcher.include_router(group.router())
    await dispatcher.feed_update(bot, Update.model_validate(update, context={"bot": bot}))
    await group.settle()


def thread_of(group: StaffGroup, ticket: DeskTicket) -> int:
    return state_of(group).topics[ticket.id][1]


# -- helpers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "resolved", "name"),
    [
        ("Crash", False, "#7 · Ann · Crash"),
        ("Crash", True, "✅ #7 · Ann · Crash"),
        ("  two\nlines  ", False, "#7 · Ann · two lines"),
        ("x" * 200, False, "#7 · Ann · " + "x" * 116 + "…"),
    ],
)
def test_topic_name_shows_the_ticket_and_its_state(title: str, resolved: bool, name: str) -> None:
    ticket = Ticket.model_validate(
        {
            "id": 7,
            "user": {"telegram_id": USER},
            "created_at": "2026-12-06T20:00:00Z",
            "title": title,
            "resolved": resolved,
        }
    )
    assert topic_name(ticket, "Ann") == name
    assert len(topic_name(ticket, "Ann")) <= 128


# -- check -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({}, None),
        ({"is_forum": False}, "is not a forum"),
        ({"bot_status": "member"}, "the bot is not an admin"),
        ({"can_manage_topics": False}, "may not manage topics"),
        ({"member_error": "Bad Request: member list is inaccessible"}, "refused to show"),
        (None, "refused to show"),  # a chat the bot is not in, or that is not there
    ],
)
async def test_check_reports_a_group_it_cannot_use_in_one_line(
    telegram: FakeTelegram, bot: Bot, desk: FakeDesk, tmp_path: Path,
    settings: Any, problem: str | None,
) -> None:  # fmt: skip
    chat = GROUP if settings is not None else OTHER_GROUP
    if settings is not None:
        telegram.add_group(GROUP, **settings)
    found = await StaffGroup(
        bot=bot, client=cast(AsyncSupportClient, desk), state=new_state(tmp_path), chat_id=chat
    ).check()
    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert problem in found
        assert "\n" not in found
        assert str(chat) in found


# -- topics ----------------------------------------------------------------------------


async def test_one_topic_per_ticket_with_two_first_messages_at_once(
    telegram: FakeTelegram, bot: Bot, desk: FakeDesk, tmp_path: Path
) -> None:
    ticket = desk.open()
    one, two = staff(bot, desk, new_state(tmp_path)), staff(bot, desk, new_state(tmp_path))
    threads = await asyncio.gather(
        one.topic_for(ticket.id), two.topic_for(ticket.id), one.topic_for(ticket.id)
    )
    assert len(set(threads)) == 1
    assert [t.thread_id for t in telegram.topics(GROUP)] == [threads[0]]
    assert len(telegram.topics(GROUP, deleted=True)) == 2  # the loser's topic is gone
    assert ticket.topic == (GROUP, threads[0])
    assert telegram.topics(GROUP)[0].name == f"#{ticket.id} · Ann · My app crashes"


async def test_a_lost_race_deletes_its_own_topic(
    telegram: FakeTelegram, bot: Bot, desk: FakeDesk, group: StaffGroup
) -> None:
    ticket = desk.open()
    theirs = (await bot.create_forum_topic(GROUP, "theirs")).message_thread_id
    desk.other_writer = theirs  # stored on the desk while this one created its own
    assert await group.topic_for(ticket.id) == theirs
    mine = [t for t in telegram.topics(GROUP, deleted=True) if t.thread_id != theirs]
    assert [t.deleted for t in mine] == [True]
    assert state_of(group).topics[ticket.id] == (GROUP, theirs)


@pytest.mark.parametrize("desk_has", ["nothing", "another"])
async def test_a_topic_created_before_a_crash_is_stored_or_deleted_after_it(
    telegram: FakeTelegram, bot: Bot, desk: FakeDesk, group: StaffGroup, desk_has: str
) -> None:
    """Stopped after creating a topic (cached) but before the desk stored it: the next
    run stores it; or, when the desk has another (it lost), deletes it."""
    ticket = desk.open()
    mine = (await bot.create_forum_topic(GROUP, "mine")).message_thread_id
    await group.state.set_topic(ticket.id, GROUP, mine)
    theirs = (await bot.create_forum_topic(GROUP, "theirs")).message_thread_id
    if desk_has == "another":
        ticket.topic = (GROUP, theirs)
    expected = mine if desk_has == "nothing" else theirs
    assert await group.topic_for(ticket.id) == expected
    assert ticket.topic == (GROUP, expected)
    assert await group.state.get_topic(ticket.id) == (GROUP, expected)
    assert telegram.topic(GROUP, mine).deleted is (desk_has == "another")
    assert len(telegram.topics(GROUP, deleted=True)) == 2  # none created here


async def test_the_mirror_resumes_from_its_cursor_and_posts_nothing_twice(
    telegram: FakeTelegram, bot: Bot, desk: FakeDesk, tmp_path: Path
) -> None:
    state = new_state(tmp_path)
    first = staff(bot, desk, state)
    state.staff_cursor = "e0"  # from the start of this desk's log
    ticket = desk.open(text="It crashes")
    desk.post(ticket, "user", "Since Monday")
    async with mirroring(first) as task:
        await caught_up(first, desk, task)
    thread = thread_of(first, ticket)
    # Restarted: what came meanwhile follows, nothing before it again.
    desk.post(ticket, "supp", "Please reinstall", author=desk.managers[MIA])
    desk.post(ticket, "user", "Done, thanks")
    again = staff(bot, desk, JsonFileState.load(state.path))  # as read at a start
    async with mirroring(again) as task:
        await caught_up(again, desk, task)
    assert telegram.texts_in(GROUP, thread) == [
        "It crashes",
        "Since Monday",
        "👤 Taken by Mia Smith.",
        "Mia Smith: Please reinstall",
        "Done, thanks",
    ]
    assert len(telegram.topics(GROUP, deleted=True)) == 1


async def test_a_first_start_begins_at_the_desks_present(
    telegram: FakeTelegram, bot: Bot, desk: FakeDesk, group: StaffGroup
) -> None:
    desk.open(text="old news")
    async with mirroring(group):
        await eventually("a cursor", lambda: state_of(group).staff_cursor is not None)
        assert state_of(group).staff_cursor == desk.log[-1].event_id
        ticket = desk.open("Second", text="new")
        await eventually("the new one", lambda: ticket.id in state_of(group).topics)
        await eventually(
            "its message", lambda: telegram.texts_in(GROUP, thread_of(group, ticket)) == ["new"]
        )
    assert len(telegram.topics(GROUP)) == 1  # the old ticket got none


async def test_messages_from_the_group_are_not_mirrored_back(
    telegram: FakeTelegram, bot: Bot, desk: FakeDesk, group: StaffGroup
) -> None:
    state_of(group).staff_cursor = "e0"
    ticket = desk.open(text="Help")
    desk.post(ticket, "supp", "From the topic", author=desk.managers[MIA], via_staff_chat=True)
    desk.post(ticket, "supp", "From the console", author=desk.managers[MIA])
    async with mirroring(group) as task:
        await caught_up(group, desk, task)
    assert telegram.texts_in(GROUP, thread_of(group, ticket)) == [
        "Help",
        "👤 Taken by Mia Smith.",
        "Mia Smith: From the console",
    ]


async def test_files_both_ways_and_the_tickets_state(
    telegram: FakeTelegram, bot: Bot, desk: FakeDesk, group: StaffGroup
) -> None:
    state_of(group).staff_cursor = "e0"
    ticket = desk.open(text="Help")
    desk.post(ticket, "user", "the screen", files=[("shot.png", "photo", b"PNG-bytes")])
    async with mirroring(group) as task:
        await caught_up(group, desk, task)
        thread = thread_of(group, ticket)
        uploads = telegram.uploads_to(GROUP, thread)
        assert [(u.kind, u.data, u.caption) for u in uploads] == [
            ("photo", b"PNG-bytes", "the screen")
        ]

        # A manager's message with a document in the topic: one acting post with the file.
        pdf = telegram.add_file(b"%PDF-1.4")
        said = group_message(
            GROUP,
            thread,
            member(MIA, "Mia"),
            message_id=500,
            caption="See this",
            document={"file_id": pdf, "file_unique_id": "u", "file_name": "a.pdf"},
        )
        await feed(bot, group, said)
        await feed(bot, group, said)  # delivered again after a crash: posted once
        posted = [m for m in ticket.messages if m["sender"] == "supp"]
        assert [(m["text"], m["author"], m["via_staff_chat"]) for m in posted] == [
            ("See this", 1, True)
        ]
        assert desk.files[posted[0]["attachments"][0]["url"]] == b"%PDF-1.4"
        assert ticket.manager == desk.managers[MIA]  # the reply took the ticket

        desk.resolve_(ticket)
        await caught_up(group, desk, task)
        topic = telegram.topic(GROUP, thread)
        assert topic.closed
        assert topic.name.startswith("✅ #")
    texts = telegram.texts_in(GROUP, thread)
    assert texts[-2:] == ["👤 Taken by Mia Smith.", "✅ Resolved."]
    assert "See this" not in " ".join(texts)  # not mirrored back


async def test_an_album_goes_as_one_and_a_gone_file_is_said(
    telegram: FakeTelegram, bot: Bot, desk: FakeDesk, group: StaffGroup
) -> None:
    state_of(group).staff_cursor = "e0"
    ticket = desk.open(text="Help")
    photos = [(f"p{n}.jpg", "photo", f"JPEG{n}".encode()) for n in range(3)]
    desk.post(ticket, "user", "three shots", files=[*photos, ("log.txt", "document", b"LOG")])
    gone = desk.post(ticket, "user", "and this", files=[("x.pdf", "document", b"PDF")])
    del desk.files[gone.attachments[0].url]  # removed from the desk since
    async with mirroring(group) as task:
        await caught_up(group, desk, task)
    thread = thread_of(group, ticket)
    uploads = [(u.method, u.kind, u.data, u.caption) for u in telegram.uploads_to(GROUP, thread)]
    assert uploads == [
        ("sendmediagroup", "photo", b"JPEG0", "three shots"),
        ("sendmediagroup", "photo", b"JPEG1", None),
        ("sendmediagroup", "photo", b"JPEG2", None),
        ("senddocument", "document", b"LOG", None),
    ]
    assert telegram.texts_in(GROUP, thread)[-1] == "and this\n" + EN["file_gone"]


async def test_long_replies_and_captions_keep_telegrams_limits(
    telegram: FakeTelegram, bot: Bot, desk: FakeDesk, group: StaffGroup
) -> None:
    state_of(group).staff_cursor = "e0"
    ticket = desk.open(text="Help")
    mia = desk.managers[MIA]
    long = ("All the details you asked for. " * 200)[:5000]
    desk.post(ticket, "supp", long, author=mia)  # two messages
    desk.post(ticket, "supp", "x" * 1100, author=mia, files=[("a.pdf", "document", b"PDF")])
    desk.post(
        ticket, "user", "", files=[("s.webp", "sticker", b"WEBP"), ("v.ogg", "voice", b"OGG")]
    )
    async with mirroring(group) as task:
        await caught_up(group, desk, task)
    thread = thread_of(group, ticket)
    texts = telegram.texts_in(GROUP, thread)
    assert all(len(t) <= 4096 for t in texts)
    assert "".join(texts[2:4]) == f"Mia Smith: {long}"
    assert texts[4] == "Mia Smith: " + "x" * 1100  # too long for a caption: sent before
    uploads = [(u.kind, u.data, u.caption) for u in telegram.uploads_to(GROUP, thread)]
    assert uploads == [
        ("document", b"PDF", None),
        ("sticker", b"WEBP", None),
        ("voice", b"OGG", None),
    ]


@pytest.mark.parametrize(
    ("content", "answer", "posted"),
    [
        ({"photo": "sizes"}, None, [("photo", b"BIG")]),
        ({"voice": "ok"}, None, [("voice", b"OGG")]),
        ({"document": "too big"}, EN["file_too_big"], []),
        ({"document": "unknown id"}, EN["file_failed"], []),
    ],
)
async def test_a_managers_files_from_the_topic(
    telegram: FakeTelegram, bot: Bot, desk: FakeDesk, group: StaffGroup, topic: Any,
    content: dict[str, str], answer: str | None, posted: list[tuple[str, bytes]],
) -> None:  # fmt: skip
    ticket, thread = topic
    kind, how = next(iter(content.items()))
    if how == "sizes":  # Telegram sends each size of a photo: the largest goes
        small, big = telegram.add_file(b"SMALL"), telegram.add_file(b"BIG")
        body: Any = [
            {"file_id": small, "file_unique_id": "s", "width": 90, "height": 90},
            {"file_id": big, "file_unique_id": "b", "width": 1280, "height": 960},
        ]
    else:
        file_id = (
            "nope"
            if how == "unknown id"
            else telegram.add_file(b"OGG" if kind == "voice" else b"PDF", too_big=how == "too big")
        )
        body = {"file_id": file_id, "file_unique_id": "u", "duration": 1, "file_name": "a.pdf"}
    await feed(
        bot, group, group_message(GROUP, thread, member(MIA), message_id=510, **{kind: body})
    )
    assert telegram.texts_in(GROUP, thread) == ([answer] if answer else [])
    sent = [m for m in ticket.messages if m["sender"] == "supp"]
    files = [(a["kind"], desk.files[a["url"]]) for m in sent for a in m["attachments"]]
    assert files == posted
    assert len(sent) == (1 if posted else 0)


async def test_a_deleted_topic_is_created_again_with_a_summary(
    telegram: FakeTelegram, bot: Bot, desk: FakeDesk, group: StaffGroup
) -> None:
    state_of(group).staff_cursor = "e0"
    ticket = desk.open(text="Help")
    async with mirroring(group) as task:
        await caught_up(group, desk, task)
        old = thread_of(group, ticket)
        telegram.delete_topic(GROUP, old)
        desk.post(ticket, "user", "Anyone there?")
        await caught_up(group, desk, task)
    new = thread_of(group, ticket)
    assert new != old
    assert ticket.topic == (GROUP, new)
    assert desk.set_topic_calls[-1] == (ticket.id, GROUP, new, old)
    summary, message = telegram.texts_in(GROUP, new)
    assert summary.startswith(EN["summary_recreated"])
    assert f"#{ticket.id} · My app crashes" in summary
    assert "From Ann" in summary
    assert message == "Anyone there?"


async def test_the_group_in_its_own_language(
    telegram: FakeTelegram, bot: Bot, desk: FakeDesk, tmp_path: Path
) -> None:
    group = StaffGroup(bot=bot, client=cast(AsyncSupportClient, desk), state=new_state(tmp_path),
                       chat_id=GROUP, retry_delay=0, language="ru")  # fmt: skip
    state_of(group).staff_cursor = "e0"
    ticket = desk.open(text="Помогите")
    async with mirroring(group) as task:
        await caught_up(group, desk, task)
        old = thread_of(group, ticket)
        telegram.delete_topic(GROUP, old)
        desk.resolve_(ticket)
        await caught_up(group, desk, task)
    summary, resolved = telegram.texts_in(GROUP, thread_of(group, ticket))
    assert summary.startswith(TEXTS["ru"]["summary_recreated"])
    assert "Решено" in summary
    assert resolved == TEXTS["ru"]["resolved"]


async def test_sixty_messages_in_a_minute_arrive_in_order_through_429s(
    telegram: FakeTelegram, bot: Bot, desk: FakeDesk, group: StaffGroup
) -> None:
    telegram.flood_limit(GROUP, 20, 1.0)  # Telegram's 20 a minute, made 60 times faster
    state_of(group).staff_cursor = "e0"
    ticket = desk.open(text="message 0")
    for n in range(1, 60):
        desk.post(ticket, "user", f"message {n}")
    async with mirroring(group) as task:
        await caught_up(group, desk, task)
    assert telegram.texts_in(GROUP, thread_of(group, ticket)) == [f"message {n}" for n in range(60)]
    assert telegram.flooded >= 2
    assert group.queue.waits == telegram.flooded


async def test_a_key_without_the_staff_capability_stops_the_mirror_in_one_line(
    telegram: FakeTelegram, bot: Bot, desk: FakeDesk, group: StaffGroup
) -> None:
    desk.staff_key = False
    state_of(group).staff_cursor = "e0"
    desk.open()
    with pytest.raises(ConfigError, match="no staff capability") as stopped:
        await asyncio.wait_for(group.run(), 10)
    assert "\n" not in str(stopped.value)
    assert telegram.topics(GROUP) == []  # the one it made is deleted
    assert state_of(group).staff_cursor == "e1"  # not past the message it could not mirror


async def test_the_mirror_waits_while_the_group_refuses_the_bot(
    telegram: FakeTelegram, bot: Bot, desk: FakeDesk, tmp_path: Path
) -> None:
    group = StaffGroup(bot=bot, client=cast(AsyncSupportClient, desk), state=new_state(tmp_path),
                       chat_id=GROUP, retry_delay=0, refused_delay=0.05)  # fmt: skip
    assert await group.check() is None
    telegram.groups[GROUP].bot_status = "left"  # removed from the group after the start
    state_of(group).staff_cursor = "e0"
    ticket = desk.open(text="Help")
    async with mirroring(group) as task:
        await asyncio.sleep(0.3)
        assert state_of(group).staff_cursor == "e1"  # waits at the message, drops nothing
        telegram.groups[GROUP].bot_status = "administrator"  # added back
        await caught_up(group, desk, task)
    assert telegram.texts_in(GROUP, thread_of(group, ticket)) == ["Help"]


@pytest.mark.parametrize(
    ("error", "stops"),
    [
        (NotFoundError("gone", status_code=404, code="not_found"), False),
        (BadRequestError("odd", status_code=400, code="invalid"), False),
        (PermissionDeniedError("no", status_code=403, code="permission_denied"), True),
        (AuthenticationError("no", status_code=401, code="not_authenticated"), True),
    ],
)
async def test_the_desk_refusing_an_events_ticket(
    telegram: FakeTelegram, bot: Bot, desk: FakeDesk, group: StaffGroup,
    error: Exception, stops: bool,
) -> None:  # fmt: skip
    """A ticket the desk will not show is skipped; a key it stops accepting stops the
    mirror with one line (ConfigError: exit 2)."""
    state_of(group).staff_cursor = "e0"
    desk.open(text="Help")
    desk.get_error = error
    if stops:
        with pytest.raises(ConfigError, match="stopped accepting SUPPORT_API_KEY"):
            await asyncio.wait_for(group.run(), 10)
        return
    async with mirroring(group) as task:
        await caught_up(group, desk, task)
    assert telegram.topics(GROUP) == []


# -- the group's messages --------------------------------------------------------------


@pytest.fixture
async def topic(desk: FakeDesk, group: StaffGroup) -> tuple[DeskTicket, int]:
    ticket = desk.open(text="Help")
    return ticket, await group.topic_for(ticket.id)


async def test_an_unlinked_member_is_refused(
    telegram: FakeTelegram, bot: Bot, desk: FakeDesk, group: StaffGroup, topic: Any
) -> None:
    ticket, thread = topic
    await feed(bot, group, group_message(GROUP, thread, member(EVE), "I can help", message_id=501))
    assert telegram.texts_in(GROUP, thread) == [EN["how_to_link"]]
    assert [m["sender"] for m in ticket.messages] == ["user"]
    assert desk.writes == 0


async def test_an_answer_in_the_group_does_not_hold_up_polling(
    telegram: FakeTelegram, bot: Bot, desk: FakeDesk, group: StaffGroup, topic: Any
) -> None:
    """The group's queue busy (the mirror waiting out flood control): a member's update
    is handled at once and its answer follows when the queue moves."""
    _ticket, thread = topic
    busy = group.queue._locks.setdefault(GROUP, asyncio.Lock())
    await busy.acquire()
    dispatcher = Dispatcher()
    dispatcher.include_router(group.router())
    said = group_message(GROUP, thread, member(EVE), "I can help", message_id=530)
    update = Update.model_validate(said, context={"bot": bot})
    await asyncio.wait_for(dispatcher.feed_update(bot, update), 5)
    assert telegram.texts_in(GROUP, thread) == []
    busy.release()
    await group.settle()
    assert telegram.texts_in(GROUP, thread) == [EN["how_to_link"]]


@pytest.mark.parametrize(
    ("said", "where", "answer"),
    [
        ("/take now", "topic", EN["no_arguments"].format(command="take")),
        ("/release me", "topic", EN["no_arguments"].format(command="release")),
        ("/resolve 12", "topic", EN["no_arguments"].format(command="resolve")),
        ("/take", "general", EN["not_in_topic"].format(command="take")),
        ("/reopen", "other topic", EN["not_in_topic"].format(command="reopen")),
        ("/link K7QM-2XPA", "topic", EN["link_in_group"]),
        ("/frobnicate", "topic", EN["unknown_command"]),
        ("/take@desk_test_bot please", "topic", EN["no_arguments"].format(command="take")),
        ("/take@another_bot", "topic", None),
    ],
)
async def test_commands_with_bad_arguments_are_answered_and_change_nothing(
    telegram: FakeTelegram,
    bot: Bot,
    desk: FakeDesk,
    group: StaffGroup,
    topic: Any,
    said: str,
    where: str,
    answer: str | None,
) -> None:
    ticket, thread = topic
    other = (await bot.create_forum_topic(GROUP, "chat about lunch")).message_thread_id
    in_thread = {"topic": thread, "general": None, "other topic": other}[where]
    await feed(bot, group, group_message(GROUP, in_thread, member(MIA), said, message_id=502))
    answers = [s.text for s in telegram.sent if s.chat_id == GROUP]
    assert answers == ([answer] if answer else [])
    assert desk.writes == 0
    assert codes_unused(desk)
    assert (ticket.manager, ticket.resolved) == (None, False)


def codes_unused(desk: FakeDesk) -> bool:
    return "K7QM-2XPA" in desk.codes


@pytest.mark.parametrize(
    ("command", "manager", "resolved", "after"),
    [
        ("/take", None, False, (1, False)),
        ("/resolve", None, False, (None, True)),
        ("/reopen", None, True, (None, False)),
        ("/release", 1, False, (None, False)),
    ],
)
async def test_commands_in_a_topic_act_as_the_manager(
    bot: Bot,
    desk: FakeDesk,
    group: StaffGroup,
    topic: Any,
    command: str,
    manager: int | None,
    resolved: bool,
    after: tuple[int | None, bool],
) -> None:
    ticket, thread = topic
    ticket.manager = desk.managers[MIA] if manager else None
    ticket.resolved = resolved
    await feed(bot, group, group_message(GROUP, thread, member(MIA), command, message_id=503))
    assert (ticket.manager.id if ticket.manager else None, ticket.resolved) == after


@pytest.mark.parametrize(
    ("situation", "said", "answer"),
    [
        ("others", "I'll answer", EN["assigned_to_other"]),
        ("others", "/take", EN["already_assigned"]),
        ("resolved", "Hello?", EN["ticket_resolved"]),
        ("inactive", "Hello?", EN["not_allowed"]),
    ],
)
async def test_the_desks_refusals_are_answered_in_words(
    telegram: FakeTelegram,
    bot: Bot,
    desk: FakeDesk,
    group: StaffGroup,
    topic: Any,
    situation: str,
    said: str,
    answer: str,
) -> None:
    ticket, thread = topic
    if situation == "others":
        ticket.manager = desk.managers[BOB]
    if situation == "resolved":
        ticket.resolved = True
    if situation == "inactive":
        desk.managers[MIA].active = False
    await feed(bot, group, group_message(GROUP, thread, member(MIA), said, message_id=504))
    assert telegram.texts_in(GROUP, thread) == [answer.format(id=ticket.id)]
    assert desk.writes == 0


@pytest.mark.parametrize(
    ("said", "state", "noted"),
    [
        ("/note VIP, refund without asking", "open", "VIP, refund without asking"),
        ("/note  two\nlines ", "open", "two\nlines"),
        ("/note@desk_test_bot on a resolved one", "resolved", "on a resolved one"),
        ("/note on another's ticket", "others", "on another's ticket"),
    ],
)
async def test_a_note_in_a_topic_is_saved_as_the_manager(
    telegram: FakeTelegram,
    bot: Bot,
    desk: FakeDesk,
    group: StaffGroup,
    topic: Any,
    said: str,
    state: str,
    noted: str,
) -> None:
    ticket, thread = topic
    ticket.resolved = state == "resolved"
    ticket.manager = desk.managers[BOB] if state == "others" else None
    before = (ticket.manager, ticket.resolved, list(ticket.messages), len(desk.log))
    await feed(bot, group, group_message(GROUP, thread, member(MIA), said, message_id=520))
    assert desk.notes_ == [(ticket.id, desk.managers[MIA].id, noted)]
    assert telegram.texts_in(GROUP, thread) == [EN["note_saved"]]
    # A note is no message: the user gets nothing, the ticket stays as it was.
    assert (ticket.manager, ticket.resolved, ticket.messages, len(desk.log)) == before


@pytest.mark.parametrize(
    ("who", "said", "where", "answer"),
    [
        (MIA, "/note", "topic", EN["note_usage"]),
        (MIA, "/note   ", "topic", EN["note_usage"]),
        (MIA, "/note@desk_test_bot", "topic", EN["note_usage"]),
        (MIA, "/note remember", "general", EN["not_in_topic"].format(command="note")),
        (MIA, "/note remember", "other topic", EN["not_in_topic"].format(command="note")),
        (MIA, "/note@another_bot remember", "topic", None),
        (MIA, "/note " + "x" * 4097, "topic", EN["refused"].format(detail="The note is too long.")),
        (EVE, "/note remember", "topic", EN["how_to_link"]),
        ("inactive", "/note remember", "topic", EN["not_allowed"]),
    ],
)
async def test_a_note_refused_is_answered_and_saves_nothing(
    telegram: FakeTelegram,
    bot: Bot,
    desk: FakeDesk,
    group: StaffGroup,
    topic: Any,
    who: int | str,
    said: str,
    where: str,
    answer: str | None,
) -> None:
    _ticket, thread = topic
    if who == "inactive":
        desk.managers[MIA].active = False
        who = MIA
    assert isinstance(who, int)
    other = (await bot.create_forum_topic(GROUP, "chat about lunch")).message_thread_id
    in_thread = {"topic": thread, "general": None, "other topic": other}[where]
    await feed(bot, group, group_message(GROUP, in_thread, member(who), said, message_id=521))
    answers = [s.text for s in telegram.sent if s.chat_id == GROUP]
    assert answers == ([answer] if answer else [])
    assert desk.notes_ == []
    assert desk.writes == 0


async def test_a_note_the_desk_did_not_answer_is_not_sent_twice(
    telegram: FakeTelegram, bot: Bot, desk: FakeDesk, group: StaffGroup, topic: Any
) -> None:
    """Notes have no idempotency key: after a timeout the note may be saved, so the
    group is told to look rather than the desk being asked again."""
    ticket, thread = topic
    await feed(bot, group, group_message(GROUP, thread, member(MIA), "/note slow", message_id=522))
    assert desk.note_calls == 1
    assert desk.notes_ == [(ticket.id, desk.managers[MIA].id, "slow")]
    assert telegram.texts_in(GROUP, thread) == [EN["note_unanswered"]]


async def test_closing_and_reopening_the_topic_resolves_and_reopens(
    telegram: FakeTelegram, bot: Bot, desk: FakeDesk, group: StaffGroup, topic: Any
) -> None:
    ticket, thread = topic
    await feed(bot, group, closing(thread, MIA))
    assert ticket.resolved
    await feed(bot, group, closing(thread, MIA, "forum_topic_reopened"))
    assert not ticket.resolved
    # An unlinked member's closing is refused, and the topic goes back.
    await bot.close_forum_topic(GROUP, thread)
    await feed(bot, group, closing(thread, EVE))
    assert not ticket.resolved
    assert not telegram.topic(GROUP, thread).closed
    assert telegram.texts_in(GROUP, thread) == [EN["how_to_link"]]


def closing(thread: int, who: int, kind: str = "forum_topic_closed") -> dict[str, Any]:
    return service_message(GROUP, thread, member(who), kind, 600 + who)


@pytest.mark.parametrize(
    ("words", "answer", "linked"),
    [
        ("K7QM-2XPA", EN["linked"].format(name="Zoe"), True),
        ("k7qm-2xpa", EN["linked"].format(name="Zoe"), True),
        ("WRONG-CODE", EN["link_invalid"], False),
        ("USED-0000", EN["link_invalid"], False),  # one answer for wrong, used, expired
        ("<script>", EN["link_invalid"], False),
        ("", EN["link_usage"], False),
        ("K7QM 2XPA", EN["link_usage"], False),
    ],
)
async def test_link_in_a_private_chat(
    telegram: FakeTelegram,
    bot: Bot,
    desk: FakeDesk,
    group: StaffGroup,
    words: str,
    answer: str,
    linked: bool,
) -> None:
    await feed(bot, group, private(EVE, f"/link {words}".strip()))
    assert telegram.texts_to(EVE) == [answer]
    assert (EVE in desk.managers) is linked


async def test_a_used_code_is_refused_the_second_time(
    telegram: FakeTelegram, bot: Bot, desk: FakeDesk, group: StaffGroup
) -> None:
    await feed(bot, group, private(EVE, "/link K7QM-2XPA"))
    await feed(bot, group, private(BOB + 100, "/link K7QM-2XPA"))
    assert telegram.texts_to(BOB + 100) == [EN["link_invalid"]]
    assert BOB + 100 not in desk.managers


def private(user: int, text: str) -> dict[str, Any]:
    return {
        "update_id": 900 + user,
        "message": {
            "message_id": 9,
            "date": int(time.time()),
            "chat": {"id": user, "type": "private", "first_name": "Eve"},
            "from": member(user, "Eve"),
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}],
        },
    }


def _unspoiled(update: dict[str, Any]) -> dict[str, Any]:
    return update


def _from_bot(update: dict[str, Any]) -> dict[str, Any]:
    update["message"]["from"] = {"id": 4242, "is_bot": True, "first_name": "Support"}
    return update


def _anonymous(update: dict[str, Any]) -> dict[str, Any]:
    update["message"]["from"] = {"id": 1087968824, "is_bot": True, "first_name": "Group"}
    update["message"]["sender_chat"] = {"id": GROUP, "type": "supergroup", "title": "Staff"}
    return update


def _no_sender(update: dict[str, Any]) -> dict[str, Any]:
    del update["message"]["from"]
    return update


def _other_chat(update: dict[str, Any]) -> dict[str, Any]:
    update["message"]["chat"]["id"] = OTHER_GROUP
    return update


def _edited(update: dict[str, Any]) -> dict[str, Any]:
    update["edited_message"] = update.pop("message")
    return update


def _named(number: int) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def rename(update: dict[str, Any]) -> dict[str, Any]:
        update["message"]["message_thread_id"] = 9999
        reply = update["message"]["reply_to_message"]
        reply["message_thread_id"] = 9999
        reply["forum_topic_created"]["name"] = f"#{number} · someone · spoof"
        return update

    return rename


@pytest.mark.parametrize(
    ("spoil", "answer"),
    [
        (_unspoiled, None),  # relayed: the others differ from it in one way each
        (_other_chat, None),  # an unknown chat
        (_from_bot, None),  # the bot itself, or another bot
        (_no_sender, None),
        (_edited, None),  # an edit is not a new message
        (_named(1), None),  # a topic named like ticket 1's, but not the desk's topic
        (_named(12345), None),  # and like a ticket that is not there
        (_anonymous, EN["anonymous"]),
    ],
)
async def test_malformed_updates_and_unknown_chats_are_ignored(
    telegram: FakeTelegram,
    bot: Bot,
    desk: FakeDesk,
    group: StaffGroup,
    topic: Any,
    spoil: Callable[[dict[str, Any]], dict[str, Any]],
    answer: str | None,
) -> None:
    ticket, thread = topic
    state_of(group).topics.clear()  # the cache lost: the topic's name says which ticket
    name = f"#{ticket.id} · Ann · My app crashes"
    said = group_message(GROUP, thread, member(MIA), "Hello", message_id=505, topic_name=name)
    await feed(bot, group, spoil(said))
    assert [s.text for s in telegram.sent] == ([answer] if answer else [])
    assert desk.writes == (1 if spoil is _unspoiled else 0)


@pytest.mark.parametrize(
    "content",
    [
        {"dice": {"emoji": "🎲", "value": 3}},
        {"new_chat_members": [member(80)]},
        {"forum_topic_edited": {"name": "x"}},
        {
            "pinned_message": {
                "message_id": 1,
                "date": 0,
                "chat": {"id": GROUP, "type": "supergroup"},
            }
        },
    ],
)
async def test_messages_the_desk_cannot_carry_are_ignored(
    telegram: FakeTelegram,
    bot: Bot,
    desk: FakeDesk,
    group: StaffGroup,
    topic: Any,
    content: dict[str, Any],
) -> None:
    _ticket, thread = topic
    await feed(bot, group, group_message(GROUP, thread, member(MIA), message_id=506, **content))
    assert telegram.sent == []
    assert desk.writes == 0


async def test_a_lost_cache_is_rebuilt_from_the_topics_name(
    bot: Bot, desk: FakeDesk, group: StaffGroup, topic: Any
) -> None:
    ticket, thread = topic
    state_of(group).topics.clear()
    name = f"#{ticket.id} · Ann · My app crashes"
    said = group_message(GROUP, thread, member(MIA), "On it", message_id=507, topic_name=name)
    await feed(bot, group, said)
    assert [m["text"] for m in ticket.messages] == ["Help", "On it"]
    assert state_of(group).topics[ticket.id] == (GROUP, thread)


@pytest.mark.parametrize(("code", "language"), [("ru", "ru"), ("ru-RU", "ru"), ("de", "en")])
async def test_a_member_is_answered_in_their_language(
    telegram: FakeTelegram, bot: Bot, desk: FakeDesk, group: StaffGroup, topic: Any,
    code: str, language: Language,
) -> None:  # fmt: skip
    _ticket, thread = topic
    eve = member(EVE, "Eve", language_code=code)
    await feed(bot, group, group_message(GROUP, thread, eve, "Привет", message_id=520))
    link = private(EVE, "/link NOPE-NOPE")
    link["message"]["from"]["language_code"] = code
    await feed(bot, group, link)
    assert telegram.texts_in(GROUP, thread) == [TEXTS[language]["how_to_link"]]
    assert telegram.texts_to(EVE) == [TEXTS[language]["link_invalid"]]


def test_every_language_has_every_text() -> None:
    assert set(TEXTS["ru"]) == set(TEXTS["en"])
    for key, english in TEXTS["en"].items():
        fields = {name for _, name, _, _ in string.Formatter().parse(english) if name}
        russian = {name for _, name, _, _ in string.Formatter().parse(TEXTS["ru"][key]) if name}
        assert fields == russian, key


def test_the_module_stops_with_one_line_and_status_2_on_an_unusable_group(
    telegram: FakeTelegram, tmp_path: Path
) -> None:
    """``python -m support_client.telegram`` with a group that is no forum (the other
    problems are check()'s, above)."""
    telegram.add_group(GROUP, is_forum=False)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SUPPORT_", "TELEGRAM_"))}
    env.update(
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=telegram.url,
        SUPPORT_BASE_URL=f"http://127.0.0.1:{free_port()}/support/",  # not up: the bot goes on
        SUPPORT_API_KEY="k",
        SUPPORT_BOT_STATE=str(tmp_path / "state.json"),
        SUPPORT_STAFF_CHAT_ID=str(GROUP),
        PYTHONPATH=str(ROOT),
    )
    done = subprocess.run(
        [sys.executable, "-m", "support_client.telegram"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1] == (
        f"support_client.telegram: SUPPORT_STAFF_CHAT_ID {GROUP} is not a forum: "
        "turn on Topics in the group's settings"
    )

"""A fake Telegram Bot API server on loopback, for end-to-end tests of the bots.

``getMe`` answers a bot, ``getUpdates`` long-polls a queue the test fills
(:meth:`FakeTelegram.push`), ``sendMessage`` is recorded (and can be made to
answer 429 once). Files go both ways as on the real Bot API: a test adds a
user's file (:meth:`FakeTelegram.add_file`) that ``getFile`` describes (or
refuses as too big) and ``/file/bot<token>/<path>`` serves; ``sendPhoto``,
``sendDocument``, … and ``sendMediaGroup`` (``attach://`` parts) record what
they were sent (:class:`Uploaded`: the bytes of a multipart upload, or the
string given instead: a file id or a URL Telegram would have to fetch).

Forum supergroups, for the staff group (:meth:`FakeTelegram.add_group`):
``getChat`` tells ``is_forum``, ``getChatMember`` answers the bot's rights
(an admin that may manage topics unless the test says otherwise, or an
error), ``createForumTopic`` answers the topic's ``message_thread_id``,
``editForumTopic``/``closeForumTopic``/``reopenForumTopic``/``deleteForumTopic``
change it as Telegram does (``TOPIC_NOT_MODIFIED``, ``TOPIC_ID_INVALID``), and
a message sent into a deleted or unknown topic is refused with ``Bad Request:
message thread not found``. Every send records its ``message_thread_id``;
``copyMessage`` is recorded too (:class:`Copied`). A group takes about 20
messages a minute from a bot, as Telegram's flood control: past that the
send answers 429 with ``retry_after`` (:meth:`FakeTelegram.flood_limit` makes
the window small for tests). Members' messages in a topic and the topic's
closing and reopening come to the bot as updates the test pushes, shaped as
Telegram's (:func:`group_message`, :meth:`FakeTelegram.close_topic_as`).

What the bot sent is kept as Telegram keeps it (:meth:`FakeTelegram.shown`):
``editMessageText``/``editMessageCaption`` change it (``message is not modified``
when nothing changes, ``message to edit not found`` when it is gone),
``deleteMessage`` deletes it; inline keyboards and ForceReply are recorded
(:attr:`Sent.markup`), ``answerCallbackQuery`` too (:attr:`FakeTelegram.answers`).
A user's button press and edited message come as updates (:func:`callback_update`,
:func:`edited_update`).

Anything else answers ``ok``. It runs its own event loop in a thread, so a
synchronous test drives it while the bot runs in a subprocess (or in the
test's own event loop).
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from itertools import count
from typing import Any

from aiohttp import web

from tests.harness.process import free_port

BOT_ID = 4242
BOT_USER: dict[str, Any] = {
    "id": BOT_ID,
    "is_bot": True,
    "first_name": "Support",
    "username": "desk_test_bot",
}
#: Telegram's flood control for one group: this many messages per this many seconds.
GROUP_FLOOD = (20, 60.0)
TOPIC_NAME_LIMIT = 128


@dataclass
class Sent:
    chat_id: int
    text: str
    #: The topic it was sent into (``message_thread_id``), if any.
    thread_id: int | None = None
    #: Its ``reply_markup`` (an inline keyboard, a ForceReply), parsed.
    markup: dict[str, Any] | None = None
    message_id: int = 0


@dataclass
class Shown:
    """A message the bot sent, as the chat shows it now."""

    chat_id: int
    message_id: int
    #: Its text, or its caption (a file's).
    text: str | None
    is_caption: bool = False
    markup: dict[str, Any] | None = None
    deleted: bool = False
    #: Each text it had, oldest first (edits append).
    history: list[str | None] = field(default_factory=list)


@dataclass
class Uploaded:
    """A file a ``send*`` method was given."""

    #: The method, in lower case: ``sendphoto``, ``sendmediagroup``, …
    method: str
    chat_id: int
    #: ``photo``, ``document``, … (an album's item: its ``type``).
    kind: str
    filename: str | None
    #: The bytes of a multipart upload; ``None`` when a string was given instead.
    data: bytes | None
    #: That string (a file id, or a URL Telegram would have to fetch).
    reference: str | None
    caption: str | None
    thread_id: int | None = None


@dataclass
class Copied:
    """A ``copyMessage`` call."""

    chat_id: int
    from_chat_id: int
    message_id: int
    thread_id: int | None
    caption: str | None


@dataclass
class UserFile:
    data: bytes
    path: str
    #: getFile refuses it, as Telegram refuses files over 20 MB to bots.
    too_big: bool = False


@dataclass
class Topic:
    """A forum topic of a group, as Telegram keeps it."""

    chat_id: int
    thread_id: int
    name: str
    icon_color: int = 7322096
    closed: bool = False
    deleted: bool = False
    #: Each name it had, oldest first (``createForumTopic``, then ``editForumTopic``).
    names: list[str] = field(default_factory=list)


@dataclass
class Group:
    """A supergroup the bot is in (:meth:`FakeTelegram.add_group`)."""

    chat_id: int
    title: str = "Support staff"
    is_forum: bool = True
    #: The bot's ``getChatMember`` status: ``administrator``, ``member``, ``left``, …
    bot_status: str = "administrator"
    can_manage_topics: bool = True
    #: When set, ``getChatMember`` fails with this 400 description instead.
    member_error: str | None = None
    topics: dict[int, Topic] = field(default_factory=dict)

    def chat(self) -> dict[str, Any]:
        return {
            "id": self.chat_id,
            "type": "supergroup",
            "title": self.title,
            "is_forum": self.is_forum,
        }


#: The ``send*`` methods that take one file, and the field that carries it.
SEND_FILE = {
    f"send{kind}": kind
    for kind in ("photo", "video", "voice", "audio", "animation", "sticker", "document")
}
#: Methods that post a message into a chat (and so count against its flood limit).
POSTING = {"sendmessage", "copymessage", "sendmediagroup", *SEND_FILE}


@dataclass
class FakeTelegram:
    port: int = field(default_factory=free_port)
    sent: list[Sent] = field(default_factory=list)
    uploads: list[Uploaded] = field(default_factory=list)
    copies: list[Copied] = field(default_factory=list)
    methods: list[str] = field(default_factory=list)
    #: Every call with its parameters (file parts as their filenames), in order.
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    #: file id -> a user's file (:meth:`add_file`); the paths downloaded, in order.
    files: dict[str, UserFile] = field(default_factory=dict)
    downloads: list[str] = field(default_factory=list)
    #: sendMessage calls answered 429 (see :meth:`rate_limit_next_send`).
    rate_limited: int = 0
    #: Sends a group's flood control answered 429 (see :meth:`flood_limit`).
    flooded: int = 0
    groups: dict[int, Group] = field(default_factory=dict)
    #: (chat id, message id) -> what the bot sent there, as shown now.
    shown_messages: dict[tuple[int, int], Shown] = field(default_factory=dict)
    #: ``answerCallbackQuery`` calls: (callback query id, text).
    answers: list[tuple[str, str | None]] = field(default_factory=list)
    #: Users the bot may ``getChat`` (those that wrote to it): id -> Telegram's user.
    users: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: Pushed with the service message Telegram posts when the bot creates, closes or
    #: reopens a topic (``from`` the bot itself); off by default.
    echo_service_messages: bool = False
    #: Calls held unanswered so far (see :meth:`hold`).
    held: int = 0
    _holds: dict[str, int | None] = field(default_factory=dict)
    _released: asyncio.Event | None = None
    _flood: dict[int, tuple[int, float]] = field(default_factory=dict)
    _flood_times: dict[int, deque[float]] = field(default_factory=dict)
    _rate_limit_next: int = 0
    _sent_messages: int = 0
    _loop: asyncio.AbstractEventLoop | None = None
    #: Updates pushed and not confirmed yet, each with whether it was delivered.
    _pending: list[tuple[dict[str, Any], bool]] = field(default_factory=list)
    _arrived: asyncio.Event | None = None
    _confirmed: int = 0
    _thread: threading.Thread | None = None
    _stop: asyncio.Event | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- test side ----------------------------------------------------------------

    def start(self) -> FakeTelegram:
        ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(ready,), daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the fake Telegram server did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)

    def push(self, update: dict[str, Any]) -> None:
        """Queue an update for ``getUpdates`` (the same one twice: delivered twice).

        As on Telegram, an update is delivered again until a ``getUpdates`` whose
        ``offset`` is past it confirms it: a bot killed before then gets it again.
        The sender of a message becomes a user the bot may ``getChat``.
        """
        assert self._loop is not None
        copy = json.loads(json.dumps(update))
        sender = (copy.get("message") or {}).get("from")
        if isinstance(sender, dict) and isinstance(sender.get("id"), int):
            with self._lock:
                self.users.setdefault(sender["id"], sender)
        self._loop.call_soon_threadsafe(self._add, copy)

    def _add(self, update: dict[str, Any]) -> None:
        assert self._arrived is not None
        self._pending.append((update, False))
        self._arrived.set()

    def add_file(self, data: bytes, *, too_big: bool = False) -> str:
        """A file a user sends: its id, for an update's ``file_id``."""
        with self._lock:
            file_id = f"file-{len(self.files) + 1}"
            self.files[file_id] = UserFile(data, f"documents/{file_id}.bin", too_big)
        return file_id

    def uploads_to(self, chat_id: int, thread_id: int | None = None) -> list[Uploaded]:
        """Files sent to a chat (into one of its topics, when *thread_id* is given)."""
        with self._lock:
            return [
                u
                for u in self.uploads
                if u.chat_id == chat_id and (thread_id is None or u.thread_id == thread_id)
            ]

    def rate_limit_next_send(self, retry_after: int = 1) -> None:
        with self._lock:
            self._rate_limit_next = retry_after

    def texts_to(self, chat_id: int) -> list[str]:
        with self._lock:
            return [s.text for s in self.sent if s.chat_id == chat_id]

    def shown(self, chat_id: int, message_id: int) -> Shown:
        """A message the bot sent, as the chat shows it now (a copy)."""
        with self._lock:
            found = self.shown_messages[(chat_id, message_id)]
            return replace(found, history=list(found.history))

    def visible(self, chat_id: int) -> list[Shown]:
        """The bot's messages in a chat not deleted, oldest first (copies)."""
        with self._lock:
            return [
                replace(m, history=list(m.history))
                for (chat, _id), m in sorted(self.shown_messages.items())
                if chat == chat_id and not m.deleted
            ]

    def texts_in(self, chat_id: int, thread_id: int) -> list[str]:
        """The texts sent into one topic of a group, in order."""
        with self._lock:
            return [s.text for s in self.sent if s.chat_id == chat_id and s.thread_id == thread_id]

    def wait_for(self, what: str, check: Callable[[], bool], timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; sent: {self.sent[-10:]}")
            time.sleep(0.05)

    # -- groups and topics, test side ---------------------------------------------

    def add_group(self, chat_id: int, **settings: Any) -> Group:
        """A supergroup with the bot in it (a forum, the bot an admin that may manage
        topics, unless *settings* say otherwise: see :class:`Group`)."""
        with self._lock:
            group = self.groups[chat_id] = Group(chat_id, **settings)
        return group

    def add_user(self, user_id: int, first_name: str, **more: Any) -> None:
        """A user the bot may ``getChat`` (one that has written to it)."""
        with self._lock:
            self.users[user_id] = {"id": user_id, "is_bot": False, "first_name": first_name, **more}

    def flood_limit(self, chat_id: int, messages: int, per_seconds: float) -> None:
        """Let *chat_id* take *messages* per *per_seconds* (a group's default: 20 a minute)."""
        with self._lock:
            self._flood[chat_id] = (messages, per_seconds)
            self._flood_times.pop(chat_id, None)

    def topics(self, chat_id: int, *, deleted: bool = False) -> list[Topic]:
        """A group's topics in the order they were created (copies; deleted ones only
        with *deleted*)."""
        with self._lock:
            return [
                replace(topic, names=list(topic.names))
                for topic in self.groups[chat_id].topics.values()
                if deleted or not topic.deleted
            ]

    def topic(self, chat_id: int, thread_id: int) -> Topic:
        with self._lock:
            topic = self.groups[chat_id].topics[thread_id]
            return replace(topic, names=list(topic.names))

    def delete_topic(self, chat_id: int, thread_id: int) -> None:
        """A member deletes a topic in Telegram (the bot is not told)."""
        with self._lock:
            self.groups[chat_id].topics[thread_id].deleted = True

    def close_topic_as(self, chat_id: int, thread_id: int, user: dict[str, Any]) -> None:
        """A member closes a topic: it is closed and its service message comes as an update."""
        with self._lock:
            self.groups[chat_id].topics[thread_id].closed = True
            self._sent_messages += 1
            message_id = self._sent_messages
        self.push(service_message(chat_id, thread_id, user, "forum_topic_closed", message_id))

    def reopen_topic_as(self, chat_id: int, thread_id: int, user: dict[str, Any]) -> None:
        """A member reopens a topic: it is open again and its service message comes."""
        with self._lock:
            self.groups[chat_id].topics[thread_id].closed = False
            self._sent_messages += 1
            message_id = self._sent_messages
        self.push(service_message(chat_id, thread_id, user, "forum_topic_reopened", message_id))

    def hold(self, method: str, chat_id: int | None = None) -> None:
        """Calls of *method* (into *chat_id*, when given) wait unanswered, and change
        nothing, until :meth:`release`: a bot killed meanwhile never had them taken."""
        with self._lock:
            if not self._holds:
                self._released = asyncio.Event()  # set on the server's loop by release()
            self._holds[method.lower()] = chat_id

    def release(self) -> None:
        """Answer the held calls, and hold no more."""
        with self._lock:
            self._holds.clear()
            released = self._released
        assert self._loop is not None
        if released is not None:
            self._loop.call_soon_threadsafe(released.set)

    def next_message_id(self) -> int:
        """A message id not used yet (for a member's message a test pushes)."""
        with self._lock:
            return self._message_id()

    # -- server side --------------------------------------------------------------

    def _serve(self, ready: threading.Event) -> None:
        asyncio.run(self._main(ready))

    async def _main(self, ready: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._arrived = asyncio.Event()
        self._stop = asyncio.Event()
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._file)
        # A bot killed mid-long-poll must not take an update with it: cancel its handler.
        runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self.port).start()
        ready.set()
        try:
            await self._stop.wait()
        finally:
            await runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"].lower()
        params = await self._params(request)
        with self._lock:
            self.methods.append(method)
            self.calls.append((method, {k: _shown(v) for k, v in params.items()}))
            holding = method in self._holds and self._holds[method] in (
                None,
                _int(params.get("chat_id")),
            )
            if holding:
                self.held += 1
            released = self._released
        if holding and released is not None:
            await released.wait()
        if method == "getme":
            return ok(BOT_USER)
        if method == "getupdates":
            offset = int(params.get("offset", 0) or 0)
            return ok(await self._updates(offset, float(params.get("timeout", 0) or 0)))
        if method in POSTING:
            refused = self._refuse_post(method, params)
            if refused is not None:
                return refused
        if method == "sendmessage":
            return self._send_message(params)
        if method == "getfile":
            return self._get_file(params)
        if method in SEND_FILE:
            return self._send_file(method, params)
        if method == "sendmediagroup":
            return self._send_media_group(params)
        if method == "copymessage":
            return self._copy_message(params)
        if method in ("editmessagetext", "editmessagecaption"):
            return self._edit(method, params)
        if method == "deletemessage":
            return self._delete(params)
        if method == "answercallbackquery":
            with self._lock:
                text = params.get("text")
                self.answers.append((str(params["callback_query_id"]), text and str(text)))
            return ok(True)
        if method == "getchat":
            return self._get_chat(params)
        if method == "getchatmember":
            return self._get_chat_member(params)
        if method in TOPIC_METHODS:
            return self._topic_call(method, params)
        return ok(True)

    async def _params(self, request: web.Request) -> dict[str, Any]:
        """The call's parameters: strings, and for multipart uploads the file parts."""
        if request.content_type == "application/json":
            data: dict[str, Any] = await request.json()
            return data
        form = await request.post()
        return {key: value for key, value in form.items() if isinstance(value, str | web.FileField)}

    def _get_file(self, params: dict[str, Any]) -> web.Response:
        with self._lock:
            known = self.files.get(str(params.get("file_id")))
        if known is None:
            return failed(400, "Bad Request: invalid file_id")
        if known.too_big:
            return failed(400, "Bad Request: file is too big")
        return ok(
            {
                "file_id": params["file_id"],
                "file_unique_id": f"u-{params['file_id']}",
                "file_size": len(known.data),
                "file_path": known.path,
            }
        )

    async def _file(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        with self._lock:
            data = next((f.data for f in self.files.values() if f.path == path), None)
            self.downloads.append(path)
        if data is None:
            return web.Response(status=404, text="Not Found")
        return web.Response(body=data, content_type="application/octet-stream")

    def _record(
        self, method: str, chat_id: int, kind: str, value: Any, caption: Any, thread: int | None
    ) -> None:
        upload = isinstance(value, web.FileField)
        self.uploads.append(
            Uploaded(
                method=method,
                chat_id=chat_id,
                kind=kind,
                filename=value.filename if upload else None,
                data=value.file.read() if upload else None,
                reference=None if upload else str(value),
                caption=None if caption is None else str(caption),
                thread_id=thread,
            )
        )

    def _send_file(self, method: str, params: dict[str, Any]) -> web.Response:
        chat_id = int(params["chat_id"])
        kind = SEND_FILE[method]
        if kind not in params:
            return failed(400, f"Bad Request: there is no {kind} in the request")
        thread = _thread_of(params)
        with self._lock:
            value = self._attached(params, params[kind])
            self._record(method, chat_id, kind, value, params.get("caption"), thread)
            message_id = self._message_id()
            caption = params.get("caption")
            self._show(chat_id, message_id, None if caption is None else str(caption), True)
            return ok(self._message(message_id, chat_id, thread))

    def _send_media_group(self, params: dict[str, Any]) -> web.Response:
        chat_id = int(params["chat_id"])
        media = json.loads(params["media"])
        if not 2 <= len(media) <= 10:
            return failed(400, "Bad Request: wrong number of media in the album")
        thread = _thread_of(params)
        with self._lock:
            results = []
            for item in media:
                value = self._attached(params, item["media"])
                self._record(
                    "sendmediagroup", chat_id, item["type"], value, item.get("caption"), thread
                )
                message_id = self._message_id()
                self._show(chat_id, message_id, item.get("caption"), True)
                results.append(self._message(message_id, chat_id, thread))
        return ok(results)

    def _copy_message(self, params: dict[str, Any]) -> web.Response:
        chat_id = int(params["chat_id"])
        caption = params.get("caption")
        with self._lock:
            self.copies.append(
                Copied(
                    chat_id=chat_id,
                    from_chat_id=int(params["from_chat_id"]),
                    message_id=int(params["message_id"]),
                    thread_id=_thread_of(params),
                    caption=None if caption is None else str(caption),
                )
            )
            return ok({"message_id": self._message_id()})

    @staticmethod
    def _attached(params: dict[str, Any], value: Any) -> Any:
        """The file part an ``attach://<name>`` names (how uploads are sent), else *value*."""
        if isinstance(value, str) and value.startswith("attach://"):
            return params.get(value.removeprefix("attach://"), value)
        return value

    def _message_id(self) -> int:
        self._sent_messages += 1
        return self._sent_messages

    def _show(
        self,
        chat_id: int,
        message_id: int,
        text: str | None,
        is_caption: bool = False,
        markup: dict[str, Any] | None = None,
    ) -> None:
        self.shown_messages[(chat_id, message_id)] = Shown(
            chat_id, message_id, text, is_caption, markup, history=[text]
        )

    def _edit(self, method: str, params: dict[str, Any]) -> web.Response:
        """``editMessageText``/``editMessageCaption`` as Telegram answers them."""
        chat_id, message_id = _int(params.get("chat_id")), _int(params.get("message_id"))
        caption = method == "editmessagecaption"
        new = params.get("caption" if caption else "text")
        markup = _markup(params.get("reply_markup"))
        with self._lock:
            found = self.shown_messages.get((chat_id or 0, message_id or 0))
            if found is None or found.deleted:
                return failed(400, "Bad Request: message to edit not found")
            if found.is_caption != caption:
                return failed(400, "Bad Request: there is no text in the message to edit")
            if not caption and not new:
                return failed(400, "Bad Request: message text is empty")
            if new == found.text and markup == found.markup:
                return failed(
                    400,
                    "Bad Request: message is not modified: specified new message content "
                    "and reply markup are exactly the same as a current content and reply "
                    "markup of the message",
                )
            found.text = None if new is None else str(new)
            found.markup = markup
            found.history.append(found.text)
            answer = {**message(found.message_id, found.chat_id)}
            if not caption:
                answer["text"] = found.text
        return ok(answer)

    def _delete(self, params: dict[str, Any]) -> web.Response:
        chat_id, message_id = _int(params.get("chat_id")), _int(params.get("message_id"))
        with self._lock:
            found = self.shown_messages.get((chat_id or 0, message_id or 0))
            if found is None or found.deleted:
                return failed(400, "Bad Request: message to delete not found")
            found.deleted = True
        return ok(True)

    def _message(self, message_id: int, chat_id: int, thread: int | None) -> dict[str, Any]:
        """The message a send answers: in a group's topic, shaped as Telegram shapes it."""
        group = self.groups.get(chat_id)
        if group is None:
            return message(message_id, chat_id)
        result = {**message(message_id, chat_id), "chat": group.chat()}
        if thread is not None:
            result.update(message_thread_id=thread, is_topic_message=True)
        return result

    async def _updates(self, offset: int, timeout: float) -> list[dict[str, Any]]:
        """Those not confirmed by *offset* (delivered ones below it are), or the next to come."""
        assert self._arrived is not None
        self._confirmed = max(self._confirmed, offset)  # confirmed stays confirmed
        self._pending = [
            (update, delivered)
            for update, delivered in self._pending
            if not (delivered and update["update_id"] < self._confirmed)
        ]
        if not self._pending:
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), timeout=min(timeout, 30))
            except TimeoutError:
                return []
        batch = self._pending[:100]
        self._pending[: len(batch)] = [(update, True) for update, _delivered in batch]
        return [update for update, _delivered in batch]

    def _send_message(self, params: dict[str, Any]) -> web.Response:
        chat_id = int(params["chat_id"])
        thread = _thread_of(params)
        with self._lock:
            if self._rate_limit_next:
                retry_after, self._rate_limit_next = self._rate_limit_next, 0
                self.rate_limited += 1
                return too_many(retry_after)
            message_id = self._message_id()
            markup = _markup(params.get("reply_markup"))
            self.sent.append(Sent(chat_id, str(params["text"]), thread, markup, message_id))
            self._show(chat_id, message_id, str(params["text"]), markup=markup)
            return ok({**self._message(message_id, chat_id, thread), "text": params["text"]})

    # -- groups and topics, server side -------------------------------------------

    def _refuse_post(self, method: str, params: dict[str, Any]) -> web.Response | None:
        """Telegram's refusals of a post into a group: a topic that is not there
        (deleted, or never was), then its flood control."""
        try:
            chat_id = int(params["chat_id"])
        except (KeyError, TypeError, ValueError):
            return failed(400, "Bad Request: chat_id is empty")
        thread = _thread_of(params)
        with self._lock:
            group = self.groups.get(chat_id)
            if group is not None and group.bot_status in ("left", "kicked"):
                return failed(403, "Forbidden: bot is not a member of the supergroup chat")
            if group is not None and thread is not None:
                topic = group.topics.get(thread)
                if not group.is_forum or topic is None or topic.deleted:
                    return failed(400, "Bad Request: message thread not found")
            limit = self._flood.get(chat_id) or (GROUP_FLOOD if chat_id < 0 else None)
            if limit is None:
                return None
            posts = len(json.loads(params["media"])) if method == "sendmediagroup" else 1
            messages, window = limit
            now = time.monotonic()
            times = self._flood_times.setdefault(chat_id, deque())
            while times and times[0] <= now - window:
                times.popleft()
            if times and len(times) + posts > messages:
                self.flooded += 1
                wait = times[min(len(times), len(times) + posts - messages) - 1] + window - now
                return too_many(max(1, math.ceil(wait)))
            times.extend([now] * posts)
        return None

    def _get_chat(self, params: dict[str, Any]) -> web.Response:
        chat_id = _int(params.get("chat_id"))
        with self._lock:
            group = self.groups.get(chat_id) if chat_id is not None else None
            user = self.users.get(chat_id) if chat_id is not None else None
        if group is not None:
            return ok({**group.chat(), **FULL_INFO})
        if user is not None:
            names = {k: user[k] for k in ("first_name", "last_name", "username") if k in user}
            return ok({"id": chat_id, "type": "private", **names, **FULL_INFO})
        return failed(400, "Bad Request: chat not found")

    def _get_chat_member(self, params: dict[str, Any]) -> web.Response:
        chat_id, user_id = _int(params.get("chat_id")), _int(params.get("user_id"))
        with self._lock:
            group = self.groups.get(chat_id) if chat_id is not None else None
            user = self.users.get(user_id) if user_id is not None else None
        if group is None:
            return failed(400, "Bad Request: chat not found")
        if user_id is None:
            return failed(400, "Bad Request: invalid user_id specified")
        if user_id != BOT_ID:
            if user is None:
                return failed(400, "Bad Request: user not found")
            return ok({"status": "member", "user": user})
        if group.member_error is not None:
            return failed(400, group.member_error)
        if group.bot_status != "administrator":
            return ok({"status": group.bot_status, "user": BOT_USER})
        rights = dict.fromkeys(ADMIN_RIGHTS, True)
        return ok(
            {
                "status": "administrator",
                "user": BOT_USER,
                **rights,
                "can_be_edited": False,
                "is_anonymous": False,
                "can_manage_topics": group.can_manage_topics,
            }
        )

    def _topic_call(self, method: str, params: dict[str, Any]) -> web.Response:
        chat_id = _int(params.get("chat_id"))
        with self._lock:
            group = self.groups.get(chat_id) if chat_id is not None else None
            if group is None:
                return failed(400, "Bad Request: chat not found")
            if not group.is_forum:
                return failed(400, "Bad Request: the chat is not a forum")
            if group.bot_status != "administrator" or not group.can_manage_topics:
                return failed(400, "Bad Request: not enough rights to manage topics")
            if method == "createforumtopic":
                return self._create_topic(group, params)
            thread = _int(params.get("message_thread_id"))
            topic = group.topics.get(thread) if thread is not None else None
            if topic is None or topic.deleted:
                return failed(400, "Bad Request: TOPIC_ID_INVALID")
            if method == "deleteforumtopic":
                topic.deleted = True
                return ok(True)
            if method == "editforumtopic":
                name = params.get("name")
                if name is None or name == topic.name:
                    return failed(400, "Bad Request: TOPIC_NOT_MODIFIED")
                if not 1 <= len(str(name)) <= TOPIC_NAME_LIMIT:
                    return failed(400, "Bad Request: TOPIC_TITLE_EMPTY")
                topic.name = str(name)
                topic.names.append(topic.name)
                return ok(True)
            closing = method == "closeforumtopic"
            if topic.closed == closing:
                return failed(400, "Bad Request: TOPIC_NOT_MODIFIED")
            topic.closed = closing
            if self.echo_service_messages and self._loop is not None:
                kind = "forum_topic_closed" if closing else "forum_topic_reopened"
                update = service_message(
                    group.chat_id, topic.thread_id, BOT_USER, kind, self._message_id()
                )
                self._loop.call_soon(self._add, update)
            return ok(True)

    def _create_topic(self, group: Group, params: dict[str, Any]) -> web.Response:
        name = str(params.get("name") or "")
        if not name:
            return failed(400, "Bad Request: TOPIC_TITLE_EMPTY")
        if len(name) > TOPIC_NAME_LIMIT:
            return failed(400, "Bad Request: TOPIC_TITLE_INVALID")
        thread = self._message_id()  # a topic's id is its service message's
        topic = Topic(group.chat_id, thread, name, names=[name])
        group.topics[thread] = topic
        if self.echo_service_messages and self._loop is not None:
            created = {"name": name, "icon_color": topic.icon_color}
            update = service_message(
                group.chat_id, thread, BOT_USER, "forum_topic_created", thread, created
            )
            self._loop.call_soon(self._add, update)
        return ok({"message_thread_id": thread, "name": name, "icon_color": topic.icon_color})


TOPIC_METHODS = {
    "createforumtopic",
    "editforumtopic",
    "closeforumtopic",
    "reopenforumtopic",
    "deleteforumtopic",
}
#: A chat's ``getChat`` fields aiogram requires beyond its id and type.
FULL_INFO = {
    "accent_color_id": 0,
    "max_reaction_count": 11,
    "accepted_gift_types": {
        "unlimited_gifts": False,
        "limited_gifts": False,
        "unique_gifts": False,
        "premium_subscription": False,
        "gifts_from_channels": False,
    },
}
ADMIN_RIGHTS = (
    "can_manage_chat",
    "can_delete_messages",
    "can_manage_video_chats",
    "can_restrict_members",
    "can_promote_members",
    "can_change_info",
    "can_invite_users",
    "can_post_stories",
    "can_edit_stories",
    "can_delete_stories",
    "can_send_welcome_messages",
    "can_pin_messages",
)

_update_ids = count(1_000_000)  # far from the ids tests number their own updates with


def member(user_id: int, first_name: str = "Mia", **more: Any) -> dict[str, Any]:
    """A group member, as an update's ``from``."""
    return {"id": user_id, "is_bot": False, "first_name": first_name, **more}


def group_message(
    chat_id: int,
    thread_id: int | None,
    user: dict[str, Any],
    text: str | None = None,
    *,
    message_id: int,
    topic_name: str = "",
    **content: Any,
) -> dict[str, Any]:
    """A member's message in a forum group, as an update: in topic *thread_id* (as
    Telegram sends it: ``message_thread_id``, ``is_topic_message`` and a reply to the
    topic's creation), or in the General topic when it is ``None``."""
    chat = {"id": chat_id, "type": "supergroup", "title": "Support staff", "is_forum": True}
    body: dict[str, Any] = {
        "message_id": message_id,
        "date": int(time.time()),
        "chat": chat,
        "from": user,
        **content,
    }
    if thread_id is not None:
        body.update(message_thread_id=thread_id, is_topic_message=True)
        body.setdefault(
            "reply_to_message",
            {
                "message_id": thread_id,
                "date": int(time.time()),
                "chat": chat,
                "from": BOT_USER,
                "message_thread_id": thread_id,
                "forum_topic_created": {"name": topic_name or "topic", "icon_color": 7322096},
            },
        )
    if text is not None:
        body["text"] = text
        if text.startswith("/"):
            body["entities"] = [
                {"type": "bot_command", "offset": 0, "length": len(text.split()[0])}
            ]
    return {"update_id": next(_update_ids), "message": body}


def service_message(
    chat_id: int,
    thread_id: int,
    user: dict[str, Any],
    kind: str,
    message_id: int,
    content: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A topic's service message (``forum_topic_closed``, …) as an update."""
    chat = {"id": chat_id, "type": "supergroup", "title": "Support staff", "is_forum": True}
    return {
        "update_id": next(_update_ids),
        "message": {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": chat,
            "from": user,
            "message_thread_id": thread_id,
            "is_topic_message": True,
            kind: content or {},
        },
    }


def next_update_id() -> int:
    """An update id after every one handed out so far (updates must come in order)."""
    return next(_update_ids)


def private_chat(user_id: int) -> dict[str, Any]:
    return {"id": user_id, "type": "private", "first_name": "Ann"}


def telegram_user(user_id: int, language: str = "en") -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": "Ann", "language_code": language}


def callback_update(
    user_id: int,
    data: str | None,
    *,
    message_id: int,
    chat: dict[str, Any] | None = None,
    language: str = "en",
    query_id: str | None = None,
) -> dict[str, Any]:
    """A user's press of an inline button under the bot's message *message_id*."""
    update_id = next(_update_ids)
    query: dict[str, Any] = {
        "id": query_id or f"cb-{update_id}",
        "from": telegram_user(user_id, language),
        "chat_instance": f"ci-{user_id}",
        "message": {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": chat or private_chat(user_id),
            "from": BOT_USER,
            "text": "…",
        },
    }
    if data is not None:
        query["data"] = data
    return {"update_id": update_id, "callback_query": query}


def edited_update(
    user_id: int, message_id: int, text: str | None = None, **content: Any
) -> dict[str, Any]:
    """A user's edit of their message *message_id* in the private chat (text or *content*,
    e.g. ``caption`` and ``photo``)."""
    body: dict[str, Any] = {
        "message_id": message_id,
        "date": int(time.time()) - 60,
        "edit_date": int(time.time()),
        "chat": private_chat(user_id),
        "from": telegram_user(user_id),
        **content,
    }
    if text is not None:
        body["text"] = text
    return {"update_id": next(_update_ids), "edited_message": body}


def _markup(value: Any) -> dict[str, Any] | None:
    """A ``reply_markup`` parameter (JSON text in a form, an object in JSON), parsed."""
    if value is None:
        return None
    if isinstance(value, str):
        parsed = json.loads(value)
        return parsed if isinstance(parsed, dict) else None
    return value if isinstance(value, dict) else None


def _thread_of(params: dict[str, Any]) -> int | None:
    return _int(params.get("message_thread_id"))


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None and value != "" else None
    except (TypeError, ValueError):
        return None


def _shown(value: Any) -> Any:
    return f"<file {value.filename}>" if isinstance(value, web.FileField) else value


def message(message_id: int, chat_id: int) -> dict[str, Any]:
    return {
        "message_id": message_id,
        "date": int(time.time()),
        "chat": {"id": chat_id, "type": "private"},
        "from": BOT_USER,
    }


def ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def too_many(retry_after: int) -> web.Response:
    return web.json_response(
        {
            "ok": False,
            "error_code": 429,
            "description": f"Too Many Requests: retry after {retry_after}",
            "parameters": {"retry_after": retry_after},
        },
        status=429,
    )


def failed(status: int, description: str) -> web.Response:
    return web.json_response(
        {"ok": False, "error_code": status, "description": description}, status=status
    )

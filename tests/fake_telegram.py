"""A fake Telegram Bot API server on loopback, for end-to-end tests of the example bot.

``getMe`` answers a bot, ``getUpdates`` long-polls a queue the test fills
(:meth:`FakeTelegram.push`), ``sendMessage`` is recorded (and can be made to
answer 429 once). Files go both ways as on the real Bot API: a test adds a
user's file (:meth:`FakeTelegram.add_file`) that ``getFile`` describes (or
refuses as too big) and ``/file/bot<token>/<path>`` serves; ``sendPhoto``,
``sendDocument``, … and ``sendMediaGroup`` (``attach://`` parts) record what
they were sent (:class:`Uploaded`: the bytes of a multipart upload, or the
string given instead: a file id or a URL Telegram would have to fetch).
Anything else answers ``ok``. It runs its own event loop in a thread, so a
synchronous test drives it while the bot runs in a subprocess.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.harness.process import free_port

BOT_USER = {"id": 4242, "is_bot": True, "first_name": "Support", "username": "desk_test_bot"}


@dataclass
class Sent:
    chat_id: int
    text: str


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


@dataclass
class UserFile:
    data: bytes
    path: str
    #: getFile refuses it, as Telegram refuses files over 20 MB to bots.
    too_big: bool = False


#: The ``send*`` methods that take one file, and the field that carries it.
SEND_FILE = {
    f"send{kind}": kind
    for kind in ("photo", "video", "voice", "audio", "animation", "sticker", "document")
}


@dataclass
class FakeTelegram:
    port: int = field(default_factory=free_port)
    sent: list[Sent] = field(default_factory=list)
    uploads: list[Uploaded] = field(default_factory=list)
    methods: list[str] = field(default_factory=list)
    #: file id -> a user's file (:meth:`add_file`); the paths downloaded, in order.
    files: dict[str, UserFile] = field(default_factory=dict)
    downloads: list[str] = field(default_factory=list)
    #: sendMessage calls answered 429 (see :meth:`rate_limit_next_send`).
    rate_limited: int = 0
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
        """
        assert self._loop is not None
        copy = json.loads(json.dumps(update))
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

    def uploads_to(self, chat_id: int) -> list[Uploaded]:
        with self._lock:
            return [u for u in self.uploads if u.chat_id == chat_id]

    def rate_limit_next_send(self, retry_after: int = 1) -> None:
        with self._lock:
            self._rate_limit_next = retry_after

    def texts_to(self, chat_id: int) -> list[str]:
        with self._lock:
            return [s.text for s in self.sent if s.chat_id == chat_id]

    def wait_for(self, what: str, check: Callable[[], bool], timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; sent: {self.sent[-10:]}")
            time.sleep(0.05)

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
        if method == "getme":
            return ok(BOT_USER)
        if method == "getupdates":
            offset = int(params.get("offset", 0) or 0)
            return ok(await self._updates(offset, float(params.get("timeout", 0) or 0)))
        if method == "sendmessage":
            return self._send_message(params)
        if method == "getfile":
            return self._get_file(params)
        if method in SEND_FILE:
            return self._send_file(method, params)
        if method == "sendmediagroup":
            return self._send_media_group(params)
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

    def _record(self, method: str, chat_id: int, kind: str, value: Any, caption: Any) -> None:
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
            )
        )

    def _send_file(self, method: str, params: dict[str, Any]) -> web.Response:
        chat_id = int(params["chat_id"])
        kind = SEND_FILE[method]
        if kind not in params:
            return failed(400, f"Bad Request: there is no {kind} in the request")
        with self._lock:
            value = self._attached(params, params[kind])
            self._record(method, chat_id, kind, value, params.get("caption"))
            message_id = self._message_id()
        return ok(message(message_id, chat_id))

    def _send_media_group(self, params: dict[str, Any]) -> web.Response:
        chat_id = int(params["chat_id"])
        media = json.loads(params["media"])
        if not 2 <= len(media) <= 10:
            return failed(400, "Bad Request: wrong number of media in the album")
        with self._lock:
            results = []
            for item in media:
                value = self._attached(params, item["media"])
                self._record("sendmediagroup", chat_id, item["type"], value, item.get("caption"))
                results.append(message(self._message_id(), chat_id))
        return ok(results)

    @staticmethod
    def _attached(params: dict[str, Any], value: Any) -> Any:
        """The file part an ``attach://<name>`` names (how uploads are sent), else *value*."""
        if isinstance(value, str) and value.startswith("attach://"):
            return params.get(value.removeprefix("attach://"), value)
        return value

    def _message_id(self) -> int:
        self._sent_messages += 1
        return self._sent_messages

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
        with self._lock:
            if self._rate_limit_next:
                retry_after, self._rate_limit_next = self._rate_limit_next, 0
                self.rate_limited += 1
                return web.json_response(
                    {
                        "ok": False,
                        "error_code": 429,
                        "description": f"Too Many Requests: retry after {retry_after}",
                        "parameters": {"retry_after": retry_after},
                    },
                    status=429,
                )
            self.sent.append(Sent(chat_id, str(params["text"])))
            message_id = self._message_id()
        return ok({**message(message_id, chat_id), "text": params["text"]})


def message(message_id: int, chat_id: int) -> dict[str, Any]:
    return {
        "message_id": message_id,
        "date": int(time.time()),
        "chat": {"id": chat_id, "type": "private"},
        "from": BOT_USER,
    }


def ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def failed(status: int, description: str) -> web.Response:
    return web.json_response(
        {"ok": False, "error_code": status, "description": description}, status=status
    )

"""A fake Telegram Bot API server on loopback, for end-to-end tests of the example bot.

``getMe`` answers a bot, ``getUpdates`` long-polls a queue the test fills
(:meth:`FakeTelegram.push`), ``sendMessage`` is recorded (and can be made to
answer 429 once), anything else answers ``ok``. It runs its own event loop in
a thread, so a synchronous test drives it while the bot runs in a subprocess.
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
class FakeTelegram:
    port: int = field(default_factory=free_port)
    sent: list[Sent] = field(default_factory=list)
    methods: list[str] = field(default_factory=list)
    #: sendMessage calls answered 429 (see :meth:`rate_limit_next_send`).
    rate_limited: int = 0
    _rate_limit_next: int = 0
    _loop: asyncio.AbstractEventLoop | None = None
    _queue: asyncio.Queue[dict[str, Any]] | None = None
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
        """Queue an update for the next ``getUpdates`` (the same one twice: delivered twice)."""
        assert self._loop is not None
        assert self._queue is not None
        self._loop.call_soon_threadsafe(self._queue.put_nowait, json.loads(json.dumps(update)))

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
        self._queue = asyncio.Queue()
        self._stop = asyncio.Event()
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
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
            return ok(await self._updates(float(params.get("timeout", 0) or 0)))
        if method == "sendmessage":
            return self._send_message(params)
        return ok(True)

    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            data: dict[str, Any] = await request.json()
            return data
        form = await request.post()
        return {key: value for key, value in form.items() if isinstance(value, str)}

    async def _updates(self, timeout: float) -> list[dict[str, Any]]:
        assert self._queue is not None
        try:
            first = await asyncio.wait_for(self._queue.get(), timeout=min(timeout, 30))
        except TimeoutError:
            return []
        updates = [first]
        while not self._queue.empty() and len(updates) < 100:
            updates.append(self._queue.get_nowait())
        return updates

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
            message_id = len(self.sent)
        return ok(
            {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private"},
                "from": BOT_USER,
                "text": params["text"],
            }
        )


def ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})

"""Django for HTTP; for WebSocket, the Channels ceiling for fan-out (no auth middleware, no
origin check, no database or channel layer): each ``ticket.assign`` from the bot becomes
one ``ticket.assigned`` frame to every listener of the process (encoded once, with only
the ``request_id``, which carries the benchmark's marker, spliced in), then an ack."""

from __future__ import annotations

import json
import os
from typing import Any

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.bare.settings")
django_application = get_asgi_application()  # sets Django up before Channels imports

from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

#: Every open listener of this process.
LISTENERS: set[ListenerConsumer] = set()

#: A ``ticket.assigned`` event shaped like the support app's, encoded once.
_TICKET = {"id": 1, "title": "benchmark", "resolved": False,
           "support_manager": {"id": 1, "username": "bench-manager"}}  # fmt: skip
_ASSIGNED_HEAD = (
    json.dumps({"type": "ticket.assigned", "ticket": _TICKET}, separators=(",", ":"))[:-1]
    + ',"request_id":'
)


def assigned_frame(request_id: Any) -> str:
    """The pre-encoded event with *request_id* spliced in."""
    return _ASSIGNED_HEAD + json.dumps(request_id) + "}"


class ListenerConsumer(AsyncWebsocketConsumer):  # type: ignore[misc]
    """An idle browser tab: accepted at once, then only receives."""

    async def connect(self) -> None:
        await self.accept()
        LISTENERS.add(self)

    async def disconnect(self, code: int) -> None:
        LISTENERS.discard(self)


class BotConsumer(AsyncWebsocketConsumer):  # type: ignore[misc]
    """The poster: each ``ticket.assign`` command is fanned out, then acked."""

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        command = json.loads(text_data or "{}")
        request_id = command.get("request_id")
        if command.get("type") == "ticket.assign":
            frame = assigned_frame(request_id)
            for listener in list(LISTENERS):
                await listener.send(text_data=frame)
        await self.send(text_data=json.dumps({"type": "ack", "request_id": request_id}))


routes = [path("ws/listen/", ListenerConsumer.as_asgi()), path("ws/bot/", BotConsumer.as_asgi())]
application = ProtocolTypeRouter({"http": django_application, "websocket": URLRouter(routes)})

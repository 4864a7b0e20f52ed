"""The bare project's ASGI application: Django for HTTP, the bare consumer for WebSocket.

No ``AuthMiddlewareStack`` and no origin check: the consumer is the
baseline because it does nothing but Channels' own work.
"""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.bare.settings")
django_application = get_asgi_application()  # sets Django up before the consumers import

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from benchmarks.bare.notes.consumers import BotConsumer, ListenerConsumer  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_application,
        "websocket": URLRouter(
            [
                path("ws/listen/", ListenerConsumer.as_asgi()),
                path("ws/bot/", BotConsumer.as_asgi()),
            ]
        ),
    }
)

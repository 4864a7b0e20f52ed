"""Django for HTTP, the bare consumers for WebSocket (no auth middleware, no origin check)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.bare.settings")
django_application = get_asgi_application()  # sets Django up before the consumers import

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from benchmarks.bare.notes.consumers import BotConsumer, ListenerConsumer  # noqa: E402

routes = [path("ws/listen/", ListenerConsumer.as_asgi()), path("ws/bot/", BotConsumer.as_asgi())]
application = ProtocolTypeRouter({"http": django_application, "websocket": URLRouter(routes)})

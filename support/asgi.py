"""The project's ASGI application: Django for HTTP, and the app's WebSocket routes.

WebSocket routing is added in one place, :func:`websocket_application`, so a
host project's ``asgi.py`` stays the three lines of the 1.x README.
"""

from __future__ import annotations

from typing import Any

from channels.routing import ProtocolTypeRouter
from django.core.asgi import get_asgi_application as get_django_asgi_application

#: Where the outermost layer keeps the server's own ``send`` in the scope
#: (see :mod:`support.realtime.outbox`); its presence also says that the
#: request came through :func:`get_asgi_application` (see :mod:`support.db`).
SERVER_SEND = "support.server_send"


def get_asgi_application(**extra_protocols: Any) -> ProtocolTypeRouter:
    """HTTP through Django; ``extra_protocols`` can add or replace protocol handlers."""
    http = get_django_asgi_application()  # sets Django up before any model import
    from support.realtime.hub import with_hub
    from support.realtime.outbox import remember_server_send

    protocols: dict[str, Any] = {"http": remember_server_send(with_hub(http))}
    websocket = websocket_application()
    if websocket is not None:
        protocols["websocket"] = websocket
    protocols.update(extra_protocols)
    return ProtocolTypeRouter(protocols)


def websocket_application() -> Any | None:
    """The WebSocket side: ``ws/support/`` and ``ws/support/manager/``."""
    from support.realtime.routing import websocket_application as build

    return build()

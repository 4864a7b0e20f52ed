"""The project's ASGI application: Django for HTTP, and the app's WebSocket routes.

WebSocket routing is added in one place, :func:`websocket_application`, so a
host project's ``asgi.py`` stays the three lines of the 1.x README.

This is the top of the app's layers: nothing in ``support`` imports it but
the package's :func:`support.get_asgi_application`. The realtime layer is
imported inside the functions because it imports the models, which need
Django set up first (the first line of :func:`get_asgi_application`).
"""

from __future__ import annotations

from typing import Any

from channels.routing import ProtocolTypeRouter
from django.core.asgi import get_asgi_application as get_django_asgi_application

from support.scope import remember_server_send


def get_asgi_application(**extra_protocols: Any) -> ProtocolTypeRouter:
    """HTTP through Django; ``extra_protocols`` can add or replace protocol handlers."""
    http = get_django_asgi_application()  # sets Django up before any model import
    from support.realtime.direct import DirectStreams
    from support.realtime.hub import with_hub

    # The long-poll and the SSE stream skip Django's handler with SUPPORT_DIRECT_STREAMS.
    protocols: dict[str, Any] = {"http": remember_server_send(with_hub(DirectStreams(http)))}
    websocket = websocket_application()
    if websocket is not None:
        protocols["websocket"] = websocket
    protocols.update(extra_protocols)
    return ProtocolTypeRouter(protocols)


def websocket_application() -> Any | None:
    """The WebSocket side: ``ws/support/`` and ``ws/support/manager/``."""
    from support.realtime.routing import websocket_application as build

    return build()

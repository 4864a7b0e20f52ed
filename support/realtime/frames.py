"""What bounds an incoming WebSocket frame: the server's own limit, read before the frame is.

The app refuses a command frame over :func:`~support.realtime.commands.frame_limit`
characters (``frame_too_large``), but only once the server has read all of it,
up to the server's own limit: uvicorn's ``--ws-max-size`` (16 MiB by default,
with up to 32 such messages queued per connection) or daphne's
``--websocket-max-message-size`` (1 MiB). That limit is what is checked on a
frame's header, before its payload is read, so it is what bounds a frame's
cost to the worker. The documented commands set it to the app's limit; a
server that reads far more is named in a warning at its first WebSocket.
"""

from __future__ import annotations

import logging
from typing import Any

from support.realtime.backlog import server_protocol
from support.realtime.commands import frame_limit

logger = logging.getLogger(__name__)

#: A server limit this many times the app's is "far above" it.
FAR_ABOVE = 4

_warned = False


def server_frame_limit(scope: dict[str, Any]) -> int | None:
    """The largest message the server reads for this connection, in bytes (``0``: no limit);
    ``None`` when the server does not show it."""
    protocol = server_protocol(scope)
    uvicorn_limit = getattr(getattr(protocol, "config", None), "ws_max_size", None)
    if isinstance(uvicorn_limit, int):
        return uvicorn_limit
    daphne_limit = getattr(protocol, "maxMessagePayloadSize", None)  # autobahn's, 0: none
    if isinstance(daphne_limit, int):
        return daphne_limit
    return None


def warn_if_unbounded(scope: dict[str, Any]) -> None:
    """Once per process: warn when the server reads frames far larger than the app accepts."""
    global _warned
    if _warned:
        return
    limit = server_frame_limit(scope)
    needed = frame_limit()
    if limit is None or 0 < limit <= FAR_ABOVE * needed:
        return
    _warned = True
    logger.warning(
        "The ASGI server reads WebSocket messages of %s before the support app can refuse "
        "anything over %d characters: one client can make this worker hold that much per "
        "frame. Set the server's limit: uvicorn --ws-max-size %d; daphne "
        "--websocket-max-message-size %d --websocket-max-frame-size %d.",
        "any size" if limit == 0 else f"up to {limit} bytes",
        needed,
        needed,
        needed,
        needed,
    )

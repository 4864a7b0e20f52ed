"""What the app's ASGI root puts in a connection's scope, for the layers below it.

A leaf: it imports nothing of ``support``, so :mod:`support.db` and the
realtime transports can read the scope without importing :mod:`support.asgi`,
which sits above them.
"""

from __future__ import annotations

from typing import Any

#: Where the outermost layer keeps the server's own ``send`` in the scope (see
#: :mod:`support.realtime.backlog`); its presence also says that the request
#: came through :func:`support.get_asgi_application` (see :mod:`support.db`).
SERVER_SEND = "support.server_send"


def remember_server_send(application: Any) -> Any:
    """Wrap an ASGI *application* so its scope carries the server's ``send``."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> Any:
        return await application({**scope, SERVER_SEND: send}, receive, send)

    return app

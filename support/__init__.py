"""ChatLabs Django Support: a support desk for Telegram bots.

``get_asgi_application`` is importable before Django is configured (the
``asgi.py`` of the 1.x README imports it before it sets
``DJANGO_SETTINGS_MODULE``), so this module imports nothing from Django at
import time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from support.version import __version__

if TYPE_CHECKING:
    from channels.routing import ProtocolTypeRouter

__all__ = ["__version__", "get_asgi_application"]


def get_asgi_application(**kwargs: Any) -> ProtocolTypeRouter:
    """Return the ASGI application for a project that mounts ``support``.

    See :func:`support.asgi.get_asgi_application`.
    """
    from support.asgi import get_asgi_application as build

    return build(**kwargs)

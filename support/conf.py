"""The app's settings, each with a default, read lazily.

Every value is looked up on ``django.conf.settings`` when it is first used,
never at import time, and remembered until a setting changes
(``setting_changed``: ``override_settings``, pytest-django's ``settings``),
so tests and late configuration in host projects both work. Remembering
matters on the hot paths: a ``SUPPORT_*`` name a project leaves unset costs
Django an ``AttributeError`` per lookup, several per event sent. This module
only reads: the system checks in :mod:`support.checks` tell a project that a
value is wrong (``support.E006`` on).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import cast

from django.conf import settings as django_settings
from django.core.signals import setting_changed

#: The setting that names the Telegram user model (``"app_label.ModelName"``).
TELEGRAM_USER_MODEL_SETTING = "SUPPORT_TELEGRAM_USER_MODEL"
#: The django-eventstream storage that serves SSE from the support event log:
#: ``EVENTSTREAM_STORAGE_CLASS`` is set to it when a project leaves it unset.
EVENTSTREAM_STORAGE = "support.realtime.storage.EventLogStorage"


class SupportSettings:
    """Typed, lazy access to the ``SUPPORT_*`` settings."""

    def __init__(self) -> None:
        self._values: dict[str, object] = {}
        setting_changed.connect(self._forget, weak=False)

    def _forget(self, **kwargs: object) -> None:
        self._values.clear()

    def _get(self, name: str, default: object) -> object:
        try:
            return self._values[name]
        except KeyError:
            value = self._values[name] = getattr(django_settings, f"SUPPORT_{name}", default)
            return value

    def _int(self, name: str, default: int) -> int:
        return cast(int, self._get(name, default))

    @property
    def TELEGRAM_USER_MODEL(self) -> str | None:
        """The Telegram user model label; required, checked by ``support.E001``."""
        value = self._get("TELEGRAM_USER_MODEL", None)
        return value if isinstance(value, str) else None

    @property
    def EVENT_RETENTION(self) -> timedelta:
        """How long the event log keeps events (a cursor older than this expires)."""
        value = self._get("EVENT_RETENTION", timedelta(days=7))
        if isinstance(value, int | float) and not isinstance(value, bool):
            return timedelta(seconds=value)
        return cast(timedelta, value)

    @property
    def LONGPOLL_MAX_TIMEOUT(self) -> int:
        """Upper bound, in seconds, for ``events/?timeout=``."""
        return self._int("LONGPOLL_MAX_TIMEOUT", 30)

    @property
    def LONGPOLL_DEFAULT_TIMEOUT(self) -> int:
        """Seconds a long-poll holds when the client gives no ``timeout``."""
        return self._int("LONGPOLL_DEFAULT_TIMEOUT", 25)

    @property
    def MAX_TEXT_LENGTH(self) -> int:
        """Longest message text accepted; 4096 is Telegram's own limit."""
        return self._int("MAX_TEXT_LENGTH", 4096)

    @property
    def MAX_TITLE_LENGTH(self) -> int:
        """Longest ticket title accepted (the column holds 256)."""
        return min(self._int("MAX_TITLE_LENGTH", 256), 256)

    @property
    def WEBSOCKET_PATHS(self) -> tuple[str, ...]:
        """Paths the WebSocket consumer is routed at (no leading slash)."""
        value = self._get("WEBSOCKET_PATHS", ("ws/support/", "ws/support/manager/"))
        return tuple(str(path) for path in cast(Sequence[object], value))

    @property
    def HUB_POLL_INTERVAL(self) -> float:
        """Seconds between the hub's reads of the log when no wake-up arrives.

        The channel layer wakes the hub at once; this timer is the safety net
        for publications lost while the layer was down.
        """
        return float(cast(float, self._get("HUB_POLL_INTERVAL", 2.0)))

    @property
    def CREDENTIAL_RECHECK_INTERVAL(self) -> float:
        """Seconds between each worker's re-checks of its open connections' credentials.

        A revoked bot key closes its connections at once (a broadcast); this
        re-check is what ends the streams of a manager who lost the
        permission or was deactivated, and the safety net for a lost broadcast.
        """
        return float(cast(float, self._get("CREDENTIAL_RECHECK_INTERVAL", 10.0)))

    @property
    def THROTTLE_RATES(self) -> dict[str, str | None]:
        """Request rates per side (``"6000/min"``; ``None`` turns a side's limit off)."""
        defaults: dict[str, str | None] = {"bot": "6000/min", "manager": "600/min"}
        value = self._get("THROTTLE_RATES", defaults)
        return {**defaults, **cast(dict[str, str | None], value)}

    @property
    def THROTTLE_CACHE(self) -> str:
        """The cache alias that holds the rate counters."""
        return str(self._get("THROTTLE_CACHE", "default"))

    @property
    def CHANNEL_GROUP(self) -> str:
        """Channel-layer group every process's hub listens on for new events."""
        return str(self._get("CHANNEL_GROUP", "support.events"))

    @property
    def TUNE_SQLITE(self) -> bool:
        """Whether SQLite connections get WAL, IMMEDIATE writes and a busy timeout."""
        return bool(self._get("TUNE_SQLITE", True))

    @property
    def MAX_STREAMS_PER_CREDENTIAL(self) -> int:
        """Open streams (WebSocket, SSE, waiting long-polls) one credential may hold per
        worker process; 0 means no limit. 32 fits a manager with many tabs and a bot
        with a few workers."""
        return self._int("MAX_STREAMS_PER_CREDENTIAL", 32)

    @property
    def MAX_CLIENT_BACKLOG(self) -> int:
        """Bytes a WebSocket or SSE client may leave unread at the server before its
        stream is closed (it resumes by cursor); 0 means no limit."""
        return self._int("MAX_CLIENT_BACKLOG", 1024 * 1024)

    @property
    def SLOW_CLIENT_TIMEOUT(self) -> float:
        """Seconds a WebSocket send may wait on a client before its stream is closed."""
        return float(cast(float, self._get("SLOW_CLIENT_TIMEOUT", 10.0)))


support_settings = SupportSettings()


def telegram_user_model_label() -> str:
    """The label the ``Ticket.user`` foreign key points at.

    A missing setting must not crash the import of ``support.models`` (that
    would hide the clear ``support.E001`` message behind a traceback), so a
    placeholder label is used; Django's own relation check then fails too.
    """
    return support_settings.TELEGRAM_USER_MODEL or "support.TelegramUserModelNotConfigured"

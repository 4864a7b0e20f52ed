"""The app's settings: one table of every ``SUPPORT_*`` setting, read lazily.

Each row of the table (an attribute of :class:`SupportSettings`, listed in
:data:`SETTINGS`) gives a setting's default, what its value must be (a
:class:`Kind`, which the system checks in :mod:`support.checks` hold a
project's value to, by the row's check id), and what it means (the line
``docs/settings.md`` shows; ``tests/test_settings_doc.py`` keeps the doc to
the table).

Every value is looked up on ``django.conf.settings`` when it is first used,
never at import time, and remembered until a setting changes
(``setting_changed``: ``override_settings``, pytest-django's ``settings``),
so tests and late configuration in host projects both work. Remembering
matters on the hot paths: a ``SUPPORT_*`` name a project leaves unset costs
Django an ``AttributeError`` per lookup, several per event sent. Reading does
not validate: telling a project that a value is wrong is the checks' job.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Generic, TypeGuard, TypeVar, cast, overload

from django.conf import settings as django_settings
from django.core.signals import setting_changed

from support import sniff

T = TypeVar("T")

#: The django-eventstream storage that serves SSE from the support event log:
#: ``EVENTSTREAM_STORAGE_CLASS`` is set to it when a project leaves it unset.
EVENTSTREAM_STORAGE = "support.realtime.storage.EventLogStorage"


def _number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


#: Seconds in each period a rate may name (``"600/min"``, ``"10/s"``).
PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """``"600/min"`` as ``(600, 60)``: requests allowed, per that many seconds.

    The rate limiter's reading of ``SUPPORT_THROTTLE_RATES``, here so that
    the settings' check accepts exactly what it reads.
    """
    count, _sep, period = rate.partition("/")
    return int(count), PERIODS[period.strip()[:1].lower()]


def _rate(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        parse_rate(value)
    except (KeyError, ValueError):
        return False
    return True


@dataclass(frozen=True)
class Kind:
    """What a setting's value must be: a test, and the words for its failure.

    *each*, for a list or a dict, is what each of its items (or values) must be.
    """

    description: str
    valid: Callable[[object], bool]
    each: Kind | None = None


MODEL_LABEL = Kind(
    'a string "app_label.ModelName"', lambda v: isinstance(v, str) and v.count(".") == 1
)
DURATION = Kind("a timedelta or seconds", lambda v: isinstance(v, timedelta) or _number(v))
POSITIVE_DURATION = Kind(
    "a positive timedelta or number of seconds",
    lambda v: (isinstance(v, timedelta) and v > timedelta(0)) or (_number(v) and v > 0),
)
OPTIONAL_DURATION = Kind(
    "None, or a positive timedelta or number of seconds",
    lambda v: v is None or POSITIVE_DURATION.valid(v),
)
NON_NEGATIVE_INTEGER = Kind(
    "a non-negative integer", lambda v: isinstance(v, int) and _number(v) and v >= 0
)
POSITIVE_NUMBER = Kind("a positive number", lambda v: _number(v) and v > 0)
PATHS = Kind(
    "a list of paths",
    lambda v: isinstance(v, list | tuple),
    each=Kind("a string", lambda v: isinstance(v, str)),
)
RATES = Kind(
    "a dict",
    lambda v: isinstance(v, dict),
    each=Kind('a rate such as "600/min", or None', lambda v: v is None or _rate(v)),
)
CACHE_ALIAS = Kind(
    "the alias of a cache in CACHES",
    lambda v: isinstance(v, str) and v in django_settings.CACHES,
)
GROUP_NAME = Kind(
    "a channel-layer group name: 1 to 99 ASCII letters, digits, hyphens, underscores or periods",
    lambda v: isinstance(v, str) and re.fullmatch(r"[A-Za-z0-9\-_.]{1,99}", v) is not None,
)
BOOLEAN = Kind("True or False", lambda v: isinstance(v, bool))
POSITIVE_INTEGER = Kind("a positive integer", lambda v: isinstance(v, int) and _number(v) and v > 0)
STORAGE_ALIAS = Kind(
    "the alias of a storage in STORAGES",
    lambda v: isinstance(v, str) and v in django_settings.STORAGES,
)
CONTENT_TYPES = Kind(
    "a list of content types",
    lambda v: isinstance(v, list | tuple),
    each=Kind(
        "one the app detects from a file's bytes (support.sniff.DETECTABLE)",
        lambda v: v in sniff.DETECTABLE,
    ),
)


class Setting(Generic[T]):
    """One row of the table: the setting ``SUPPORT_<attribute>`` of :class:`SupportSettings`.

    *read* turns the project's value (or *default*) into what the app uses;
    it does not validate (the checks do). A *required* setting has no
    default: *default* is only what is read while it is missing.
    """

    name: str

    def __init__(
        self,
        default: object,
        kind: Kind,
        meaning: str,
        *,
        check_id: str,
        read: Callable[[Any], T],
        required: bool = False,
    ) -> None:
        self.default = default
        self.kind = kind
        self.meaning = meaning
        self.check_id = check_id
        self.read = read
        self.required = required

    def __set_name__(self, owner: type[object], attribute: str) -> None:
        self.name = f"SUPPORT_{attribute}"

    @overload
    def __get__(self, instance: None, owner: type[object]) -> Setting[T]: ...
    @overload
    def __get__(self, instance: SupportSettings, owner: type[object]) -> T: ...
    def __get__(self, instance: SupportSettings | None, owner: type[object]) -> Setting[T] | T:
        if instance is None:
            return self
        return self.read(instance.raw(self))

    def __set__(self, instance: SupportSettings, value: object) -> None:
        raise AttributeError(f"{self.name} is read from django.conf.settings; override it there")

    def __repr__(self) -> str:
        return f"<Setting {self.name}>"


def _label(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _duration(value: object) -> timedelta:
    return timedelta(seconds=value) if _number(value) else cast(timedelta, value)


def _optional_duration(value: object) -> timedelta | None:
    return None if value is None else _duration(value)


#: How long Telegram lets a bot edit or delete a message it sent.
TELEGRAM_EDIT_LIMIT = timedelta(hours=48)


def _edit_window(value: object) -> timedelta:
    return min(_duration(value), TELEGRAM_EDIT_LIMIT)


def _int(value: object) -> int:
    return cast(int, value)


def _title_length(value: object) -> int:
    return min(cast(int, value), 256)  # the column holds 256


def _strings(value: object) -> tuple[str, ...]:
    return tuple(str(path) for path in cast(Sequence[object], value))


def _float(value: object) -> float:
    return float(cast(float, value))


_DEFAULT_RATES: dict[str, str | None] = {"bot": "6000/min", "manager": "600/min"}


def _rates(value: object) -> dict[str, str | None]:
    """A side the project leaves out keeps its default rate."""
    return {**_DEFAULT_RATES, **cast(dict[str, str | None], value)}


_DEFAULT_LOGIN_FAILURES: dict[str, str | None] = {"username": "10/h", "address": "50/h"}


def _login_failures(value: object) -> dict[str, str | None]:
    """A key the project leaves out keeps its default rate."""
    return {**_DEFAULT_LOGIN_FAILURES, **cast(dict[str, str | None], value)}


class SupportSettings:
    """Typed, lazy access to the ``SUPPORT_*`` settings: each attribute is a row of the table."""

    TELEGRAM_USER_MODEL = Setting(
        None,
        MODEL_LABEL,
        "the Telegram user model",
        check_id="support.E002",  # E001, E003, E004 too: see support.checks
        read=_label,
        required=True,
    )
    EVENT_RETENTION = Setting(
        timedelta(days=7),
        DURATION,
        "how long events are kept (a cursor older than this expires)",
        check_id="support.E006",
        read=_duration,
    )
    MAX_TEXT_LENGTH = Setting(
        4096,
        NON_NEGATIVE_INTEGER,
        "longest message text (4096 is Telegram's own limit)",
        check_id="support.E009",
        read=_int,
    )
    MAX_TITLE_LENGTH = Setting(
        256,
        NON_NEGATIVE_INTEGER,
        "longest ticket title (at most 256)",
        check_id="support.E010",
        read=_title_length,
    )
    LONGPOLL_DEFAULT_TIMEOUT = Setting(
        25,
        NON_NEGATIVE_INTEGER,
        "seconds a long-poll holds when the client gives no `timeout`",
        check_id="support.E008",
        read=_int,
    )
    LONGPOLL_MAX_TIMEOUT = Setting(
        30,
        NON_NEGATIVE_INTEGER,
        "the longest `timeout` a long-poll may ask for, in seconds",
        check_id="support.E007",
        read=_int,
    )
    WEBSOCKET_PATHS = Setting(
        ("ws/support/", "ws/support/manager/"),
        PATHS,
        "WebSocket routes (no leading slash)",
        check_id="support.E011",
        read=_strings,
    )
    CHANNEL_GROUP = Setting(
        "support.events",
        GROUP_NAME,
        "channel-layer group for live events",
        check_id="support.E019",
        read=str,
    )
    # The channel layer wakes the hub at once; this timer is the safety net for
    # publications lost while the layer was down.
    HUB_POLL_INTERVAL = Setting(
        2.0,
        POSITIVE_NUMBER,
        "seconds between each worker's safety-net reads of the log",
        check_id="support.E012",
        read=_float,
    )
    # A revoked bot key closes its connections at once (a broadcast); this
    # re-check is what ends the streams of a manager who lost the permission or
    # was deactivated, and the safety net for a lost broadcast.
    CREDENTIAL_RECHECK_INTERVAL = Setting(
        10.0,
        POSITIVE_NUMBER,
        "seconds between each worker's re-checks of the credentials behind its open "
        "streams (one query per bot-key batch and per manager, whatever the number of "
        "connections), and the longest a worker remembers a checked `Authorization` "
        "credential",
        check_id="support.E013",
        read=_float,
    )
    THROTTLE_RATES = Setting(
        _DEFAULT_RATES,
        RATES,
        "request rates per bot key and per manager (`None` turns a side off; a side "
        "left out keeps its default)",
        check_id="support.E014",
        read=_rates,
    )
    THROTTLE_CACHE = Setting(
        "default",
        CACHE_ALIAS,
        "the cache that counts the requests (share it between workers)",
        check_id="support.E018",
        read=str,
    )
    # 32 fits a manager with many tabs and a bot with a few workers.
    MAX_STREAMS_PER_CREDENTIAL = Setting(
        32,
        NON_NEGATIVE_INTEGER,
        "open streams (WebSockets, SSE streams, waiting long-polls) one bot key or manager "
        "may hold on one worker; `0` means no limit",
        check_id="support.E015",
        read=_int,
    )
    MAX_CLIENT_BACKLOG = Setting(
        1024 * 1024,
        NON_NEGATIVE_INTEGER,
        "bytes a WebSocket or SSE client may leave unread at the server before its stream "
        "is closed (it resumes by cursor); `0` means no limit",
        check_id="support.E016",
        read=_int,
    )
    SLOW_CLIENT_TIMEOUT = Setting(
        10.0,
        POSITIVE_NUMBER,
        "seconds one WebSocket send may wait on its client (servers with backpressure, "
        "such as uvicorn) before the stream is closed",
        check_id="support.E017",
        read=_float,
    )
    TUNE_SQLITE = Setting(
        True,
        BOOLEAN,
        "SQLite connections queue their writers: `BEGIN IMMEDIATE`, WAL, a 20 s busy "
        "timeout, each unless your `OPTIONS` set it",
        check_id="support.E020",
        read=bool,
    )
    # Off by default: a host's middleware (CORS, say) would silently stop applying.
    DIRECT_STREAMS = Setting(
        False,
        BOOLEAN,
        "serve `events/` and `events/stream/` straight from the ASGI application, in front of "
        "Django's handler: much cheaper per long-poll and per stream opened, but the project's "
        "middleware does not run for those two paths (see docs/deployment.md)",
        check_id="support.E031",
        read=bool,
    )
    # The bound on a request while PostgreSQL is down or unreachable (see support.db).
    DATABASE_CONNECT_TIMEOUT = Setting(
        5,
        POSITIVE_NUMBER,
        "seconds the app's own PostgreSQL connections wait to connect before the request "
        "is answered `503 busy` (whole seconds, 2 at least; a refused connection fails at once)",
        check_id="support.E025",
        read=_float,
    )

    ATTACHMENT_STORAGE = Setting(
        "default",
        STORAGE_ALIAS,
        "the storage (an alias of `STORAGES`) that keeps attachments; shared by every "
        "worker (a common disk, or S3 through django-storages)",
        check_id="support.E021",
        read=str,
    )
    # Telegram's Bot API lets a bot download files up to 20 MB.
    MAX_ATTACHMENT_SIZE = Setting(
        20 * 1024 * 1024,
        POSITIVE_INTEGER,
        "largest attachment, in bytes",
        check_id="support.E022",
        read=_int,
    )
    # Telegram's album holds 10.
    MAX_ATTACHMENTS_PER_MESSAGE = Setting(
        10,
        POSITIVE_INTEGER,
        "most attachments one message may carry",
        check_id="support.E023",
        read=_int,
    )
    ATTACHMENT_CONTENT_TYPES = Setting(
        sniff.DETECTABLE,
        CONTENT_TYPES,
        "content types accepted, as detected from the bytes (images, PDF, plain text, "
        "archives, office documents, audio, video)",
        check_id="support.E024",
        read=_strings,
    )

    # Long enough to switch to Telegram and type it; short, as it is a credential.
    TELEGRAM_LINK_CODE_TTL = Setting(
        timedelta(minutes=10),
        POSITIVE_DURATION,
        "how long a manager's Telegram link code (`POST telegram/link/`) stays valid",
        check_id="support.E026",
        read=_duration,
    )

    # Per address higher than per username: an office signs in from one address.
    LOGIN_FAILURE_RATES = Setting(
        _DEFAULT_LOGIN_FAILURES,
        RATES,
        "failed sign-ins allowed per username and per client address before sign-in is "
        "refused for the rest of the window (`support.login_throttle`; `None` turns one off)",
        check_id="support.E027",
        read=_login_failures,
    )

    # A conversation's life (issue 23). ``None`` keeps 1.x behaviour: a user's
    # message on a resolved ticket is refused and the bot opens a new ticket.
    REOPEN_WINDOW = Setting(
        None,
        OPTIONAL_DURATION,
        "how long after resolution a user's message reopens the ticket instead of opening "
        "a new one (linked to it); `None`: never reopened by a message",
        check_id="support.E028",
        read=_optional_duration,
    )
    AUTO_RESOLVE_AFTER = Setting(
        None,
        OPTIONAL_DURATION,
        "how long a ticket may stay without a message before `manage.py "
        "support_auto_resolve` (run it from cron) resolves it; `None`: never",
        check_id="support.E029",
        read=_optional_duration,
    )
    # Short: the user may already have read the reply. Telegram lets a bot
    # edit or delete its messages for 48 hours.
    EDIT_WINDOW = Setting(
        timedelta(minutes=15),
        POSITIVE_DURATION,
        "how long after sending a manager may edit or delete their own reply (at most "
        "48 hours, Telegram's limit for a bot's edits)",
        check_id="support.E030",
        read=_edit_window,
    )

    def __init__(self) -> None:
        self._values: dict[str, object] = {}
        setting_changed.connect(self._forget, weak=False)

    def _forget(self, **kwargs: object) -> None:
        self._values.clear()

    def raw(self, setting: Setting[Any]) -> object:
        """The project's value of *setting*, or its default: remembered until a setting changes."""
        try:
            return self._values[setting.name]
        except KeyError:
            value = self._values[setting.name] = getattr(
                django_settings, setting.name, setting.default
            )
            return value


#: The table: every setting, in the order ``docs/settings.md`` lists them.
SETTINGS: tuple[Setting[Any], ...] = tuple(
    row for row in vars(SupportSettings).values() if isinstance(row, Setting)
)

#: The setting that names the Telegram user model (``"app_label.ModelName"``).
TELEGRAM_USER_MODEL_SETTING = SupportSettings.TELEGRAM_USER_MODEL.name

support_settings = SupportSettings()


def telegram_user_model_label() -> str:
    """The label the ``Ticket.user`` foreign key points at.

    A missing setting must not crash the import of ``support.models`` (that
    would hide the clear ``support.E001`` message behind a traceback), so a
    placeholder label is used; Django's own relation check then fails too.
    """
    return support_settings.TELEGRAM_USER_MODEL or "support.TelegramUserModelNotConfigured"

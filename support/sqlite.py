"""SQLite set up for concurrent writers, however the database was configured.

SQLite allows one writer at a time. Left at its defaults, a transaction that
reads and then writes (every service function does) asks for the write lock
only at its first write; when two do that at once, one fails at once with
"database is locked", whatever the busy timeout. So on each new SQLite
connection, unless the project chose otherwise in ``OPTIONS``:

* transactions begin ``IMMEDIATE``: they take the write lock up front and
  queue for it, under the busy timeout;
* the busy timeout is :data:`BUSY_TIMEOUT_MS` (Python's default is 5 s);
* the journal is WAL, so readers (lists, streams, the hub) never wait for the
  writer, nor it for them. ``synchronous`` stays ``FULL``: a commit that was
  answered survives a crash or a power loss.

``SUPPORT_TUNE_SQLITE = False`` leaves connections alone. A write that still
finds the database locked when its wait ends is answered 503 ``busy``.
"""

from __future__ import annotations

from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created

from support.conf import support_settings

BUSY_TIMEOUT_MS = 20_000


def tune(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    if connection.vendor != "sqlite" or not support_settings.TUNE_SQLITE:
        return
    options = connection.settings_dict.get("OPTIONS") or {}
    if "transaction_mode" not in options:
        connection.transaction_mode = "IMMEDIATE"  # type: ignore[attr-defined]
    raw = connection.connection  # the sqlite3.Connection just opened
    if "timeout" not in options:
        raw.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    if not connection.is_in_memory_db():  # type: ignore[attr-defined]
        raw.execute("PRAGMA journal_mode = WAL")


def install() -> None:
    connection_created.connect(tune, dispatch_uid="support.sqlite.tune")

"""The bare baselines (:mod:`benchmarks.bare`) as a :class:`~benchmarks.targets.Target`.

One process per configuration of ours, same server, same kind of database: its
WebSocket endpoints are the bare Channels consumer (B2, B3: listeners on
``ws/listen/``, a bot sending ``ticket.assign`` on ``ws/bot/``) and its
``POST /notes/`` is the bare Django view (B5). The fan-out needs no database,
so only the SQLite configurations take part in B2 and B3.
"""

from __future__ import annotations

from pathlib import Path

from benchmarks.config import say
from benchmarks.targets import (
    MANAGE_TIMEOUT,
    HttpPost,
    Target,
    WsPost,
    environment,
    process,
    server_command,
    text_body,
)
from tests.harness.process import ROOT, run_manage


def bare(workdir: Path, server_kind: str, database_url: str | None = None) -> Target:
    """The bare project under *server_kind*, migrated, on SQLite or *database_url*."""
    short = "pg" if database_url else "sqlite"
    key = f"bare-{server_kind}-{short}"
    folder = workdir / key
    folder.mkdir(parents=True, exist_ok=True)
    env = environment(
        {"DJANGO_SETTINGS_MODULE", "DATABASE_URL"},
        DJANGO_SETTINGS_MODULE="benchmarks.bare.settings",
        SQLITE_PATH=str(folder / "bare.sqlite3"),
        PYTHONPATH=str(ROOT),
        **({"DATABASE_URL": database_url} if database_url else {}),
    )
    say(f"{key}: migrating")
    manage = ROOT / "benchmarks" / "bare" / "manage.py"
    run_manage(manage, env, "migrate", "--noinput", "-v", "0", timeout=MANAGE_TIMEOUT)
    command = server_command(server_kind, "benchmarks.bare.asgi:application")
    server = process(folder, env, command, key)
    storage = "PostgreSQL" if database_url else "SQLite"
    return Target(
        key, f"bare Django/Channels · {server_kind} · {storage}", "bare", server_kind, storage,
        server, "/ws/listen/", WsPost("/ws/bot/", command="ticket.assign"),
        frozenset({"b2", "b3", "b5"} if short == "sqlite" else {"b5"}),
        rest_post=HttpPost("/notes/", [[]], text_body),
    )  # fmt: skip

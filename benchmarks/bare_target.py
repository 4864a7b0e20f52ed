"""The bare baselines as a :class:`~benchmarks.targets.Target`: :mod:`benchmarks.bare` served
by the same server, on the same kind of database, as one configuration of ours.

One process serves both baselines: its WebSocket endpoints are the bare
Channels consumer (B2, B3 drive it like the pure server: listeners on
``ws/listen/``, a bot sending ``ticket.assign`` commands on ``ws/bot/``) and
its ``POST /notes/`` is the bare Django view (B5). The fan-out needs no
database, so only the SQLite configurations take part in B2 and B3; B5
measures every configuration.
"""

from __future__ import annotations

import os
from pathlib import Path

from benchmarks.config import say
from benchmarks.targets import (
    MANAGE_TIMEOUT,
    START_TIMEOUT,
    STOP_TIMEOUT,
    HttpPost,
    Target,
    WsPost,
    daphne_command,
    text_body,
    uvicorn_command,
)
from tests.harness.process import ROOT, ServerProcess, run_manage

MANAGE = ROOT / "benchmarks" / "bare" / "manage.py"
APP = "benchmarks.bare.asgi:application"


def bare(workdir: Path, server_kind: str, database_url: str | None = None) -> Target:
    """The bare project under *server_kind*, migrated, on SQLite or *database_url*."""
    short = "pg" if database_url else "sqlite"
    key = f"bare-{server_kind}-{short}"
    folder = workdir / key
    folder.mkdir(parents=True, exist_ok=True)
    inherited = {"DJANGO_SETTINGS_MODULE", "DATABASE_URL"}
    env = {
        **{k: v for k, v in os.environ.items() if k not in inherited},
        "DJANGO_SETTINGS_MODULE": "benchmarks.bare.settings",
        "SQLITE_PATH": str(folder / "bare.sqlite3"),
        "PYTHONPATH": str(ROOT),
        "PYTHONUNBUFFERED": "1",
    }
    if database_url:
        env["DATABASE_URL"] = database_url
    say(f"{key}: migrating")
    run_manage(MANAGE, env, "migrate", "--noinput", "-v", "0", timeout=MANAGE_TIMEOUT)
    command = daphne_command if server_kind == "daphne" else uvicorn_command
    server = ServerProcess(
        folder, env, command(APP), cwd=folder, name=key,
        start_timeout=START_TIMEOUT, stop_timeout=STOP_TIMEOUT,
    ).start()  # fmt: skip
    storage = "PostgreSQL" if database_url else "SQLite"
    return Target(
        key=key,
        label=f"bare Django/Channels · {server_kind} · {storage}",
        family="bare",
        server_kind=server_kind,
        storage=storage,
        server=server,
        transports=("websocket",),
        ws_path="/ws/listen/",
        api="",
        listen_headers=[],
        post=WsPost("/ws/bot/", command="ticket.assign"),
        rest_post=HttpPost("/notes/", [[]], text_body),
        measured_in=frozenset({"b2", "b3", "b5"} if short == "sqlite" else {"b5"}),
    )

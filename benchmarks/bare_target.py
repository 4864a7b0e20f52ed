"""The bare baselines (:mod:`benchmarks.bare`), one process per configuration of ours:
the bare Channels consumer (B2 and B3, SQLite only: it needs no database), the bare
Django views ``POST /notes/`` (B5) and ``POST /upload/`` (B6, SQLite only), same server,
same kind of database, uploads to the same disk."""

import subprocess
import sys
from pathlib import Path

from benchmarks import targets
from benchmarks.config import say
from tests.harness.process import ROOT


def bare(
    workdir: Path, files: Path, server_kind: str, database_url: str | None = None
) -> targets.Target:
    """The bare project under *server_kind*, migrated, on SQLite or *database_url*."""
    short = "pg" if database_url else "sqlite"
    key = f"bare-{server_kind}-{short}"
    folder = workdir / key
    folder.mkdir(parents=True, exist_ok=True)
    env = targets.environment(
        {"DJANGO_SETTINGS_MODULE", "DATABASE_URL"},
        DJANGO_SETTINGS_MODULE="benchmarks.bare.settings",
        SQLITE_PATH=str(folder / "bare.sqlite3"),
        PYTHONPATH=str(ROOT),
        **targets.file_env(files, key),
        **({"DATABASE_URL": database_url} if database_url else {}),
    )
    say(f"{key}: migrating")
    migrate = [sys.executable, "-m", "django", "migrate", "--run-syncdb", "--noinput", "-v", "0"]
    run = subprocess.run(migrate, env=env, capture_output=True, text=True, check=False,
                         timeout=targets.MANAGE_TIMEOUT)  # fmt: skip
    if run.returncode:
        raise RuntimeError(f"{key}: migrate failed:\n{run.stdout}\n{run.stderr}")
    command = targets.server_command(server_kind, "benchmarks.bare.asgi:application")
    server = targets.process(folder, env, command, key)
    storage = "PostgreSQL" if database_url else "SQLite"
    return targets.Target(
        key, f"bare Django/Channels · {server_kind} · {storage}", "bare", server_kind, storage,
        server, "/ws/listen/", targets.WsPost("/ws/bot/", command="ticket.assign"),
        frozenset({"b2", "b3", "b5", "b6"} if short == "sqlite" else {"b5"}),
        rest_post=targets.HttpPost("/notes/", [[]], targets.text_body), upload_path="/upload/",
    )  # fmt: skip

"""The servers under test, one process each on loopback, with the listen backlog of 2,048
every server the project starts asks for (``tests.harness.server.LISTEN_BACKLOG``): ours
(the example project as the README documents it; ``DATABASE_URL`` and ``REDIS_URL`` for
PostgreSQL + Redis), pure (:mod:`benchmarks.purews`), and bare (:mod:`benchmarks.bare`,
per configuration of ours: its Channels consumer for B2 and B3, its views for B5 and B6)."""

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.config import say
from tests.harness.process import ROOT, Command, ServerProcess
from tests.harness.server import (
    LISTEN_BACKLOG,
    WEBSOCKET_MAX_SIZE,
    LiveServer,
    daphne_endpoint,
    server_env,
)

BOT_KEYS = 16  # posts rotate over them, so the per-key rate limit never caps B2
START_TIMEOUT, STOP_TIMEOUT, MANAGE_TIMEOUT = 60, 15, 600
Headers = list[tuple[str, str]]


@dataclass
class HttpPost:
    """A bot's REST post: ``POST path`` with one of *headers* (rotated) and a body (JSON,
    or B6's multipart upload)."""

    path: str
    headers: list[Headers]
    body: Callable[[str], bytes]
    content_type: str = "application/json"
    method: str = "POST"  # or "GET": B6's downloads, their bodies counted and dropped


@dataclass
class WsPost:
    """A baseline's post: a frame on a WebSocket at *path*, acked; the pure server's
    ``{"ticket", "text"}``, or with *command* our command shape (the marker in ``request_id``)."""

    path: str
    command: str | None = None

    def frame(self, text: str) -> str:
        if self.command is None:
            return json.dumps({"ticket": 1, "text": text})
        return json.dumps({"type": self.command, "request_id": text, "ticket_id": 1})


@dataclass
class Target:
    key: str
    label: str
    family: str  # "ours", "pure" or "bare"
    server_kind: str  # "daphne", "uvicorn" or "websockets"
    storage: str
    server: ServerProcess
    ws_path: str
    post: HttpPost | WsPost
    measured_in: frozenset[str]
    transports: tuple[str, ...] = ("websocket",)
    api: str = ""
    listen_headers: Headers = field(default_factory=list)
    manage: Callable[[str], str] | None = None  # runs a script in ``manage.py shell``
    rest_post: HttpPost | None = None  # B5's post (ours: ``post``; bare: the plain view)

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def config(self) -> tuple[str, str]:
        """(server, storage) as the sizes name configurations."""
        return (self.server_kind, "pg" if "Postgre" in self.storage else "sqlite")

    def describe(self) -> dict[str, Any]:
        return {"label": self.label, "family": self.family, "server": self.server_kind,
                "storage": self.storage, "transports": list(self.transports),
                "measured_in": sorted(self.measured_in)}  # fmt: skip


def server_command(server_kind: str, app: str) -> Command:
    """daphne or uvicorn serving *app*: one worker, no access log, a backlog of 2,048."""

    def command(port: int) -> list[str]:
        # The frame limit docs/deployment.md starts the servers with.
        limit = str(WEBSOCKET_MAX_SIZE)
        if server_kind == "daphne":
            return [sys.executable, "-m", "daphne", "-v", "0", "-e", daphne_endpoint(port),
                    "--websocket-max-message-size", limit, "--websocket-max-frame-size", limit,
                    app]  # fmt: skip
        return [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
                "--no-access-log", "--log-level", "warning", "--backlog", str(LISTEN_BACKLOG),
                "--lifespan", "off", "--ws-max-size", limit]  # fmt: skip

    return command


def process(workdir: Path, env: dict[str, str], command: Command, name: str) -> ServerProcess:
    return ServerProcess(workdir, env, command, workdir, name, start_timeout=START_TIMEOUT,
                         stop_timeout=STOP_TIMEOUT).start()  # fmt: skip


def environment(drop: set[str], **extra: str) -> dict[str, str]:
    """This process's environment without *drop*, plus *extra*, unbuffered."""
    return {**{k: v for k, v in os.environ.items() if k not in drop}, **extra,
            "PYTHONUNBUFFERED": "1"}  # fmt: skip


def file_env(files: Path, key: str) -> dict[str, str]:
    """*key*'s uploads (``MEDIA_ROOT``) and temporary files in one folder on the disk: every
    server's finished upload is renamed into its storage, none copied across file systems."""
    (files / key).mkdir(parents=True, exist_ok=True)
    return {"MEDIA_ROOT": str(files / key), "TMPDIR": str(files / key)}


def text_body(text: str) -> bytes:
    """A bot's post body: ours and the bare view take the same JSON."""
    return json.dumps({"text": text}).encode()


OURS_SETUP = """
import json
from django.contrib.auth.models import Permission, User
from rest_framework.authtoken.models import Token
from support.botkeys import create_bot_key
perm = Permission.objects.get(codename="manage_tickets", content_type__app_label="support")
user, _ = User.objects.get_or_create(username="bench-manager")
user.user_permissions.add(perm)
token = Token.objects.get_or_create(user=user)[0].key
keys = [create_bot_key(f"bench-bot-{i}")[1] for i in range(%d)]
print(json.dumps({"token": token, "manager_id": user.pk, "bot_keys": keys}))
"""


def ours(
    workdir: Path, files: Path, server_kind: str, database_url: str | None = None,
    redis_url: str | None = None,
) -> Target:  # fmt: skip
    """Our example project, migrated, with a manager token, bot keys and one ticket."""
    key = f"ours-{server_kind}-{'pg' if database_url else 'sqlite'}"
    workdir = workdir / key
    workdir.mkdir(parents=True, exist_ok=True)
    urls = {"DATABASE_URL": database_url, "REDIS_URL": redis_url}
    env = server_env(workdir, **{name: url for name, url in urls.items() if url})
    env.update(file_env(files, key))
    env["SUPPORT_MAX_STREAMS_PER_CREDENTIAL"] = "0"  # thousands of streams is B3's point
    server = LiveServer(
        workdir, env, server_command(server_kind, "example.asgi:application"), name=key,
        start_timeout=START_TIMEOUT, stop_timeout=STOP_TIMEOUT,
    )  # fmt: skip

    def manage(script: str) -> str:
        return server.manage("shell", "-c", script, timeout=MANAGE_TIMEOUT)

    say(f"{key}: migrating")
    server.manage("migrate", "--noinput", "-v", "0", timeout=MANAGE_TIMEOUT)
    creds = json.loads(manage(OURS_SETUP % BOT_KEYS).strip().splitlines()[-1])
    server.start()
    bot_headers = [[("Authorization", f"Api-Key {k}")] for k in creds["bot_keys"]]
    request = urllib.request.Request(
        f"{server.api}tickets/",
        data=json.dumps({"user_id": 424242, "title": "benchmark", "text": "start"}).encode(),
        headers={**dict(bot_headers[0]), "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        ticket = json.loads(response.read())
    post = HttpPost(f"/support/tickets/{ticket['id']}/messages/", bot_headers, text_body)
    return Target(
        key, f"ours · {server_kind} · {'PostgreSQL+Redis' if database_url else 'SQLite'}",
        "ours", server_kind,
        "PostgreSQL + Redis" if database_url else "SQLite + in-memory layer",
        server, "/ws/support/", post, frozenset({"b1", "b2", "b3", "b4", "b5", "b6"}),
        transports=("websocket", "sse", "longpoll"), api="/support/",
        listen_headers=[("Authorization", f"Token {creds['token']}")], manage=manage,
        rest_post=post,
    )  # fmt: skip


def pure(workdir: Path) -> Target:
    """The practical Python ceiling for fan-out (:mod:`benchmarks.purews`)."""

    def command(port: int) -> list[str]:
        return [sys.executable, "-m", "benchmarks.purews", "--port", str(port)]

    env = environment(set(), PYTHONPATH=str(ROOT))
    server = process(workdir, env, command, "pure-websockets")
    return Target("pure", "pure websockets (ceiling)", "pure", "websockets", "none", server,
                  "/listen", WsPost("/bot"), frozenset({"b1", "b2", "b3"}))  # fmt: skip


def bare(workdir: Path, files: Path, server_kind: str, database_url: str | None = None) -> Target:
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
        **file_env(files, key),
        **({"DATABASE_URL": database_url} if database_url else {}),
    )
    say(f"{key}: migrating")
    migrate = [sys.executable, "-m", "django", "migrate", "--run-syncdb", "--noinput", "-v", "0"]
    run = subprocess.run(migrate, env=env, capture_output=True, text=True, check=False,
                         timeout=MANAGE_TIMEOUT)  # fmt: skip
    if run.returncode:
        raise RuntimeError(f"{key}: migrate failed:\n{run.stdout}\n{run.stderr}")
    command = server_command(server_kind, "benchmarks.bare.asgi:application")
    server = process(folder, env, command, key)
    storage = "PostgreSQL" if database_url else "SQLite"
    return Target(
        key, f"bare Django/Channels · {server_kind} · {storage}", "bare", server_kind, storage,
        server, "/ws/listen/", WsPost("/ws/bot/", command="ticket.assign"),
        frozenset({"b2", "b3", "b5", "b6"} if short == "sqlite" else {"b5"}),
        rest_post=HttpPost("/notes/", [[]], text_body),
    )  # fmt: skip

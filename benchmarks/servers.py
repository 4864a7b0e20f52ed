"""The servers under test, started by the benchmark itself on loopback.

A :class:`Target` is one server configuration as the client sees it: where
its WebSocket, SSE and long-poll endpoints are, which credential a listener
sends, and how a bot posts a message. Our example project runs exactly as
the README documents (``example.asgi:application``, ``DATABASE_URL`` and
``REDIS_URL`` switch it to PostgreSQL + Redis), with one worker process and
access logs off, under daphne or uvicorn. Every server listens with a
backlog of 1,024, so connection bursts are not dropped by the kernel.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.util import (
    EXAMPLE,
    ROOT,
    cpu_seconds,
    free_port,
    rss_bytes,
    say,
    wait_for_port,
)

#: Bot keys per server: posts rotate over them, so the per-key rate limit
#: (100/s by default) never caps the throughput ladder.
BOT_KEYS = 16

Headers = list[tuple[str, str]]


@dataclass
class Server:
    """One server process, measured from outside through ``/proc``.

    It inherits the open-file limit, which :func:`~benchmarks.util.raise_nofile_limit`
    has raised to the hard limit in this process before anything is started
    (``nofile_limit`` reads it back from ``/proc/PID/limits`` for the report).
    """

    name: str
    command: Callable[[int], list[str]]
    cwd: Path
    env: dict[str, str]
    workdir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        return self.workdir / f"{self.name}.log"

    @property
    def pid(self) -> int:
        assert self.process is not None, f"{self.name} is not running"
        return self.process.pid

    def start(self, fresh_port: bool = False) -> Server:
        if fresh_port:
            self.port = free_port()
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.command(self.port),
                cwd=self.cwd,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_for_port(self.port, self.process, self.log)
        return self

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def rss(self) -> int:
        return rss_bytes(self.pid)

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def nofile_limit(self) -> int:
        for line in Path(f"/proc/{self.pid}/limits").read_text().splitlines():
            if line.startswith("Max open files"):
                return int(line.split()[3])
        return -1


@dataclass
class HttpPost:
    """A bot's REST post: ``POST path`` with one of *headers* (rotated) and a JSON body."""

    path: str
    headers: list[Headers]
    body: Callable[[str], bytes]


@dataclass
class WsPost:
    """The baseline's post: a JSON frame on a WebSocket at *path*, acked by the server."""

    path: str
    ticket: int = 1


@dataclass
class Target:
    key: str
    label: str
    family: str  # "ours", "pure" or "original"
    server_kind: str  # "daphne", "uvicorn" or "websockets"
    storage: str
    server: Server
    transports: tuple[str, ...]
    ws_path: str
    api: str
    listen_headers: Headers
    post: HttpPost | WsPost
    manage: Callable[[str], str] | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def port(self) -> int:
        return self.server.port

    def describe(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "family": self.family,
            "server": self.server_kind,
            "storage": self.storage,
            "transports": list(self.transports),
            **self.info,
        }


# --- our example project ----------------------------------------------------

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


def ours_env(workdir: Path, database_url: str | None, redis_url: str | None) -> dict[str, str]:
    """The example project's environment, as ``tests/live.py`` builds it."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL"}
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "example.settings",
            "DJANGO_DEBUG": "0",
            "SQLITE_PATH": str(workdir / "db.sqlite3"),
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(EXAMPLE)]),
            "PYTHONUNBUFFERED": "1",
        }
    )
    if database_url:
        env["DATABASE_URL"] = database_url
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


def daphne_command(app: str, python: str = sys.executable) -> Callable[[int], list[str]]:
    def command(port: int) -> list[str]:
        endpoint = f"tcp:port={port}:interface=127.0.0.1:backlog=1024"
        return [python, "-m", "daphne", "-v", "0", "-e", endpoint, app]

    return command


def uvicorn_command(app: str) -> Callable[[int], list[str]]:
    def command(port: int) -> list[str]:
        return [
            sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
            "--no-access-log", "--log-level", "warning", "--backlog", "1024", "--lifespan", "off",
        ]  # fmt: skip

    return command


def run_manage(python: str, manage_py: Path, env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [python, str(manage_py), *args],
        cwd=manage_py.parent,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {args[0]} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def http_json(method: str, url: str, headers: Headers, body: dict[str, Any] | None = None) -> Any:
    """A plain blocking request for setup steps (never timed)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    for name, value in headers:
        request.add_header(name, value)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def ours(
    workdir: Path,
    server_kind: str,
    database_url: str | None = None,
    redis_url: str | None = None,
) -> Target:
    """Our example project, migrated, with a manager token, bot keys and one ticket."""
    storage = "PostgreSQL + Redis" if database_url else "SQLite + in-memory layer"
    short = "pg" if database_url else "sqlite"
    key = f"ours-{server_kind}-{short}"
    workdir = workdir / key
    workdir.mkdir(parents=True, exist_ok=True)
    env = ours_env(workdir, database_url, redis_url)
    manage_py = EXAMPLE / "manage.py"

    def manage(script: str) -> str:
        return run_manage(sys.executable, manage_py, env, "shell", "-c", script)

    say(f"{key}: migrating")
    run_manage(sys.executable, manage_py, env, "migrate", "--noinput", "-v", "0")
    creds = json.loads(manage(OURS_SETUP % BOT_KEYS).strip().splitlines()[-1])
    command = daphne_command if server_kind == "daphne" else uvicorn_command
    server = Server(key, command("example.asgi:application"), EXAMPLE, env, workdir).start()
    bot_headers = [[("Authorization", f"Api-Key {k}")] for k in creds["bot_keys"]]
    ticket = http_json(
        "POST",
        f"http://127.0.0.1:{server.port}/support/tickets/",
        bot_headers[0],
        {"user_id": 424242, "title": "benchmark", "text": "start"},
    )

    def body(text: str) -> bytes:
        return json.dumps({"text": text}).encode()

    return Target(
        key=key,
        label=f"ours · {server_kind} · {'PostgreSQL+Redis' if database_url else 'SQLite'}",
        family="ours",
        server_kind=server_kind,
        storage=storage,
        server=server,
        transports=("websocket", "sse", "longpoll"),
        ws_path="/ws/support/",
        api="/support/",
        listen_headers=[("Authorization", f"Token {creds['token']}")],
        post=HttpPost(f"/support/tickets/{ticket['id']}/messages/", bot_headers, body),
        manage=manage,
        info={"ticket": ticket["id"], "manager_id": creds["manager_id"]},
    )


def pure(workdir: Path) -> Target:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}

    def command(port: int) -> list[str]:
        return [sys.executable, "-m", "benchmarks.purews", "--port", str(port)]

    server = Server("pure-websockets", command, ROOT, env, workdir).start()
    return Target(
        key="pure",
        label="pure websockets (ceiling)",
        family="pure",
        server_kind="websockets",
        storage="none",
        server=server,
        transports=("websocket",),
        ws_path="/listen",
        api="",
        listen_headers=[],
        post=WsPost("/bot"),
        info={"loop": "uvloop"},
    )


# --- services for the PostgreSQL + Redis configuration ----------------------


@contextlib.contextmanager
def redis_server(workdir: Path) -> Iterator[str]:
    """A throwaway ``redis-server`` on loopback, without persistence; yields its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed (apt-get install -y redis-server)")
    port = free_port()
    log = workdir / "redis.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(workdir), "--maxclients", "10000"],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        wait_for_port(port, process, log)
        yield f"redis://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """A throwaway PostgreSQL cluster (``tests/pgserver.py``); yields its URL."""
    sys.path.insert(0, str(ROOT))
    from tests.pgserver import running_postgres

    with running_postgres() as url:
        yield url


def create_database(url: str, name: str) -> str:
    """Create database *name* on the cluster at *url*; return its URL."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')
    return url.rsplit("/", 1)[0] + f"/{name}"

"""Real servers on loopback for end-to-end tests: the example project under daphne.

``LiveServer`` runs ``example.asgi:application`` in its own process with its
own database (a SQLite file, or ``DATABASE_URL``) and optional Redis channel
layer, so tests talk to it only as clients do: HTTP, SSE and WebSocket.
``RedisServer`` runs a throwaway ``redis-server``.

Under ``CI=true`` a missing binary fails the test; elsewhere it skips.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "example"
CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

#: Creates three managers with tokens, a non-manager, a bot key; prints them as JSON.
SETUP = """
import json
from django.contrib.auth.models import Permission, User
from rest_framework.authtoken.models import Token
from support.botkeys import create_bot_key
perm = Permission.objects.get(codename="manage_tickets", content_type__app_label="support")
out = {"managers": [], "manager_ids": []}
for name in ("m1", "m2", "m3"):
    user, _ = User.objects.get_or_create(username=name, defaults={"first_name": name.upper()})
    user.user_permissions.add(perm)
    out["managers"].append(Token.objects.get_or_create(user=user)[0].key)
    out["manager_ids"].append(user.pk)
eve, _ = User.objects.get_or_create(username="eve")
out["non_manager"] = Token.objects.get_or_create(user=eve)[0].key
out["bot_key"] = create_bot_key("live-bot")[1]
print(json.dumps(out))
"""


def require_binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (apt-get install -y {name})"
        if CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(
    port: int, process: subprocess.Popen[Any], log: Path, timeout: float = 30
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log.read_text()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server did not listen on {port}:\n{log.read_text()[-3000:]}")


@dataclass
class Credentials:
    managers: list[str]
    manager_ids: list[int]
    non_manager: str
    bot_key: str


@dataclass
class LiveServer:
    """One ASGI worker process serving the example project."""

    workdir: Path
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api(self) -> str:
        return f"{self.base_url}/support/"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/support/"

    @property
    def log(self) -> Path:
        return self.workdir / f"server-{self.port}.log"

    def manage(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, str(EXAMPLE / "manage.py"), *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {args[0]} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def prepare(self) -> Credentials:
        """Migrate the database and create the test users and keys."""
        self.manage("migrate", "--noinput", "-v", "0")
        return Credentials(**json.loads(self.manage("shell", "-c", SETUP).strip().splitlines()[-1]))

    def start(self) -> LiveServer:
        command = [
            sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port),
            "example.asgi:application",
        ]  # fmt: skip
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command, cwd=EXAMPLE, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        wait_for_port(self.port, self.process, self.log)
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


def server_env(workdir: Path, **extra: str) -> dict[str, str]:
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
    env.update(extra)
    return env


@dataclass
class RedisServer:
    workdir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        binary = require_binary("redis-server")
        log = self.workdir / f"redis-{self.port}.log"
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", str(self.workdir)],
                stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        wait_for_port(self.port, self.process, log)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None


@contextmanager
def running_server(
    workdir: Path, *, tickets: int = 0, **env: str
) -> Iterator[tuple[LiveServer, Credentials]]:
    """A migrated, started server with credentials; with *tickets* opened by the bot
    (ids 1..N, user ids 9001..), for tests that need objects to exist."""
    server = LiveServer(workdir, server_env(workdir, **env))
    credentials = server.prepare()
    server.start()
    try:
        if tickets:
            import httpx

            with httpx.Client(base_url=server.api, timeout=10) as http:
                for number in range(1, tickets + 1):
                    response = http.post(
                        "tickets/",
                        json={"user_id": 9000 + number, "title": f"ticket {number}", "text": "hi"},
                        headers={"Authorization": f"Api-Key {credentials.bot_key}"},
                    )
                    if response.status_code != 201 or response.json()["id"] != number:
                        raise RuntimeError(f"could not open ticket {number}: {response.text}")
        yield server, credentials
    finally:
        server.stop()

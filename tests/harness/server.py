"""The example project under daphne, on loopback, with its own database.

``LiveServer`` runs ``example.asgi:application`` in its own process with its
own database (a SQLite file, or ``DATABASE_URL``) and optional Redis channel
layer, so tests talk to it only as clients do: HTTP, SSE and WebSocket.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.harness.process import EXAMPLE, ROOT, Command, ServerProcess, run_manage

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


@dataclass
class Credentials:
    managers: list[str]
    manager_ids: list[int]
    non_manager: str
    bot_key: str


#: The server's own limit on an incoming WebSocket message, in bytes, as
#: docs/deployment.md sets it: the app's frame limit for 4,096-character texts
#: (support.realtime.commands.frame_limit), checked before a frame is read.
WEBSOCKET_MAX_SIZE = 65536

#: The listen backlog every server the project starts asks for (docs/deployment.md):
#: uvicorn's default. Twisted's default, which daphne's ``-b``/``-p`` get, is 50, and a
#: reconnect storm or a crowd of streams opening at once overflows it: the kernel drops
#: those connections before the application sees them (``nstat TcpExtListenOverflows``).
#: The kernel caps it at ``net.core.somaxconn`` (4,096 on current kernels).
LISTEN_BACKLOG = 2048


def daphne_endpoint(port: int, interface: str = "127.0.0.1") -> str:
    """daphne's ``-e`` endpoint for *port* with :data:`LISTEN_BACKLOG`."""
    return f"tcp:port={port}:interface={interface}:backlog={LISTEN_BACKLOG}"


def daphne(port: int) -> list[str]:
    return [
        sys.executable, "-m", "daphne", "-e", daphne_endpoint(port),
        "--websocket-max-message-size", str(WEBSOCKET_MAX_SIZE),
        "--websocket-max-frame-size", str(WEBSOCKET_MAX_SIZE),
        "example.asgi:application",
    ]  # fmt: skip


def uvicorn(port: int) -> list[str]:
    """uvicorn as docs/deployment.md runs it (one worker per port)."""
    return [
        sys.executable, "-m", "uvicorn", "example.asgi:application",
        "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--lifespan", "off",
        "--backlog", str(LISTEN_BACKLOG), "--ws-max-size", str(WEBSOCKET_MAX_SIZE),
    ]  # fmt: skip


def server_env(workdir: Path, **extra: str) -> dict[str, str]:
    """The example project's environment: its settings, a SQLite file in *workdir*, *extra*."""
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
class LiveServer(ServerProcess):
    """One ASGI worker process serving the example project (daphne unless *command* says)."""

    command: Command = field(default=daphne)
    cwd: Path = EXAMPLE

    def manage(self, *args: str, timeout: float = 120) -> str:
        return run_manage(EXAMPLE / "manage.py", self.env, *args, timeout=timeout)

    def prepare(self) -> Credentials:
        """Migrate the database and create the test users and keys."""
        self.manage("migrate", "--noinput", "-v", "0")
        return Credentials(**json.loads(self.manage("shell", "-c", SETUP).strip().splitlines()[-1]))


@contextmanager
def running_server(
    workdir: Path, *, tickets: int = 0, program: str = "daphne", **env: str
) -> Iterator[tuple[LiveServer, Credentials]]:
    """A migrated, started server (*program*: ``"daphne"`` or ``"uvicorn"``) with credentials;
    with *tickets* opened by the bot (ids 1..N, user ids 9001..), for tests that need
    objects to exist."""
    commands: dict[str, Command] = {"daphne": daphne, "uvicorn": uvicorn}
    server = LiveServer(workdir, server_env(workdir, **env), command=commands[program])
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

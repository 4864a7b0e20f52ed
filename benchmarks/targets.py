"""The servers under test, started by the benchmark itself on loopback.

A :class:`Target` is one server configuration as the client sees it: where
its WebSocket, SSE and long-poll endpoints are, which credential a listener
sends, and how a bot posts a message. Each runs as one process of the test
harness (:mod:`tests.harness`), measured from outside through ``/proc``; it
inherits the open-file limit that :func:`~benchmarks.config.raise_nofile_limit`
has raised in this process. Every server listens with a backlog of 1,024, so
connection bursts are not dropped by the kernel.

* **ours**: the example project exactly as the README documents it
  (``example.asgi:application``; ``DATABASE_URL`` and ``REDIS_URL`` switch it
  to PostgreSQL + Redis), one worker, access logs off, under daphne or uvicorn;
* **pure**: the bare ``websockets`` broadcast server of :mod:`benchmarks.purews`;
* **original**: ``chatlabs-django-support==1.2.0`` from PyPI, installed into its
  own virtual environment (cached between runs, under ``$BENCH_CACHE`` or
  ``~/.cache/chatlabs-support-benchmarks``) with the versions its wheel pins
  (``Django==5.0.1``) and the newest versions of the rest that pip resolves. A
  minimal project is written around it following its README
  (``my_users.MyTelegramUser``, ``SUPPORT_TELEGRAM_USER_MODEL``, the in-memory
  channel layer, ``support.get_asgi_application()``, ``include("support.urls")``),
  and it is driven through its own protocol: listeners on
  ``ws/support/manager/`` with a session cookie, the bot posting to
  ``tickets/<id>/messages/``. Nothing of its code is copied here. Its bugs need
  workarounds to be measured at all; :data:`WORKAROUNDS` lists them, and the
  report repeats them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.config import say
from tests.harness.process import ROOT, Command, ServerProcess, run_manage
from tests.harness.server import LiveServer, server_env

#: Bot keys per server: posts rotate over them, so the per-key rate limit
#: (100/s by default) never caps the throughput ladder.
BOT_KEYS = 16
#: Seconds a server may take to listen, and to stop after SIGTERM; manage.py commands.
START_TIMEOUT, STOP_TIMEOUT, MANAGE_TIMEOUT = 60, 15, 600

Headers = list[tuple[str, str]]


@dataclass
class HttpPost:
    """A bot's REST post: ``POST path`` with one of *headers* (rotated) and a JSON body."""

    path: str
    headers: list[Headers]
    body: Callable[[str], bytes]


@dataclass
class WsPost:
    """A baseline's post: a JSON frame on a WebSocket at *path*, acked by the server.

    Without *command* the frame is the pure server's ``{"ticket", "text"}``;
    with it, it is our WebSocket protocol's command shape,
    ``{"type": command, "request_id": text, "ticket_id": ticket}``.
    """

    path: str
    ticket: int = 1
    command: str | None = None

    def frame(self, text: str) -> str:
        if self.command is None:
            return json.dumps({"ticket": self.ticket, "text": text})
        return json.dumps({"type": self.command, "request_id": text, "ticket_id": self.ticket})


@dataclass
class Target:
    key: str
    label: str
    family: str  # "ours", "pure", "bare" or "original"
    server_kind: str  # "daphne", "uvicorn" or "websockets"
    storage: str
    server: ServerProcess
    transports: tuple[str, ...]
    ws_path: str
    api: str
    listen_headers: Headers
    post: HttpPost | WsPost
    manage: Callable[[str], str] | None = None
    info: dict[str, Any] = field(default_factory=dict)
    #: A bot's REST post, for B5 (ours: the same as ``post``; bare: the plain view).
    rest_post: HttpPost | None = None
    #: The benchmarks this target takes part in (the runner narrows it per run).
    measured_in: frozenset[str] = frozenset({"b1", "b2", "b3", "b4", "b5"})

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
            "measured_in": sorted(self.measured_in),
            **self.info,
        }


def daphne_command(app: str, python: str = sys.executable) -> Command:
    def command(port: int) -> list[str]:
        endpoint = f"tcp:port={port}:interface=127.0.0.1:backlog=1024"
        return [python, "-m", "daphne", "-v", "0", "-e", endpoint, app]

    return command


def uvicorn_command(app: str) -> Command:
    def command(port: int) -> list[str]:
        return [
            sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
            "--no-access-log", "--log-level", "warning", "--backlog", "1024", "--lifespan", "off",
        ]  # fmt: skip

    return command


def text_body(text: str) -> bytes:
    """A bot's post body, ``{"text": ...}``: ours and the bare view take the same JSON."""
    return json.dumps({"text": text}).encode()


def _last_json(output: str) -> Any:
    return json.loads(output.strip().splitlines()[-1])


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
    urls = {"DATABASE_URL": database_url, "REDIS_URL": redis_url}
    env = server_env(workdir, **{name: url for name, url in urls.items() if url})
    # Thousands of streams on one credential is the point of B3: lift the cap.
    env["SUPPORT_MAX_STREAMS_PER_CREDENTIAL"] = "0"
    command = daphne_command if server_kind == "daphne" else uvicorn_command
    server = LiveServer(
        workdir, env, command("example.asgi:application"), name=key,
        start_timeout=START_TIMEOUT, stop_timeout=STOP_TIMEOUT,
    )  # fmt: skip

    def manage(script: str) -> str:
        return server.manage("shell", "-c", script, timeout=MANAGE_TIMEOUT)

    say(f"{key}: migrating")
    server.manage("migrate", "--noinput", "-v", "0", timeout=MANAGE_TIMEOUT)
    creds = _last_json(manage(OURS_SETUP % BOT_KEYS))
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
        post=post,
        manage=manage,
        info={"ticket": ticket["id"], "manager_id": creds["manager_id"]},
        rest_post=post,
    )


# --- the ceiling: pure websockets -------------------------------------------


def pure(workdir: Path) -> Target:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}

    def command(port: int) -> list[str]:
        return [sys.executable, "-m", "benchmarks.purews", "--port", str(port)]

    server = ServerProcess(
        workdir, env, command, cwd=ROOT, name="pure-websockets",
        start_timeout=START_TIMEOUT, stop_timeout=STOP_TIMEOUT,
    ).start()  # fmt: skip
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
        measured_in=frozenset({"b1", "b2", "b3"}),
    )


# --- the original 1.2.0 ------------------------------------------------------

VERSION = "1.2.0"
PACKAGE = f"chatlabs-django-support=={VERSION}"

WORKAROUNDS = [
    "The README's asgi.py imports `support` before Django is set up; under the daphne CLI "
    "that fails with AppRegistryNotReady (it works only under `manage.py runserver`). "
    "The benchmark's asgi.py calls `django.setup()` first.",
    "Migration 0001 does not depend on the Telegram user model's app; migrate works only "
    "because `my_users` sorts before `support`. The project keeps the README's `my_users`.",
    "Message events go only to the group `ticket_<id>`, which only the connections of the "
    "ticket's assigned manager join: a user message on an unassigned ticket reaches nobody. "
    "So the ticket is assigned in setup, and all N listeners are N connections of that one "
    "manager (N browser tabs); other managers would receive nothing.",
    "A `ticket.created` event makes every connected consumer run a database query in async "
    "context (SynchronousOnlyOperation): each listener is closed with code 1011. The "
    "benchmark therefore never creates a ticket while listeners are connected.",
    "Model instances are put in channel-layer messages, so only the in-memory layer works "
    "(channels_redis cannot serialise them): the original runs on its documented defaults "
    "only, SQLite + InMemoryChannelLayer, under daphne, one process.",
    "The REST API has no authentication: the bot posts anonymously. Listeners log in with "
    "a Django session cookie created in setup (the WebSocket has no other credential).",
    "InMemoryChannelLayer holds 100 messages per channel; beyond that group_send drops "
    "messages silently. The benchmark counts such losses as missing deliveries.",
]

SETTINGS = """\
import os

SECRET_KEY = "benchmark-only"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
INSTALLED_APPS = [
    "daphne",
    "channels",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "my_users",
    "support",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
ROOT_URLCONF = "proj.urls"
ASGI_APPLICATION = "proj.asgi.application"
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ["SQLITE_PATH"],
        "OPTIONS": {"timeout": 20},
    }
}
CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
SUPPORT_TELEGRAM_USER_MODEL = "my_users.MyTelegramUser"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
"""

ASGI = """\
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")
django.setup()  # workaround: the README's asgi.py imports support.models too early

from support import get_asgi_application  # noqa: E402

application = get_asgi_application()
"""

FILES = {
    "manage.py": (
        "import os, sys\n"
        'os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")\n'
        "from django.core.management import execute_from_command_line\n"
        "execute_from_command_line(sys.argv)\n"
    ),
    "proj/__init__.py": "",
    "proj/settings.py": SETTINGS,
    "proj/asgi.py": ASGI,
    "proj/urls.py": (
        "from django.urls import include, path\n\n"
        'urlpatterns = [path("support/", include("support.urls"))]\n'
    ),
    "my_users/__init__.py": "",
    "my_users/migrations/__init__.py": "",
    "my_users/models.py": (
        "from django.db import models\n\n\n"
        "class MyTelegramUser(models.Model):\n"
        "    telegram_id = models.BigIntegerField(primary_key=True, unique=True)\n"
    ),
}

#: A manager with a session (the cookie a browser would hold) and one ticket
#: assigned to them, created through the ORM before anyone listens.
ORIGINAL_SETUP = """
import json
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.sessions.backends.db import SessionStore
from my_users.models import MyTelegramUser
from support.models import Ticket
manager, _ = get_user_model().objects.get_or_create(username="bench-manager")
session = SessionStore()
session[SESSION_KEY] = str(manager.pk)
session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
session[HASH_SESSION_KEY] = manager.get_session_auth_hash()
session.create()
user, _ = MyTelegramUser.objects.get_or_create(telegram_id=424242)
ticket = Ticket.objects.create(user=user, title="benchmark", support_manager=manager)
print(json.dumps({"session": session.session_key, "ticket": ticket.pk, "manager_id": manager.pk}))
"""


def cache_dir() -> Path:
    root = os.environ.get("BENCH_CACHE") or Path.home() / ".cache" / "chatlabs-support-benchmarks"
    return Path(root)


def ensure_venv() -> tuple[Path, dict[str, str]]:
    """The original's virtual environment (built once, then reused); and its versions."""
    tag = f"py{sys.version_info.major}{sys.version_info.minor}"
    venv = cache_dir() / f"original-{VERSION}-{tag}"
    python = venv / "bin" / "python"
    ready = venv / "benchmark-ready.json"
    if not ready.exists():
        say(f"building a virtual environment for {PACKAGE} in {venv} (pip, once)")
        shutil.rmtree(venv, ignore_errors=True)
        venv.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        install = subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             PACKAGE],
            capture_output=True, text=True, check=False, timeout=900,
        )  # fmt: skip
        if install.returncode != 0:
            shutil.rmtree(venv, ignore_errors=True)
            raise RuntimeError(f"pip install {PACKAGE} failed:\n{install.stderr[-3000:]}")
        freeze = subprocess.run(
            [str(python), "-m", "pip", "freeze", "--all"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        versions = dict(
            line.split("==", 1) for line in freeze.splitlines() if "==" in line and "@" not in line
        )
        versions["chatlabs-django-support"] = VERSION
        ready.write_text(json.dumps(versions, indent=1, sort_keys=True))
    return python, json.loads(ready.read_text())


def original(workdir: Path) -> Target:
    """The original package under daphne on SQLite, its manager's listeners, its bot."""
    python, versions = ensure_venv()
    project = workdir / "original-project"
    shutil.rmtree(project, ignore_errors=True)
    for name, text in FILES.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text)
    env = {
        **{
            k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "DJANGO_SETTINGS_MODULE"}
        },
        "SQLITE_PATH": str(project / "db.sqlite3"),
        "PYTHONUNBUFFERED": "1",
    }

    def manage(*args: str) -> str:
        return run_manage(project / "manage.py", env, *args, python=str(python),
                          timeout=MANAGE_TIMEOUT)  # fmt: skip

    say("original: migrating")
    manage("makemigrations", "my_users", "-v", "0")
    manage("migrate", "--noinput", "-v", "0")
    creds = _last_json(manage("shell", "-c", ORIGINAL_SETUP))
    server = ServerProcess(
        workdir, env, daphne_command("proj.asgi:application", python=str(python)),
        cwd=project, name="original-1.2.0", start_timeout=START_TIMEOUT, stop_timeout=STOP_TIMEOUT,
    ).start()  # fmt: skip
    anonymous: list[Headers] = [[]]

    def body(text: str) -> bytes:
        return json.dumps({"text": text, "sender": "user"}).encode()

    return Target(
        key="original",
        label=f"original {VERSION}",
        family="original",
        server_kind="daphne",
        storage="SQLite + in-memory layer",
        server=server,
        transports=("websocket",),
        ws_path="/ws/support/manager/",
        api="/support/",
        listen_headers=[("Cookie", f"sessionid={creds['session']}")],
        post=HttpPost(f"/support/tickets/{creds['ticket']}/messages/", anonymous, body),
        manage=lambda script: manage("shell", "-c", script),
        info={"ticket": creds["ticket"], "versions": versions, "python": str(python)},
        measured_in=frozenset({"b1", "b2", "b3", "b4"}),
    )

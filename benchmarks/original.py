"""The original ``chatlabs-django-support==1.2.0``, from PyPI, as a baseline.

It is installed into its own virtual environment (cached between runs,
under ``$BENCH_CACHE`` or ``~/.cache/chatlabs-support-benchmarks``) with the
versions its wheel pins (``Django==5.0.1``) and the newest versions of the
rest that pip resolves. A minimal project is written around it following its
README (``my_users.MyTelegramUser``, ``SUPPORT_TELEGRAM_USER_MODEL``, the
in-memory channel layer, ``support.get_asgi_application()``,
``include("support.urls")``), and it is driven through its own protocol:
listeners on ``ws/support/manager/`` with a session cookie, the bot posting
to ``tickets/<id>/messages/``. Nothing of its code is copied here.

Its bugs need workarounds to be measured at all; :data:`WORKAROUNDS` lists
them, and the report repeats them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from benchmarks.servers import Headers, HttpPost, Server, Target, daphne_command, run_manage
from benchmarks.util import say

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
SETUP = """
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
    manage_py = project / "manage.py"
    say("original: migrating")
    run_manage(str(python), manage_py, env, "makemigrations", "my_users", "-v", "0")
    run_manage(str(python), manage_py, env, "migrate", "--noinput", "-v", "0")

    def manage(script: str) -> str:
        return run_manage(str(python), manage_py, env, "shell", "-c", script)

    creds = json.loads(manage(SETUP).strip().splitlines()[-1])
    server = Server(
        "original-1.2.0",
        daphne_command("proj.asgi:application", python=str(python)),
        project,
        env,
        workdir,
    ).start()
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
        manage=manage,
        info={"ticket": creds["ticket"], "versions": versions, "python": str(python)},
    )

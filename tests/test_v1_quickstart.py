"""The 1.x README's quick start, followed to the letter in a new project.

Its steps: a Telegram user model in any app, INSTALLED_APPS with daphne,
channels, the app and support (and nothing else of ours: no
rest_framework, no authtoken), the setting, an in-memory channel layer,
``support.get_asgi_application()``, ``include("support.urls")``, then
``makemigrations`` and ``migrate``. Done for a user app whose label sorts
before ``support`` and for one that sorts after it (where 1.x broke).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.live

SETTINGS = """
SECRET_KEY = "quickstart"
DEBUG = True
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
USE_TZ = True
ROOT_URLCONF = "project.urls"
DATABASES = {{"default": {{"ENGINE": "django.db.backends.sqlite3", "NAME": {db!r}}}}}
INSTALLED_APPS = [
    "daphne",
    "channels",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "{app}",
    "support",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
SUPPORT_TELEGRAM_USER_MODEL = "{app}.MyTelegramUser"
CHANNEL_LAYERS = {{"default": {{"BACKEND": "channels.layers.InMemoryChannelLayer"}}}}
ASGI_APPLICATION = "project.asgi.application"
"""

ASGI = """
import os

from support import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

application = get_asgi_application()
"""

URLS = """
from django.urls import path, include

urlpatterns = [
    path("support/", include("support.urls")),
]
"""

MODELS = """
from django.db import models


class MyTelegramUser(models.Model):
    telegram_id = models.BigIntegerField(
        primary_key=True,
        unique=True,
    )
"""

USE_IT = """
import asyncio, json
from channels.testing import HttpCommunicator
from django.contrib.auth.models import User
from support.botkeys import create_bot_key
from project.asgi import application

root = User.objects.create_superuser("root", password="pw")
_key, raw = create_bot_key("bot")

async def call(method, path, body=b""):
    headers = [(b"host", b"testserver"), (b"authorization", f"Api-Key {raw}".encode()),
               (b"content-type", b"application/json"),
               (b"content-length", str(len(body)).encode())]
    response = await HttpCommunicator(application, method, path, body=body,
                                      headers=headers).get_response(timeout=30)
    return response["status"], json.loads(response["body"])

async def main():
    created = await call("POST", "/support/tickets/",
                         json.dumps({"user_id": 123, "title": "t", "text": "hi"}).encode())
    listed = await call("GET", "/support/tickets/")
    print(json.dumps({"created": created, "listed": listed}))

asyncio.run(main())
"""


@pytest.mark.parametrize("app", ["my_users", "zz_users"])
def test_the_1x_quick_start_works_unchanged(tmp_path: Path, app: str) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "__init__.py").write_text("")
    (project / "settings.py").write_text(SETTINGS.format(app=app, db=str(tmp_path / "db.sqlite3")))
    (project / "asgi.py").write_text(ASGI)
    (project / "urls.py").write_text(URLS)
    users = tmp_path / app
    users.mkdir()
    (users / "__init__.py").write_text("")
    (users / "models.py").write_text(textwrap.dedent(MODELS))
    (users / "migrations").mkdir()  # as `manage.py startapp` leaves it
    (users / "migrations" / "__init__.py").write_text("")
    root = Path(__file__).resolve().parent.parent
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(root)]),
    }

    def django_admin(*args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "django", *args],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    django_admin("check")
    assert "Create model MyTelegramUser" in django_admin("makemigrations")
    django_admin("migrate")
    out = json.loads(django_admin("shell", "-c", USE_IT).strip().splitlines()[-1])
    assert out["created"][0] == 201, out["created"]
    status, tickets = out["listed"]
    assert status == 200
    assert [t["user"]["telegram_id"] for t in tickets] == [123]  # then the Telegram profile

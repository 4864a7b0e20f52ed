"""``startproject``'s middleware, unchanged; ``DEBUG`` off; SQLite (``SQLITE_PATH``) with
Django's defaults, or ``DATABASE_URL`` with a new connection per request, as Django does;
uploads in the default ``FileSystemStorage`` at ``MEDIA_ROOT``."""

import os
from pathlib import Path
from typing import Any

import dj_database_url

SECRET_KEY, DEBUG, USE_TZ = "benchmark-only", False, True
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = ["django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions",
                  "django.contrib.messages", "benchmarks.bare.notes"]  # fmt: skip
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "benchmarks.bare.notes.views"  # its urlpatterns: the two posts
DATABASES: dict[str, Any] = {"default": {
    "ENGINE": "django.db.backends.sqlite3",
    "NAME": os.environ.get("SQLITE_PATH", str(Path.cwd() / "bare.sqlite3")),
}}  # fmt: skip
if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"])}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
MEDIA_ROOT = os.environ.get("MEDIA_ROOT", str(Path.cwd() / "media"))

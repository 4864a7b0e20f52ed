"""Settings of the bare project: Django's ``startproject`` defaults, trimmed to what it serves.

The middleware is ``startproject``'s list, unchanged: it is what a naive
endpoint pays. ``DEBUG`` is off (the query log would grow), and the
database is the same kind as the support app's in the same configuration:
a SQLite file (``SQLITE_PATH``) with Django's default options, or
``DATABASE_URL`` (its own database on the same PostgreSQL server) with
Django's default of a new connection per request.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dj_database_url

SECRET_KEY = "benchmark-only"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "benchmarks.bare.notes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "benchmarks.bare.urls"
ASGI_APPLICATION = "benchmarks.bare.asgi.application"

DATABASES: dict[str, Any]
if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"])}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("SQLITE_PATH", str(Path.cwd() / "bare.sqlite3")),
        }
    }

USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

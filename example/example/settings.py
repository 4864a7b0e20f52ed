"""Settings of the example project.

Runs as is on embedded defaults (SQLite next to this file, in-memory channel
layer). Environment variables switch it to production-like services:

* ``DATABASE_URL``: e.g. ``postgres://user:pass@127.0.0.1:5432/support``
  (needs ``pip install "chatlabs-django-support[production]"``);
* ``REDIS_URL``: e.g. ``redis://127.0.0.1:6379/0``, for the channel layer and
  the cache, so several ASGI workers share live events, rate-limit counters
  and the forgetting of withdrawn credentials;
* ``MEDIA_ROOT``: where attachments are kept (``example/media``), or
  ``AWS_STORAGE_BUCKET_NAME`` (with ``AWS_S3_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``,
  ``AWS_SECRET_ACCESS_KEY``) for an S3 bucket through django-storages;
* ``DJANGO_DEBUG`` (``1`` by default), ``DJANGO_SECRET_KEY``, ``DJANGO_ALLOWED_HOSTS``;
* ``SUPPORT_MAX_TEXT_LENGTH``, ``SUPPORT_HUB_POLL_INTERVAL``,
  ``SUPPORT_MAX_STREAMS_PER_CREDENTIAL``: the app's settings of that name (load
  tests and benchmarks lift the stream limit with ``0``);
* ``SUPPORT_DIRECT_STREAMS``: ``0`` serves the streams through Django's
  handler and middleware (benchmarks compare the two);
* ``SUPPORT_THROTTLE_RATES``: that setting as JSON, e.g. ``{"manager": null}``
  (the schema's fuzzing sends more than a manager may).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-change-me-in-production")
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")

INSTALLED_APPS = [
    "daphne",
    "channels",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework.authtoken",
    "my_users",
    "support",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "example.urls"
ASGI_APPLICATION = "example.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

if os.environ.get("DATABASE_URL"):
    import dj_database_url

    # Under ASGI each request runs in its own thread, so persistent
    # connections would pile up (Django's own advice): CONN_MAX_AGE = 0, and a
    # psycopg pool per worker so that "closing" hands the connection back.
    # Health checks: the pool hands out no connection that died with a
    # database restart. A short timeout: while the database is down, a request
    # waits 5 s for a connection, not psycopg's 30. (The support app's own
    # work uses connections of its own: SUPPORT_DATABASE_CONNECT_TIMEOUT.)
    DATABASES = {
        "default": dj_database_url.parse(
            os.environ["DATABASE_URL"], conn_max_age=0, conn_health_checks=True
        )
    }
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": 2,
            "max_size": int(os.environ.get("DATABASE_POOL_SIZE", "20")),
            "timeout": 5,
        }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
            # No OPTIONS needed: the support app makes SQLite queue writers
            # (WAL, IMMEDIATE, a busy timeout; see support/sqlite.py).
        }
    }

if os.environ.get("REDIS_URL"):
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [os.environ["REDIS_URL"]]},
        }
    }
    # Shared by the workers: rate limits count per credential across them, and
    # a revoked key or a withdrawn permission is forgotten by all at once.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

SUPPORT_TELEGRAM_USER_MODEL = "my_users.MyTelegramUser"
# The long-poll and the SSE stream skip Django's handler and this project's
# middleware (support.realtime.direct): nothing here needs to run for them.
SUPPORT_DIRECT_STREAMS = os.environ.get("SUPPORT_DIRECT_STREAMS", "1") == "1"
if os.environ.get("SUPPORT_HUB_POLL_INTERVAL"):
    SUPPORT_HUB_POLL_INTERVAL = float(os.environ["SUPPORT_HUB_POLL_INTERVAL"])
if os.environ.get("SUPPORT_MAX_STREAMS_PER_CREDENTIAL"):
    SUPPORT_MAX_STREAMS_PER_CREDENTIAL = int(os.environ["SUPPORT_MAX_STREAMS_PER_CREDENTIAL"])
if os.environ.get("SUPPORT_THROTTLE_RATES"):
    SUPPORT_THROTTLE_RATES = json.loads(os.environ["SUPPORT_THROTTLE_RATES"])
if os.environ.get("SUPPORT_MAX_TEXT_LENGTH"):
    # E.g. longer manager replies, which the example bot splits for Telegram.
    SUPPORT_MAX_TEXT_LENGTH = int(os.environ["SUPPORT_MAX_TEXT_LENGTH"])
# `manage.py runserver` (daphne's) and `make demo`'s daphne refuse WebSocket
# messages over the support app's frame limit before reading them
# (support.realtime.commands.frame_limit: 16 bytes a character, 64 KiB at least).
DAPHNE_WEBSOCKET_MAX_MESSAGE_SIZE = DAPHNE_WEBSOCKET_MAX_FRAME_SIZE = max(
    65536, 16 * int(os.environ.get("SUPPORT_MAX_TEXT_LENGTH", "4096"))
)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("ru", "Русский")]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "static"
# Attachments (SUPPORT_ATTACHMENT_STORAGE, the default storage): a folder here,
# never served as MEDIA_URL; the app's download view checks the credentials.
# Several workers must share it (a common disk), or use S3 (docs/deployment.md).
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "media"))
if os.environ.get("AWS_STORAGE_BUCKET_NAME"):
    # S3 (or any S3 API) through django-storages, for every worker: settings only,
    # no code (pip install "chatlabs-django-support[s3]"). boto3 reads the keys
    # from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
    STORAGES = {
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": os.environ["AWS_STORAGE_BUCKET_NAME"],
                "endpoint_url": os.environ.get("AWS_S3_ENDPOINT_URL") or None,
                "region_name": os.environ.get("AWS_S3_REGION_NAME") or None,
                "file_overwrite": False,
            },
        },
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Failed sign-ins are counted per username and per address, and past
# SUPPORT_LOGIN_FAILURE_RATES sign-in pauses (support.login_throttle): first.
AUTHENTICATION_BACKENDS = [
    "support.login_throttle.LoginThrottleBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/support/manager/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"support": {"handlers": ["console"], "level": "INFO"}},
}

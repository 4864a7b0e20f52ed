"""System checks: misconfigured settings are reported by id, not crashed on.

:mod:`support.conf` only reads the settings; what a value must be is
checked here, as ``manage.py check`` (and ``runserver``, ``migrate``) run it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, NamedTuple, TypeGuard

from django.apps import AppConfig, apps
from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register
from django.core.exceptions import FieldDoesNotExist

from support.conf import EVENTSTREAM_STORAGE, TELEGRAM_USER_MODEL_SETTING, support_settings


@register()
def check_telegram_user_model(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """``support.E001``-``E004``: the Telegram user model is set, exists, has ``telegram_id``."""
    raw = getattr(settings, TELEGRAM_USER_MODEL_SETTING, None)
    hint = (
        f"Set {TELEGRAM_USER_MODEL_SETTING} = 'my_users.MyTelegramUser' in settings.py, "
        "naming a model with a `telegram_id = models.BigIntegerField(primary_key=True)`."
    )
    if raw is None:
        return [Error(f"{TELEGRAM_USER_MODEL_SETTING} is not set.", hint=hint, id="support.E001")]
    label = support_settings.TELEGRAM_USER_MODEL
    if label is None or label.count(".") != 1:
        return [
            Error(
                f"{TELEGRAM_USER_MODEL_SETTING} must be a string 'app_label.ModelName', "
                f"not {raw!r}.",
                hint=hint,
                id="support.E002",
            )
        ]
    try:
        model = apps.get_model(label, require_ready=False)
    except LookupError:
        return [
            Error(
                f"{TELEGRAM_USER_MODEL_SETTING} refers to model {label!r}, which is not installed.",
                hint="Add its app to INSTALLED_APPS, or fix the label.",
                id="support.E003",
            )
        ]
    try:
        field = model._meta.get_field("telegram_id")
    except FieldDoesNotExist:
        return [
            Error(
                f"The Telegram user model {label!r} has no field 'telegram_id'.",
                hint=hint,
                obj=model,
                id="support.E004",
            )
        ]
    if not getattr(field, "primary_key", False):
        return [
            Warning(
                f"{label}.telegram_id is not the primary key; tickets refer to the "
                "primary key, which the API exposes as `telegram_id`.",
                hint=hint,
                obj=model,
                id="support.W001",
            )
        ]
    return []


@register()
def check_token_authentication(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """``support.W002``: manager tokens need ``rest_framework.authtoken`` installed."""
    if apps.is_installed("rest_framework.authtoken"):
        return []
    return [
        Warning(
            "'rest_framework.authtoken' is not in INSTALLED_APPS: managers can sign in "
            "with a session only, not with `Authorization: Token <key>`.",
            hint="Add 'rest_framework.authtoken' to INSTALLED_APPS and run migrate.",
            id="support.W002",
        )
    ]


@register()
def check_eventstream_storage(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """``support.E005``: SSE must read the support event log."""
    configured = getattr(settings, "EVENTSTREAM_STORAGE_CLASS", EVENTSTREAM_STORAGE)
    if configured == EVENTSTREAM_STORAGE:
        return []
    return [
        Error(
            f"EVENTSTREAM_STORAGE_CLASS is {configured!r}: Server-Sent Events at "
            "support/events/stream/ would not read the support event log, so their ids "
            "would not be cursors and resuming would lose events.",
            hint=f"Remove the setting, or set it to {EVENTSTREAM_STORAGE!r}.",
            id="support.E005",
        )
    ]


def _number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


class Kind(NamedTuple):
    """What a setting's value must be: a test, and the words for the error."""

    valid: Callable[[object], bool]
    description: str


DURATION = Kind(lambda v: isinstance(v, timedelta) or _number(v), "a timedelta or seconds")
NON_NEGATIVE_INTEGER = Kind(
    lambda v: isinstance(v, int) and _number(v) and v >= 0, "a non-negative integer"
)
POSITIVE_NUMBER = Kind(lambda v: _number(v) and v > 0, "a positive number")
PATHS = Kind(lambda v: isinstance(v, list | tuple), "a list of paths")
MAPPING = Kind(lambda v: isinstance(v, dict), "a dict")

#: Check id: the setting, and what it must be when a project sets it.
SETTING_CHECKS = {
    "support.E006": ("SUPPORT_EVENT_RETENTION", DURATION),
    "support.E007": ("SUPPORT_LONGPOLL_MAX_TIMEOUT", NON_NEGATIVE_INTEGER),
    "support.E008": ("SUPPORT_LONGPOLL_DEFAULT_TIMEOUT", NON_NEGATIVE_INTEGER),
    "support.E009": ("SUPPORT_MAX_TEXT_LENGTH", NON_NEGATIVE_INTEGER),
    "support.E010": ("SUPPORT_MAX_TITLE_LENGTH", NON_NEGATIVE_INTEGER),
    "support.E011": ("SUPPORT_WEBSOCKET_PATHS", PATHS),
    "support.E012": ("SUPPORT_HUB_POLL_INTERVAL", POSITIVE_NUMBER),
    "support.E013": ("SUPPORT_CREDENTIAL_RECHECK_INTERVAL", POSITIVE_NUMBER),
    "support.E014": ("SUPPORT_THROTTLE_RATES", MAPPING),
    "support.E015": ("SUPPORT_MAX_STREAMS_PER_CREDENTIAL", NON_NEGATIVE_INTEGER),
    "support.E016": ("SUPPORT_MAX_CLIENT_BACKLOG", NON_NEGATIVE_INTEGER),
    "support.E017": ("SUPPORT_SLOW_CLIENT_TIMEOUT", POSITIVE_NUMBER),
}

_UNSET = object()


@register()
def check_settings(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """``support.E006``-``E017``: each ``SUPPORT_*`` setting a project sets is of the right kind.

    A setting left out takes its default, which is always valid.
    """
    errors: list[CheckMessage] = []
    for check_id, (setting, kind) in SETTING_CHECKS.items():
        value = getattr(settings, setting, _UNSET)
        if value is not _UNSET and not kind.valid(value):
            errors.append(
                Error(
                    f"{setting} must be {kind.description}.",
                    hint=f"It is {value!r}; remove it to use the default.",
                    id=check_id,
                )
            )
    return errors

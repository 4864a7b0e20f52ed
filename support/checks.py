"""System checks: misconfigured settings are reported by id, not crashed on.

:mod:`support.conf` reads the settings and holds their table: each
setting's default, what its value must be and its check id. The values a
project sets are checked here, as ``manage.py check`` (and ``runserver``,
``migrate``) run it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, cast

from django.apps import AppConfig, apps
from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register
from django.core.exceptions import FieldDoesNotExist

from support.conf import (
    EVENTSTREAM_STORAGE,
    SETTINGS,
    TELEGRAM_USER_MODEL_SETTING,
    Setting,
    SupportSettings,
    support_settings,
)


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
    row = SupportSettings.TELEGRAM_USER_MODEL
    label = support_settings.TELEGRAM_USER_MODEL
    if label is None or not row.kind.valid(label):
        return [
            Error(
                f"{row.name} must be {row.kind.description}, not {raw!r}.",
                hint=hint,
                id=row.check_id,
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


_UNSET = object()


def _setting_errors(setting: Setting[Any], value: object) -> list[CheckMessage]:
    """What is wrong with *value* for *setting*: the value itself, else each of its items."""
    kind, check_id = setting.kind, setting.check_id
    if not kind.valid(value):
        hint = f"It is {value!r}; remove it to use the default."
        return [Error(f"{setting.name} must be {kind.description}.", hint=hint, id=check_id)]
    if kind.each is None:
        return []
    each = kind.each
    items = value.items() if isinstance(value, dict) else enumerate(cast(Iterable[object], value))
    return [
        Error(
            f"{setting.name}[{key!r}] must be {each.description}.",
            hint=f"It is {item!r}.",
            id=check_id,
        )
        for key, item in items
        if not each.valid(item)
    ]


@register()
def check_settings(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """Each ``SUPPORT_*`` setting a project sets is what its row of the table says, by its id.

    A setting left out takes its default, which is always valid. The Telegram
    user model, required, has its own check above.
    """
    errors: list[CheckMessage] = []
    for setting in SETTINGS:
        value = getattr(settings, setting.name, _UNSET)
        if not setting.required and value is not _UNSET:
            errors += _setting_errors(setting, value)
    return errors

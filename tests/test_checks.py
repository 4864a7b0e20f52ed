"""System checks for SUPPORT_TELEGRAM_USER_MODEL, token authentication and each setting."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from support.checks import (
    check_settings,
    check_telegram_user_model,
    check_token_authentication,
)
from support.conf import SETTINGS


def ids() -> list[str | None]:
    return [message.id for message in check_telegram_user_model()]


def test_valid_setting_passes():
    assert ids() == []


@override_settings()
def test_missing_setting_is_e001():
    from django.conf import settings

    del settings.SUPPORT_TELEGRAM_USER_MODEL
    assert ids() == ["support.E001"]


@pytest.mark.parametrize("value", ["MyTelegramUser", "a.b.c", 42, ""])
def test_malformed_setting_is_e002(value):
    with override_settings(SUPPORT_TELEGRAM_USER_MODEL=value):
        assert ids() == ["support.E002"]


@pytest.mark.parametrize("value", ["zz_users.Nope", "nope.MyTelegramUser"])
def test_unknown_model_is_e003(value):
    with override_settings(SUPPORT_TELEGRAM_USER_MODEL=value):
        assert ids() == ["support.E003"]


@override_settings(SUPPORT_TELEGRAM_USER_MODEL="auth.Group")
def test_model_without_telegram_id_is_e004():
    messages = check_telegram_user_model()
    assert [m.id for m in messages] == ["support.E004"]
    assert "telegram_id" in messages[0].msg


def test_missing_authtoken_app_is_a_warning():
    assert check_token_authentication() == []
    from django.conf import settings

    apps_without = [a for a in settings.INSTALLED_APPS if a != "rest_framework.authtoken"]
    with override_settings(INSTALLED_APPS=apps_without):
        assert [m.id for m in check_token_authentication()] == ["support.W002"]


@pytest.mark.django_db
def test_manage_py_check_is_clean():
    from django.core.management import call_command

    call_command("check", fail_level="WARNING")


def test_eventstream_storage_defaults_to_the_event_log():
    from django.conf import settings

    from support.checks import check_eventstream_storage

    configured = getattr(settings, "EVENTSTREAM_STORAGE_CLASS", None)
    assert configured == "support.realtime.storage.EventLogStorage"
    assert check_eventstream_storage() == []
    with override_settings(
        EVENTSTREAM_STORAGE_CLASS="django_eventstream.storage.DjangoModelStorage"
    ):
        assert [m.id for m in check_eventstream_storage()] == ["support.E005"]


DURATION = "must be a timedelta or seconds."
POSITIVE_DURATION = "must be a positive timedelta or number of seconds."
NON_NEGATIVE = "must be a non-negative integer."
POSITIVE = "must be a positive number."
CACHE_ALIAS = "must be the alias of a cache in CACHES."
STORAGE_ALIAS = "must be the alias of a storage in STORAGES."
POSITIVE_INT = "must be a positive integer."
OPTIONAL_DURATION = "must be None, or a positive timedelta or number of seconds."
GROUP = (
    "must be a channel-layer group name: "
    "1 to 99 ASCII letters, digits, hyphens, underscores or periods."
)

#: setting, a wrong value, a right one, the check id, the message's end.
WRONG_VALUES = [
    ("SUPPORT_EVENT_RETENTION", "7 days", 3600, "support.E006", DURATION),
    ("SUPPORT_EVENT_RETENTION", None, timedelta(days=1), "support.E006", DURATION),
    ("SUPPORT_LONGPOLL_MAX_TIMEOUT", -1, 0, "support.E007", NON_NEGATIVE),
    ("SUPPORT_LONGPOLL_MAX_TIMEOUT", 2.5, 60, "support.E007", NON_NEGATIVE),
    ("SUPPORT_LONGPOLL_DEFAULT_TIMEOUT", "25", 25, "support.E008", NON_NEGATIVE),
    ("SUPPORT_MAX_TEXT_LENGTH", True, 100, "support.E009", NON_NEGATIVE),
    ("SUPPORT_MAX_TITLE_LENGTH", -5, 80, "support.E010", NON_NEGATIVE),
    ("SUPPORT_WEBSOCKET_PATHS", "ws/x/", ["ws/x/"], "support.E011", "must be a list of paths."),
    ("SUPPORT_HUB_POLL_INTERVAL", 0, 0.5, "support.E012", POSITIVE),
    ("SUPPORT_HUB_POLL_INTERVAL", "2", 2, "support.E012", POSITIVE),
    ("SUPPORT_CREDENTIAL_RECHECK_INTERVAL", -1.0, 10, "support.E013", POSITIVE),
    ("SUPPORT_THROTTLE_RATES", "600/min", {"bot": None}, "support.E014", "must be a dict."),
    ("SUPPORT_MAX_STREAMS_PER_CREDENTIAL", -1, 0, "support.E015", NON_NEGATIVE),
    ("SUPPORT_MAX_STREAMS_PER_CREDENTIAL", "32", 8, "support.E015", NON_NEGATIVE),
    ("SUPPORT_MAX_CLIENT_BACKLOG", 1.5, 1 << 20, "support.E016", NON_NEGATIVE),
    ("SUPPORT_SLOW_CLIENT_TIMEOUT", 0, 2.5, "support.E017", POSITIVE),
    ("SUPPORT_THROTTLE_CACHE", "nope", "default", "support.E018", CACHE_ALIAS),
    ("SUPPORT_THROTTLE_CACHE", None, "default", "support.E018", CACHE_ALIAS),
    ("SUPPORT_CHANNEL_GROUP", "support events", "support-events.2", "support.E019", GROUP),
    ("SUPPORT_CHANNEL_GROUP", "x" * 100, "x" * 99, "support.E019", GROUP),
    ("SUPPORT_CHANNEL_GROUP", "", "a", "support.E019", GROUP),
    ("SUPPORT_TUNE_SQLITE", "no", False, "support.E020", "must be True or False."),
    ("SUPPORT_DIRECT_STREAMS", 1, True, "support.E031", "must be True or False."),
    ("SUPPORT_DATABASE_CONNECT_TIMEOUT", 0, 2, "support.E025", POSITIVE),
    ("SUPPORT_DATABASE_CONNECT_TIMEOUT", "5", 2.5, "support.E025", POSITIVE),
    ("SUPPORT_ATTACHMENT_STORAGE", "s3", "default", "support.E021", STORAGE_ALIAS),
    ("SUPPORT_MAX_ATTACHMENT_SIZE", 0, 1024, "support.E022", POSITIVE_INT),
    ("SUPPORT_MAX_ATTACHMENT_SIZE", "20MB", 20971520, "support.E022", POSITIVE_INT),
    ("SUPPORT_MAX_ATTACHMENTS_PER_MESSAGE", -1, 1, "support.E023", POSITIVE_INT),
    (
        "SUPPORT_ATTACHMENT_CONTENT_TYPES",
        "image/png",
        ["image/png"],
        "support.E024",
        "must be a list of content types.",
    ),
    ("SUPPORT_TELEGRAM_LINK_CODE_TTL", 0, 600, "support.E026", POSITIVE_DURATION),
    (
        "SUPPORT_TELEGRAM_LINK_CODE_TTL",
        "10 min",
        timedelta(minutes=5),
        "support.E026",
        POSITIVE_DURATION,
    ),
    (
        "SUPPORT_LOGIN_FAILURE_RATES",
        "10/h",
        {"username": "5/min", "address": None},
        "support.E027",
        "must be a dict.",
    ),
    ("SUPPORT_REOPEN_WINDOW", 0, None, "support.E028", OPTIONAL_DURATION),
    ("SUPPORT_REOPEN_WINDOW", "1h", timedelta(hours=1), "support.E028", OPTIONAL_DURATION),
    ("SUPPORT_AUTO_RESOLVE_AFTER", -60, 86400, "support.E029", OPTIONAL_DURATION),
    ("SUPPORT_EDIT_WINDOW", None, 900, "support.E030", POSITIVE_DURATION),
]


@pytest.mark.parametrize(
    ("setting", "wrong", "right", "check_id", "message"),
    WRONG_VALUES,
    ids=[f"{row[3]}-{row[1]!r}" for row in WRONG_VALUES],
)
def test_each_setting_is_checked_by_id(setting, wrong, right, check_id, message):
    with override_settings(**{setting: wrong}):
        found = check_settings()
    assert [(m.id, m.msg) for m in found] == [(check_id, f"{setting} {message}")]
    assert repr(wrong) in (found[0].hint or "")
    with override_settings(**{setting: right}):
        assert check_settings() == []


def test_settings_left_unset_pass_and_every_setting_check_is_tested():
    assert check_settings() == []
    checked = {(row.name, row.check_id) for row in SETTINGS if not row.required}
    assert {(row[0], row[3]) for row in WRONG_VALUES} == checked


def test_each_setting_has_an_id_of_its_own():
    assert len({row.check_id for row in SETTINGS}) == len(SETTINGS)


@pytest.mark.parametrize("row", [row for row in SETTINGS if not row.required], ids=repr)
def test_each_default_passes_its_own_check(row):
    with override_settings(**{row.name: row.default}):
        assert check_settings() == []


@pytest.mark.parametrize(
    ("setting", "value", "messages"),
    [
        (
            "SUPPORT_THROTTLE_RATES",
            {"bot": "lots", "manager": None},
            ["SUPPORT_THROTTLE_RATES['bot'] must be a rate such as \"600/min\", or None."],
        ),
        (
            "SUPPORT_THROTTLE_RATES",
            {"bot": 600, "manager": "10/fortnight"},
            [
                "SUPPORT_THROTTLE_RATES['bot'] must be a rate such as \"600/min\", or None.",
                "SUPPORT_THROTTLE_RATES['manager'] must be a rate such as \"600/min\", or None.",
            ],
        ),
        (
            "SUPPORT_WEBSOCKET_PATHS",
            ["ws/a/", 7],
            ["SUPPORT_WEBSOCKET_PATHS[1] must be a string."],
        ),
    ],
)
def test_each_item_of_a_list_or_dict_is_checked(setting, value, messages):
    with override_settings(**{setting: value}):
        found = check_settings()
    assert [m.msg for m in found] == messages
    assert {m.id for m in found} == {"support.E014" if "RATES" in setting else "support.E011"}


@pytest.mark.parametrize("rates", [{"bot": "10/s", "manager": "5/hour"}, {"manager": None}, {}])
def test_valid_rates_pass(rates):
    with override_settings(SUPPORT_THROTTLE_RATES=rates):
        assert check_settings() == []


RATE_SAMPLES: list[object] = ["600/min", "10/s", " 5 / Hour", "6_000/m", "1/d", "-1/min", "0/day"]
RATE_SAMPLES += ["600", "600/", "abc/min", "600/fortnight", "", "/min", "1.5/min", 600, b"6/m"]


@pytest.mark.parametrize("rate", RATE_SAMPLES, ids=repr)
def test_a_rate_passes_the_check_if_and_only_if_the_rate_limiter_reads_it(rate):
    from support.conf import parse_rate  # the one the rate limiter uses

    try:
        parse_rate(rate)
    except (AttributeError, KeyError, TypeError, ValueError):
        read = False
    else:
        read = True
    with override_settings(SUPPORT_THROTTLE_RATES={"bot": rate}):
        assert (check_settings() == []) is read


def test_a_cache_alias_is_checked_against_caches():
    caches = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    with override_settings(
        CACHES={**caches, "shared": caches["default"]}, SUPPORT_THROTTLE_CACHE="shared"
    ):
        assert check_settings() == []
    with override_settings(CACHES=caches, SUPPORT_THROTTLE_CACHE="shared"):
        assert [m.id for m in check_settings()] == ["support.E018"]


def test_a_wrong_setting_fails_manage_py_check_and_reading_it_does_not_raise():
    from support.conf import support_settings

    with override_settings(SUPPORT_MAX_TEXT_LENGTH="long"):
        value: object = support_settings.MAX_TEXT_LENGTH
        assert value == "long"  # conf only reads
        with pytest.raises(SystemCheckError, match=r"support\.E009"):
            call_command("check")


@pytest.mark.parametrize("content_type", ["text/html", "image/svg+xml", "application/javascript"])
def test_the_attachment_allow_list_names_only_types_the_app_detects(content_type):
    with override_settings(SUPPORT_ATTACHMENT_CONTENT_TYPES=["text/plain", content_type]):
        found = check_settings()
    assert [(m.id, m.msg) for m in found] == [
        (
            "support.E024",
            "SUPPORT_ATTACHMENT_CONTENT_TYPES[1] must be one the app detects from a file's "
            "bytes (support.sniff.DETECTABLE).",
        )
    ]

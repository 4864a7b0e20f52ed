"""System checks for SUPPORT_TELEGRAM_USER_MODEL and token authentication."""

from __future__ import annotations

import pytest
from django.test import override_settings

from support.checks import check_telegram_user_model, check_token_authentication


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

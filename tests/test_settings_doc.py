"""docs/settings.md holds to the table of settings in support.conf; the defaults, literally.

The doc's settings table is made from :data:`support.conf.SETTINGS`; after a
change to the table, ``.venv/bin/python -m tests.test_settings_doc`` rewrites
it (the prose around it is the doc's own).
"""

from __future__ import annotations

import re
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import override_settings

from support.conf import (
    SETTINGS,
    Setting,
    SupportSettings,
    support_settings,
    telegram_user_model_label,
)

DOC = Path(__file__).resolve().parent.parent / "docs" / "settings.md"
BEGIN = "<!-- settings table: made from support/conf.py by `python -m tests.test_settings_doc` -->"
END = "<!-- end of the settings table -->"


def literal(value: object) -> str:
    """*value* as a reader would write it in settings.py."""
    if isinstance(value, timedelta):
        if value == timedelta(days=value.days):
            return f"timedelta(days={value.days})"
        return f"timedelta(seconds={value.total_seconds():g})"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, tuple):
        return "(" + ", ".join(literal(item) for item in value) + ("," * (len(value) == 1)) + ")"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in value.items()) + "}"
    return repr(value)


def must_be(row: Setting[object]) -> str:
    each = f", each {row.kind.each.description}" if row.kind.each else ""
    return f"{row.kind.description}{each} (`{row.check_id}`)"


def table() -> str:
    """The doc's settings table, as the table in support.conf makes it."""
    lines = ["| setting | default | must be | meaning |", "|---|---|---|---|"]
    for row in SETTINGS:
        default = "required" if row.required else f"`{literal(row.default)}`"
        lines.append(f"| `{row.name}` | {default} | {must_be(row)} | {row.meaning} |")
    return "\n".join(lines)


def split_doc(text: str) -> tuple[str, str, str]:
    """The doc as the prose before the table, the table, and the prose after it."""
    before, begin, rest = text.partition(BEGIN)
    section, end, after = rest.partition(END)
    assert begin, f"docs/settings.md lost its marker {BEGIN!r}"
    assert end, f"docs/settings.md lost its marker {END!r}"
    return before, section.strip("\n"), after


def test_the_doc_shows_the_table():
    expected = table()
    assert split_doc(DOC.read_text())[1] == expected, (
        "docs/settings.md's settings table is not the one support/conf.py makes; "
        f"run `.venv/bin/python -m tests.test_settings_doc`, or paste:\n\n{expected}\n"
    )


def test_every_setting_is_documented_with_its_default():
    rows = re.findall(r"^\| `(SUPPORT_\w+)` \| ([^|]+) \|", DOC.read_text(), re.MULTILINE)
    documented = {name: default.strip() for name, default in rows}
    assert documented == {
        row.name: "required" if row.required else f"`{literal(row.default)}`" for row in SETTINGS
    }


def test_the_doc_names_no_setting_the_table_lacks():
    named = set(re.findall(r"SUPPORT_[A-Z0-9_]*[A-Z0-9]", DOC.read_text()))
    assert named - {row.name for row in SETTINGS} == set()


def test_the_documented_defaults_are_read():
    from django.conf import settings

    assert [row.name for row in SETTINGS if hasattr(settings, row.name)] == [
        "SUPPORT_TELEGRAM_USER_MODEL"
    ]
    assert timedelta(days=7) == support_settings.EVENT_RETENTION
    assert support_settings.MAX_TEXT_LENGTH == 4096
    assert support_settings.MAX_TITLE_LENGTH == 256
    assert support_settings.LONGPOLL_DEFAULT_TIMEOUT == 25
    assert support_settings.LONGPOLL_MAX_TIMEOUT == 30
    assert support_settings.WEBSOCKET_PATHS == ("ws/support/", "ws/support/manager/")
    assert support_settings.CHANNEL_GROUP == "support.events"
    assert support_settings.HUB_POLL_INTERVAL == 2.0
    assert support_settings.CREDENTIAL_RECHECK_INTERVAL == 10.0
    assert support_settings.THROTTLE_RATES == {"bot": "6000/min", "manager": "600/min"}
    assert support_settings.THROTTLE_CACHE == "default"
    assert support_settings.MAX_STREAMS_PER_CREDENTIAL == 32
    assert support_settings.MAX_CLIENT_BACKLOG == 1048576
    assert support_settings.SLOW_CLIENT_TIMEOUT == 10.0
    assert support_settings.TUNE_SQLITE is True
    assert support_settings.DATABASE_CONNECT_TIMEOUT == 5.0
    assert support_settings.ATTACHMENT_STORAGE == "default"
    assert support_settings.MAX_ATTACHMENT_SIZE == 20 * 1024 * 1024  # 20 MB, Telegram's
    assert support_settings.MAX_ATTACHMENTS_PER_MESSAGE == 10
    assert "application/pdf" in support_settings.ATTACHMENT_CONTENT_TYPES
    with override_settings():
        del settings.SUPPORT_TELEGRAM_USER_MODEL
        # Deleting a setting sends no setting_changed: a fresh reader, with nothing remembered.
        assert SupportSettings().TELEGRAM_USER_MODEL is None


def test_values_are_read_as_the_app_uses_them_and_forgotten_when_settings_change():
    with override_settings(
        SUPPORT_EVENT_RETENTION=90,
        SUPPORT_MAX_TITLE_LENGTH=1000,
        SUPPORT_WEBSOCKET_PATHS=["ws/a/"],
        SUPPORT_THROTTLE_RATES={"bot": None},
        SUPPORT_HUB_POLL_INTERVAL=1,
        SUPPORT_TUNE_SQLITE=False,
    ):
        assert timedelta(seconds=90) == support_settings.EVENT_RETENTION
        assert support_settings.MAX_TITLE_LENGTH == 256  # the column holds 256
        assert support_settings.WEBSOCKET_PATHS == ("ws/a/",)
        assert support_settings.THROTTLE_RATES == {"bot": None, "manager": "600/min"}
        assert support_settings.HUB_POLL_INTERVAL == 1.0
        assert isinstance(support_settings.HUB_POLL_INTERVAL, float)
        assert support_settings.TUNE_SQLITE is False
        with override_settings(SUPPORT_EVENT_RETENTION=timedelta(hours=1)):
            assert timedelta(hours=1) == support_settings.EVENT_RETENTION
        assert timedelta(seconds=90) == support_settings.EVENT_RETENTION
    assert timedelta(days=7) == support_settings.EVENT_RETENTION


def test_a_value_is_remembered_until_a_setting_changes():
    from django.conf import settings

    assert support_settings.MAX_TEXT_LENGTH == 4096
    with override_settings(SUPPORT_MAX_TEXT_LENGTH=10):
        assert support_settings.MAX_TEXT_LENGTH == 10
        settings.SUPPORT_MAX_TEXT_LENGTH = 20  # sends no setting_changed
        assert support_settings.MAX_TEXT_LENGTH == 10
        with override_settings(SUPPORT_OTHER=1):  # any change forgets every value
            assert support_settings.MAX_TEXT_LENGTH == 20
    assert support_settings.MAX_TEXT_LENGTH == 4096


def test_the_names_other_modules_use_keep_working():
    from support.conf import EVENTSTREAM_STORAGE, TELEGRAM_USER_MODEL_SETTING

    assert TELEGRAM_USER_MODEL_SETTING == "SUPPORT_TELEGRAM_USER_MODEL"
    assert EVENTSTREAM_STORAGE == "support.realtime.storage.EventLogStorage"
    assert telegram_user_model_label() == "zz_users.MyTelegramUser"
    with pytest.raises(AttributeError, match=r"django\.conf\.settings"):
        support_settings.MAX_TEXT_LENGTH = 5


def write_doc() -> None:
    before, _table, after = split_doc(DOC.read_text())
    DOC.write_text(f"{before}{BEGIN}\n\n{table()}\n\n{END}{after}")


if __name__ == "__main__":
    write_doc()
    sys.stdout.write(f"{DOC}: settings table rewritten\n")

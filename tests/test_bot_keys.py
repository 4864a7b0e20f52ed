"""Bot keys: created by a command, hashed at rest, revocable at once."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from support.botkeys import authenticate_bot_key, create_bot_key, hash_key
from support.models import BotKey
from support.services import revoke_bot_key


def test_command_prints_the_key_alone_on_the_last_line(db):
    out = StringIO()
    call_command("support_create_bot_key", "telegram-bot", stdout=out)
    last_line = out.getvalue().rstrip("\n").splitlines()[-1]
    key = BotKey.objects.get()
    assert key.name == "telegram-bot"
    assert last_line.startswith(key.prefix + ".")
    assert " " not in last_line
    assert authenticate_bot_key(last_line) == key


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
def test_command_refuses_bad_names(db, name):
    with pytest.raises(CommandError):
        call_command("support_create_bot_key", name, stdout=StringIO())
    assert not BotKey.objects.exists()


def test_only_the_hash_is_stored(db):
    key, raw = create_bot_key("bot")
    stored = BotKey.objects.filter(pk=key.pk).values()[0]
    assert raw not in str(stored)
    assert stored["hashed_key"] == hash_key(raw)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda k: k + "x",
        lambda k: k[:-1],
        lambda k: "nope." + k,
        lambda k: k.split(".")[0],
        lambda k: "",
    ],
)
def test_wrong_keys_do_not_authenticate(db, mangle):
    _key, raw = create_bot_key("bot")
    assert authenticate_bot_key(mangle(raw)) is None


def test_revocation_takes_effect_on_the_next_request(db):
    key, raw = create_bot_key("bot")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    assert client.get("/support/tickets/").status_code == 200
    revoke_bot_key(key)
    response = client.get("/support/tickets/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_revoking_broadcasts_once_after_the_commit(
    db, monkeypatch, django_capture_on_commit_callbacks
):
    from support import events

    sent: list[dict[str, object]] = []
    monkeypatch.setattr(events, "broadcast", sent.append)
    key, _raw = create_bot_key("bot")
    with django_capture_on_commit_callbacks(execute=True):
        revoke_bot_key(key)
        assert sent == []  # not before the commit
    revoked_at = key.revoked_at
    assert revoked_at is not None
    with django_capture_on_commit_callbacks(execute=True):
        revoke_bot_key(key)  # already revoked: nothing changes, nothing is sent
    key.refresh_from_db()
    assert key.revoked_at == revoked_at
    assert sent == [{"type": "support.revoked", "bot_key": key.pk}]

"""Creating and checking bot keys (revoking one is :func:`support.services.revoke_bot_key`).

A key reads ``<prefix>.<secret>``: the prefix is stored in clear to find the
row, the whole key only as a SHA-256 digest.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from support.models import BotKey

PREFIX_BYTES = 6
SECRET_BYTES = 32


def hash_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def create_bot_key(name: str, *, staff: bool = False) -> tuple[BotKey, str]:
    """Create a key for the bot called *name*; return it with its plaintext.

    The plaintext exists only in the return value: show it once, then it is gone.
    *staff* grants the capability to act for linked managers (a staff group's bot).
    """
    while True:
        prefix = secrets.token_hex(PREFIX_BYTES)
        if not BotKey.objects.filter(prefix=prefix).exists():
            break
    raw_key = f"{prefix}.{secrets.token_urlsafe(SECRET_BYTES)}"
    key = BotKey.objects.create(name=name, prefix=prefix, hashed_key=hash_key(raw_key), staff=staff)
    return key, raw_key


def authenticate_bot_key(raw_key: str) -> BotKey | None:
    """Return the active key matching *raw_key*, or ``None``.

    Revocation takes effect at once: every request looks the key up afresh.
    """
    prefix, sep, _secret = raw_key.partition(".")
    if not sep or not prefix:
        return None
    key = BotKey.objects.active().filter(prefix=prefix).first()
    if key is None or not hmac.compare_digest(key.hashed_key, hash_key(raw_key)):
        return None
    return key

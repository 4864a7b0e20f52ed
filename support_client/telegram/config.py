"""Settings from the environment, checked at start: a bad one is one line and exit 2."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from aiogram.utils.token import TokenValidationError, validate_token

DEFAULT_STATE_FILE = "telegram_bot_state.json"
DEFAULT_DELIVERY_TIMEOUT = 30.0
#: The longest ``SUPPORT_BOT_BLOCKED_TEXT``: one Telegram message.
BLOCKED_TEXT_LIMIT = 4096
#: The smallest chat id Telegram has (ids are signed 64-bit integers).
_SMALLEST_CHAT_ID = -(2**63)


class ConfigError(Exception):
    """A setting is missing or refused: one line for the operator, no traceback."""


def _url(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{name} must be an http(s) URL, not {value!r}")
    return value


def _staff_chat_id(env: Mapping[str, str]) -> int | None:
    raw = env.get("SUPPORT_STAFF_CHAT_ID", "").strip()
    if not raw:
        return None
    try:
        chat_id = int(raw)
    except ValueError:
        chat_id = 0
    if not _SMALLEST_CHAT_ID <= chat_id < 0:
        raise ConfigError(
            "SUPPORT_STAFF_CHAT_ID must be a group's chat id, a negative integer "
            f"(e.g. -1001234567890), not {raw!r}"
        )
    return chat_id


@dataclass(frozen=True)
class Settings:
    """What the bot needs to run; :meth:`from_env` reads and checks them."""

    token: str
    base_url: str
    api_key: str
    api_url: str | None = None
    state_path: Path = Path(DEFAULT_STATE_FILE)
    delivery_timeout: float = DEFAULT_DELIVERY_TIMEOUT
    #: The staff group (a forum supergroup) the desk is mirrored to, if any.
    staff_chat_id: int | None = None
    #: What a blocked user is told when they write (at most once an hour);
    #: ``None``: nothing (``SUPPORT_BOT_BLOCKED_TEXT``).
    blocked_text: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """The settings in *env* (``os.environ``); :class:`ConfigError` for a bad one."""
        token = env.get("TELEGRAM_BOT_TOKEN", "").strip()
        if not token:
            raise ConfigError("TELEGRAM_BOT_TOKEN is not set (ask @BotFather for one)")
        try:
            validate_token(token)
        except TokenValidationError:
            raise ConfigError(
                "TELEGRAM_BOT_TOKEN does not look like a bot token (123456:ABC…)"
            ) from None
        base_url = _url(env, "SUPPORT_BASE_URL")
        if base_url is None:
            raise ConfigError(
                "SUPPORT_BASE_URL is not set (where the support app is mounted, "
                "e.g. http://127.0.0.1:8000/support/)"
            )
        api_key = env.get("SUPPORT_API_KEY", "").strip()
        if not api_key:
            raise ConfigError(
                "SUPPORT_API_KEY is not set (manage.py support_create_bot_key NAME prints one)"
            )
        raw_timeout = env.get("SUPPORT_BOT_DELIVERY_TIMEOUT", "").strip()
        try:
            timeout = float(raw_timeout) if raw_timeout else DEFAULT_DELIVERY_TIMEOUT
        except ValueError:
            timeout = -1.0
        if not 0 <= timeout <= 3600:
            raise ConfigError(
                f"SUPPORT_BOT_DELIVERY_TIMEOUT must be seconds from 0 to 3600, not {raw_timeout!r}"
            )
        state = env.get("SUPPORT_BOT_STATE", "").strip() or DEFAULT_STATE_FILE
        blocked_text = env.get("SUPPORT_BOT_BLOCKED_TEXT", "").strip() or None
        if blocked_text is not None and len(blocked_text) > BLOCKED_TEXT_LIMIT:
            raise ConfigError(
                f"SUPPORT_BOT_BLOCKED_TEXT must be at most {BLOCKED_TEXT_LIMIT} characters, "
                f"not {len(blocked_text)}"
            )
        return cls(
            token=token,
            base_url=base_url,
            api_key=api_key,
            api_url=_url(env, "TELEGRAM_API_URL"),
            state_path=Path(state),
            delivery_timeout=timeout,
            staff_chat_id=_staff_chat_id(env),
            blocked_text=blocked_text,
        )

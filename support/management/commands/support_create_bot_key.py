"""``manage.py support_create_bot_key NAME``: the plaintext key is the last line of stdout."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from support.botkeys import create_bot_key


class Command(BaseCommand):
    help = (
        "Create a service key for a bot and print it. The key is shown once, alone "
        "on the last line of stdout (so `KEY=$(... | tail -n 1)` works)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="A name for the bot, e.g. 'telegram-bot'.")

    def handle(self, *args: Any, name: str, **options: Any) -> None:
        name = name.strip()
        if not name or len(name) > 100:
            raise CommandError("NAME must be 1 to 100 characters.")
        key, raw_key = create_bot_key(name)
        self.stdout.write(
            f"Created bot key {key.prefix} for {key.name!r}. Send it as "
            "'Authorization: Api-Key <key>'; it will not be shown again:"
        )
        self.stdout.write(raw_key)

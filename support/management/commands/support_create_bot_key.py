"""``manage.py support_create_bot_key [--staff] NAME``: the plaintext key is the last line
of stdout."""

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
        parser.add_argument(
            "--staff",
            action="store_true",
            help="Let the key act for managers who linked their Telegram account "
            "(the bot of a staff group).",
        )

    def handle(self, *args: Any, name: str, staff: bool = False, **options: Any) -> None:
        name = name.strip()
        if not name or len(name) > 100:
            raise CommandError("NAME must be 1 to 100 characters.")
        key, raw_key = create_bot_key(name, staff=staff)
        capability = " (staff: acts for linked managers)" if staff else ""
        self.stdout.write(
            f"Created bot key {key.prefix} for {key.name!r}{capability}. Send it as "
            "'Authorization: Api-Key <key>'; it will not be shown again:"
        )
        self.stdout.write(raw_key)

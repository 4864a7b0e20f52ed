"""``manage.py support_auto_resolve [--dry-run]``: resolve the tickets idle for longer
than SUPPORT_AUTO_RESOLVE_AFTER."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from support import services
from support.conf import support_settings


class Command(BaseCommand):
    help = (
        "Resolve every unresolved ticket whose last message (or, without messages, its "
        "opening) is older than SUPPORT_AUTO_RESOLVE_AFTER. Run it periodically (cron, a "
        'scheduler). Each gets `ticket.resolved` with `"auto": true`, so the bot tells the '
        "user in its own words. Does nothing while the setting is None."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Only count the tickets that would be resolved; change nothing.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        after = support_settings.AUTO_RESOLVE_AFTER
        if after is None:
            self.stdout.write("SUPPORT_AUTO_RESOLVE_AFTER is None: nothing is resolved.")
            return
        if options["dry_run"]:
            count = services.idle_tickets().count()
            self.stdout.write(f"{count} ticket(s) idle for more than {after} would be resolved.")
            return
        resolved = services.auto_resolve()
        self.stdout.write(f"Resolved {len(resolved)} ticket(s) idle for more than {after}.")

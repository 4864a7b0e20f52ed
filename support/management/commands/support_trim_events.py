"""``manage.py support_trim_events``: drop events older than SUPPORT_EVENT_RETENTION."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from support import events
from support.conf import support_settings


class Command(BaseCommand):
    help = (
        "Delete events older than SUPPORT_EVENT_RETENTION from the event log. "
        "Run it periodically (cron, a scheduler); clients holding an older cursor "
        "are told `cursor_expired` and re-read the state over REST."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        deleted = events.trim()
        self.stdout.write(
            f"Deleted {deleted} event(s) older than {support_settings.EVENT_RETENTION}; "
            f"cursors at or below {events.trimmed_through()} have expired."
        )

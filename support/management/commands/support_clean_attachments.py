"""``manage.py support_clean_attachments``: remove stored files no attachment refers to.

The service layer writes a file before the row that refers to it commits, and
removes it again when the transaction fails; only a crash in between (or an
outer transaction of the project's, rolled back after the upload) can leave a
file behind. This finds such files in the attachments' storage and removes
them. Files younger than ``--older-than`` minutes are left alone: their
upload may still be committing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from django.core.files.storage import Storage
from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from support import attachments
from support.models import Attachment


def stored_names(storage: Storage, folder: str) -> Iterator[str]:
    """Every file below *folder* in *storage*, by its storage name."""
    try:
        folders, names = storage.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return
    for name in names:
        yield f"{folder}{name}"
    for sub in folders:
        yield from stored_names(storage, f"{folder}{sub}/")


class Command(BaseCommand):
    help = (
        "Remove files in SUPPORT_ATTACHMENT_STORAGE that no attachment refers to (left "
        "by a crash between writing a file and committing its row). Run it now and then."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than",
            type=int,
            default=60,
            metavar="MINUTES",
            help="Leave files younger than this alone (default 60).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="List what would be removed; remove nothing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        storage = attachments.storage()
        cutoff = timezone.now() - timedelta(minutes=options["older_than"])
        kept = set(Attachment.objects.values_list("stored_name", flat=True))
        kept |= set(
            Attachment.objects.exclude(thumbnail_name="").values_list("thumbnail_name", flat=True)
        )
        orphans = [
            name
            for name in stored_names(storage, attachments.PREFIX)
            if name not in kept and storage.get_modified_time(name) < cutoff
        ]
        for name in orphans:
            self.stdout.write(f"{'would remove' if options['dry_run'] else 'removed'} {name}")
            if not options["dry_run"]:
                storage.delete(name)
        verb = "Would remove" if options["dry_run"] else "Removed"
        self.stdout.write(f"{verb} {len(orphans)} orphaned file(s).")

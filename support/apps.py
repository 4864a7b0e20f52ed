from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from support.conf import EVENTSTREAM_STORAGE


class SupportConfig(AppConfig):
    name = "support"
    verbose_name = _("Support")
    # Pinned so a host project's DEFAULT_AUTO_FIELD never asks for a migration.
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.conf import settings

        # django-eventstream serves SSE from the support event log. Like
        # django-appconf, fill in the setting only when the project left it unset.
        if not hasattr(settings, "EVENTSTREAM_STORAGE_CLASS"):
            settings.EVENTSTREAM_STORAGE_CLASS = EVENTSTREAM_STORAGE

        from django.db.models.signals import post_delete

        from support import (
            attachments,
            checks,  # noqa: F401  (registers the system checks)
            credentials,
            login_throttle,  # noqa: F401  (counts failed sign-ins when its backend is on)
            sqlite,
        )
        from support.api import schema  # noqa: F401  (registers OpenAPI extensions)
        from support.models import Attachment

        sqlite.install()  # concurrent writers wait on SQLite instead of failing
        credentials.forget_on_changes()  # remembered credentials go when one may be withdrawn
        # A deleted message's (or ticket's) files leave the storage with it.
        post_delete.connect(
            attachments.remove_files_of, sender=Attachment, dispatch_uid="support.attachments"
        )

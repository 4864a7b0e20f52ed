from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SupportConfig(AppConfig):
    name = "support"
    verbose_name = _("Support")
    # Pinned so a host project's DEFAULT_AUTO_FIELD never asks for a migration.
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from support import checks  # noqa: F401  (registers the system checks)
        from support.api import schema  # noqa: F401  (registers OpenAPI extensions)

"""Mount with ``path("support/", include("support.urls"))``, as in the seed."""

from __future__ import annotations

from support.api.urls import urlpatterns

app_name = "support"

__all__ = ["app_name", "urlpatterns"]

"""Mount with ``path("support/", include("support.urls"))``, as in the seed.

The manager console's page comes first: the API's list ends with a
catch-all that answers any other path under the mount with a JSON 404.
"""

from __future__ import annotations

from django.urls import path

from support import console
from support.api.urls import urlpatterns as api_urlpatterns

app_name = "support"

urlpatterns = [
    path("manager/", console.manager_console, name="manager-console"),
    *api_urlpatterns,
]

__all__ = ["app_name", "urlpatterns"]

"""Mount with ``path("support/", include("support.urls"))``, as in 1.x.

The manager console's page, the REST API, the event streams (long-poll and
SSE), and last a catch-all that answers any other path under the mount with
the API's JSON 404.
"""

from __future__ import annotations

from django.urls import path, re_path

from support import console
from support.api.urls import urlpatterns as api_urlpatterns
from support.api.views import not_found
from support.realtime import longpoll, sse

app_name = "support"

urlpatterns = [
    path("manager/", console.manager_console, name="manager-console"),
    *api_urlpatterns,
    # django-stubs types views as sync; Django serves async views natively.
    path("events/", longpoll.longpoll, name="events"),  # type: ignore[arg-type]
    path("events/stream/", sse.stream, name="events-stream"),  # type: ignore[arg-type]
    # Last: any other path under the mount (`tickets/abc/`, say) is a JSON 404.
    re_path(r"^[\s\S]*$", not_found, name="not-found"),  # newlines in ids too
]

__all__ = ["app_name", "urlpatterns"]

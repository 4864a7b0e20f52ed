"""drf-spectacular extensions: the API's three credentials in the OpenAPI schema."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension


class SupportAuthenticationScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    """Bot key, manager token (when ``authtoken`` is installed) or session: any one of them."""

    target_class = "support.api.authentication.SupportAuthentication"
    name = ["botKey", "tokenAuth", "cookieAuth"]

    def __init__(self, target: Any) -> None:
        super().__init__(target)  # type: ignore[no-untyped-call]
        if not apps.is_installed("rest_framework.authtoken"):
            self.name = ["botKey", "cookieAuth"]

    def get_security_definition(self, auto_schema: Any) -> list[dict[str, str]]:
        definitions = {
            "botKey": {
                "type": "apiKey",
                "in": "header",
                "name": "Authorization",
                "description": "A bot's service key: `Authorization: Api-Key <key>`.",
            },
            "tokenAuth": {
                "type": "apiKey",
                "in": "header",
                "name": "Authorization",
                "description": "A manager's token: `Authorization: Token <key>`.",
            },
            "cookieAuth": {"type": "apiKey", "in": "cookie", "name": settings.SESSION_COOKIE_NAME},
        }
        return [definitions[name] for name in self.name]

    def get_security_requirement(self, auto_schema: Any) -> list[dict[str, list[Any]]]:
        return [{name: []} for name in self.name]

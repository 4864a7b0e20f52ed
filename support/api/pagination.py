"""``?limit=&offset=`` that keeps the plain-list body, for 1.x clients.

1.x clients read a JSON array; wrapping it in ``{"results": ...}``
when a limit is given would make them branch on the query string. The page
stays a plain array; the total and the neighbouring pages go in headers
(``X-Total-Count`` and an RFC 8288 ``Link``).
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response

from support.inputs import INT64_MAX


class PlainListPagination(LimitOffsetPagination):
    default_limit = None  # no limit given: the whole list, as in 1.x
    max_limit = 500

    def get_limit(self, request: Request) -> int | None:
        # DRF reads the offset only once a limit is known; check it first so a
        # bad ``?offset=`` is a 400 even without a limit.
        offset = _non_negative(request, self.offset_query_param)
        limit = _non_negative(request, self.limit_query_param)
        if limit is None:
            return None if offset is None else self.max_limit
        if limit == 0:
            raise ValidationError({self.limit_query_param: [_("Must be at least 1.")]})
        return min(limit, self.max_limit or limit)

    def get_offset(self, request: Request) -> int:
        return _non_negative(request, self.offset_query_param) or 0

    def get_paginated_response(self, data: Any) -> Response:
        links = []
        if (next_url := self.get_next_link()) is not None:
            links.append(f'<{next_url}>; rel="next"')
        if (previous_url := self.get_previous_link()) is not None:
            links.append(f'<{previous_url}>; rel="prev"')
        headers = {"X-Total-Count": str(self.count)}
        if links:
            headers["Link"] = ", ".join(links)
        return Response(data, headers=headers)

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return schema

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        """``limit`` and ``offset`` as :meth:`get_limit` and :meth:`get_offset` read them."""

        def parameter(name: str, minimum: int, description: str) -> dict[str, Any]:
            schema = {
                "type": "integer",
                "format": "int64",
                "minimum": minimum,
                "maximum": INT64_MAX,
            }
            return {
                "name": name,
                "required": False,
                "in": "query",
                "description": description,
                "schema": schema,
            }

        return [
            parameter(
                self.limit_query_param,
                1,
                _("Page size: at most %(max)d are returned, whatever the limit.")
                % {"max": self.max_limit},
            ),
            parameter(
                self.offset_query_param,
                0,
                _("Items to skip (with no limit, a page of %(max)d).") % {"max": self.max_limit},
            ),
        ]


def _non_negative(request: Request, name: str) -> int | None:
    """The parameter's digits as a number (up to a 64-bit one: the database's), or None."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if not raw.isascii() or not raw.isdigit():
        raise ValidationError({name: [_("Must be a non-negative integer.")]})
    # Length first: int() of thousands of digits is slow, and past 4,300 an error.
    if len(raw.lstrip("0")) > len(str(INT64_MAX)) or int(raw) > INT64_MAX:
        raise ValidationError({name: [_("Must be at most %(max)d.") % {"max": INT64_MAX}]})
    return int(raw)

"""What the SDK unit tests share: example payloads, a fake clock, one calling convention.

Most tests run twice, once with ``SupportClient`` and once with
``AsyncSupportClient``, through the ``api`` / ``make`` fixtures (``conftest.py``):
``await api.run(lambda c: c.tickets.get(16))`` calls the method and awaits it when
the client is async. Sleeps between retries are recorded by :class:`Clock`, never slept.
"""

from __future__ import annotations

import email.parser
import email.policy
import inspect
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import respx

from support_client import (
    APIStatusError,
    AsyncSupportClient,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    CursorExpiredError,
    InternalServerError,
    MethodNotAllowedError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestTooLargeError,
    ServiceUnavailableError,
    SupportClient,
    UnprocessableEntityError,
    UnsupportedMediaTypeError,
)

BASE = "http://test/support/"
KEY = "bot-key-123"

SEED: dict[str, Any] = json.loads((Path(__file__).parent.parent / "seed_examples.json").read_text())

MESSAGE: dict[str, Any] = {
    "id": 31,
    "created_at": "2024-12-29T16:08:04.267002Z",
    "sender": "supp",
    "text": "some_text",
    "viewed": True,
    "ticket": 16,
    "author": 1,
}
USER_MESSAGE: dict[str, Any] = {
    "id": 32,
    "created_at": "2024-12-29T16:09:00Z",
    "sender": "user",
    "text": "thanks",
    "viewed": False,
    "ticket": 16,
    "author": None,
}
TICKET: dict[str, Any] = {
    "id": 16,
    "user": {"telegram_id": 123},
    "support_manager": {"id": 1, "first_name": "Alice", "last_name": "Smith"},
    "created_at": "2025-01-22T12:11:40.273325Z",
    "title": "I've founded some bug",
    "resolved": False,
    "unread": 2,
    "viewed": False,
    "last_message": MESSAGE,
}
ERROR_BODY: dict[str, Any] = {
    "code": "invalid",
    "detail": "Invalid input.",
    "errors": {"text": ["May not be blank."]},
}

#: Every status the server sends (support/exceptions.py, docs/api.md), its class; 422 (which
#: SPEC §7 lists, though the server never sends it) and a proxy's 502 and 504 too.
STATUS_ERRORS: list[tuple[int, type[APIStatusError]]] = [
    (400, BadRequestError),
    (401, AuthenticationError),
    (403, PermissionDeniedError),
    (404, NotFoundError),
    (405, MethodNotAllowedError),
    (409, ConflictError),
    (410, CursorExpiredError),
    (413, RequestTooLargeError),
    (415, UnsupportedMediaTypeError),
    (422, UnprocessableEntityError),
    (429, RateLimitError),
    (500, InternalServerError),
    (502, InternalServerError),
    (503, ServiceUnavailableError),
    (504, InternalServerError),
]
#: Those a request is never retried on: the 4xx but 429.
NOT_RETRIED = [(status, cls) for status, cls in STATUS_ERRORS if status < 500 and status != 429]


class Clock:
    """Stands in for ``time`` and ``asyncio`` in ``_base_client``: records waits."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self.now: float | None = None

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)

    async def async_sleep(self, seconds: float) -> None:
        self.waits.append(seconds)

    def time(self) -> float:
        return time.time() if self.now is None else self.now


class Api:
    """Either client behind one calling convention."""

    def __init__(self, client: SupportClient | AsyncSupportClient) -> None:
        self.client = client

    async def run(self, call: Callable[[Any], Any]) -> Any:
        result = call(self.client)
        if inspect.isawaitable(result):
            result = await result
        return result


def last_request(route: respx.Route) -> httpx.Request:
    return route.calls.last.request


def query_of(request: httpx.Request) -> dict[str, str]:
    items = request.url.params.multi_items()
    assert len(items) == len(dict(items)), f"repeated query parameter: {items}"
    return dict(items)


def body_of(request: httpx.Request) -> Any:
    return json.loads(request.content)


def with_event_id(example: dict[str, Any], event_id: str = "support:1") -> dict[str, Any]:
    return {**example, "event_id": event_id}


@dataclass
class Part:
    name: str
    filename: str | None
    content_type: str | None
    data: bytes


def parts_of(request: httpx.Request) -> list[Part]:
    """The parts of a multipart request, as a server's parser reads them."""
    assert request.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert int(request.headers["Content-Length"]) == len(request.content)
    head = f"Content-Type: {request.headers['Content-Type']}\r\n\r\n".encode()
    parsed = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + request.content)
    assert parsed.is_multipart()
    parts = []
    for part in parsed.iter_parts():
        disposition = part.get("Content-Disposition")
        assert disposition is not None
        data = part.get_payload(decode=True)
        assert isinstance(data, bytes)
        parts.append(
            Part(
                name=str(part.get_param("name", header="Content-Disposition")),
                filename=part.get_filename(),
                content_type=part.get("Content-Type"),
                data=data,
            )
        )
    return parts


def fields_of(request: httpx.Request) -> list[tuple[str, str]]:
    return [(p.name, p.data.decode()) for p in parts_of(request) if p.filename is None]


def files_of(request: httpx.Request) -> list[tuple[str | None, str | None, bytes]]:
    return [(p.filename, p.content_type, p.data) for p in parts_of(request) if p.name == "files"]

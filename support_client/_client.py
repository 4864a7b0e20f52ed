"""``SupportClient`` (sync) and ``AsyncSupportClient`` (async): one surface, two styles."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Any

import httpx

from support_client._base_client import AsyncRequester, ClientOptions, SyncRequester
from support_client._realtime import RealtimeConnection
from support_client.resources.events import AsyncEvents, Events
from support_client.resources.messages import AsyncMessages, Messages
from support_client.resources.tickets import AsyncTickets, Tickets


class SupportClient:
    """The API for bot code and scripts.

    >>> bot = SupportClient("https://example.org/support/", api_key="…")
    >>> ticket = bot.tickets.create(user_id=123, title="Bug", text="It fails")

    ``base_url``, ``api_key`` and ``token`` fall back to ``SUPPORT_BASE_URL``,
    ``SUPPORT_API_KEY`` and ``SUPPORT_TOKEN``. Requests time out (30 s; 10 s
    to connect) and are retried on connection errors, 429 and 5xx with
    jittered exponential backoff, honouring ``Retry-After``.

    ``websocket_path`` is where the server routes its WebSocket, on the base
    URL's host (default ``/ws/support/``): event streams over WebSocket
    connect to ``ws(s)://<host><websocket_path>``.
    """

    def __init__(
        self,
        base_url: str | None = None,
        *,
        api_key: str | None = None,
        token: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int | None = None,
        default_headers: Mapping[str, str] | None = None,
        http_client: httpx.Client | None = None,
        websocket_path: str | None = None,
    ) -> None:
        options = ClientOptions.resolve(
            base_url, api_key, token, timeout, max_retries, default_headers, websocket_path
        )
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client()
        self._requester = SyncRequester(options, self._http)

    @property
    def options(self) -> ClientOptions:
        return self._requester.options

    @cached_property
    def tickets(self) -> Tickets:
        return Tickets(self._requester)

    @cached_property
    def messages(self) -> Messages:
        return Messages(self._requester)

    @cached_property
    def events(self) -> Events:
        return Events(self._requester)

    def with_options(
        self, *, timeout: float | httpx.Timeout | None = None, max_retries: int | None = None
    ) -> SupportClient:
        """A client sharing this one's connections, with other timeout or retries."""
        clone = object.__new__(SupportClient)
        clone._owns_http = False
        clone._http = self._http
        clone._requester = SyncRequester(
            self.options.with_changes(timeout, max_retries), self._http
        )
        return clone

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> SupportClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncSupportClient:
    """The API for async code and dashboards; the same surface as :class:`SupportClient`.

    >>> async with AsyncSupportClient("https://example.org/support/", token="…") as desk:
    ...     async with desk.realtime() as conn:
    ...         await conn.assign(16)

    ``websocket_path`` is where the server routes its WebSocket, on the base
    URL's host (default ``/ws/support/``): :meth:`realtime` and event streams
    over WebSocket connect to ``ws(s)://<host><websocket_path>``.
    """

    def __init__(
        self,
        base_url: str | None = None,
        *,
        api_key: str | None = None,
        token: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int | None = None,
        default_headers: Mapping[str, str] | None = None,
        http_client: httpx.AsyncClient | None = None,
        websocket_path: str | None = None,
    ) -> None:
        options = ClientOptions.resolve(
            base_url, api_key, token, timeout, max_retries, default_headers, websocket_path
        )
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient()
        self._requester = AsyncRequester(options, self._http)

    @property
    def options(self) -> ClientOptions:
        return self._requester.options

    @cached_property
    def tickets(self) -> AsyncTickets:
        return AsyncTickets(self._requester)

    @cached_property
    def messages(self) -> AsyncMessages:
        return AsyncMessages(self._requester)

    @cached_property
    def events(self) -> AsyncEvents:
        return AsyncEvents(self._requester)

    def realtime(
        self, *, after: str | None = None, ack_timeout: float = 30.0
    ) -> RealtimeConnection:
        """A WebSocket connection for commands (awaiting their acks) and events."""
        return RealtimeConnection(self.options, after=after, ack_timeout=ack_timeout)

    def with_options(
        self, *, timeout: float | httpx.Timeout | None = None, max_retries: int | None = None
    ) -> AsyncSupportClient:
        clone = object.__new__(AsyncSupportClient)
        clone._owns_http = False
        clone._http = self._http
        clone._requester = AsyncRequester(
            self.options.with_changes(timeout, max_retries), self._http
        )
        return clone

    async def close(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncSupportClient:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()

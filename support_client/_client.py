"""``SupportClient`` (sync) and ``AsyncSupportClient`` (async): one surface, two styles."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Any, Generic, Self

import httpx

from support_client._base_client import (
    AsyncRequester,
    ClientOptions,
    HttpT,
    RequesterT,
    SyncRequester,
)
from support_client._realtime import RealtimeConnection
from support_client.resources.attachments import Attachments
from support_client.resources.events import Events
from support_client.resources.messages import Messages
from support_client.resources.notes import Notes
from support_client.resources.saved_replies import SavedReplies
from support_client.resources.stats import StatsResource
from support_client.resources.telegram import Telegram
from support_client.resources.tickets import Tickets
from support_client.resources.users import Users


class BaseClient(Generic[HttpT, RequesterT]):
    """What both clients are: options, a requester over an HTTP client, the resources."""

    _requester: RequesterT
    _owns_http: bool

    def __init__(
        self,
        base_url: str | None = None,
        *,
        api_key: str | None = None,
        token: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int | None = None,
        default_headers: Mapping[str, str] | None = None,
        http_client: HttpT | None = None,
        websocket_path: str | None = None,
    ) -> None:
        options = ClientOptions.resolve(
            base_url, api_key, token, timeout, max_retries, default_headers, websocket_path
        )
        self._owns_http = http_client is None
        self._requester = self._requester_for(options, http_client)

    def _requester_for(self, options: ClientOptions, http_client: HttpT | None) -> RequesterT:
        raise NotImplementedError

    @property
    def options(self) -> ClientOptions:
        return self._requester.options

    @cached_property
    def tickets(self) -> Tickets[RequesterT]:
        return Tickets(self._requester)

    @cached_property
    def messages(self) -> Messages[RequesterT]:
        return Messages(self._requester)

    @cached_property
    def events(self) -> Events[RequesterT]:
        return Events(self._requester)

    @cached_property
    def attachments(self) -> Attachments[RequesterT]:
        return Attachments(self._requester)

    @cached_property
    def telegram(self) -> Telegram[RequesterT]:
        return Telegram(self._requester)

    @cached_property
    def notes(self) -> Notes[RequesterT]:
        return Notes(self._requester)

    @cached_property
    def saved_replies(self) -> SavedReplies[RequesterT]:
        return SavedReplies(self._requester)

    @cached_property
    def users(self) -> Users[RequesterT]:
        return Users(self._requester)

    @cached_property
    def stats(self) -> StatsResource[RequesterT]:
        return StatsResource(self._requester)

    def with_options(
        self, *, timeout: float | httpx.Timeout | None = None, max_retries: int | None = None
    ) -> Self:
        """A client sharing this one's connections, with other timeout or retries."""
        clone = object.__new__(type(self))
        clone._owns_http = False
        clone._requester = self._requester.with_options(timeout, max_retries)
        return clone

    def acting(self, telegram_id: int) -> Self:
        """A client sharing this one's connections that acts for the manager linked to
        *telegram_id* (a staff bot's key: ``X-Support-Acting-Telegram-Id`` on each request).

        Its REST calls run as that manager, under every rule of theirs (a reply
        takes a queued ticket; ``assigned_to_other``, ``ticket_resolved``); the
        server checks the key, the link and the manager on every request:
        :class:`~support_client.TelegramNotLinkedError` for an unlinked id,
        :class:`~support_client.PermissionDeniedError` otherwise. Streams refuse it
        (a staff bot streams as itself): stream with the client it came from.
        """
        clone = object.__new__(type(self))
        clone._owns_http = False
        clone._requester = self._requester.acting(telegram_id)
        return clone


class SupportClient(BaseClient[httpx.Client, SyncRequester]):
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

    def _requester_for(
        self, options: ClientOptions, http_client: httpx.Client | None
    ) -> SyncRequester:
        return SyncRequester(options, http_client or httpx.Client())

    def close(self) -> None:
        if self._owns_http:
            self._requester.http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncSupportClient(BaseClient[httpx.AsyncClient, AsyncRequester]):
    """The API for async code and dashboards; the same surface as :class:`SupportClient`.

    >>> async with AsyncSupportClient("https://example.org/support/", token="…") as desk:
    ...     async with desk.realtime() as conn:
    ...         await conn.assign(16)

    ``websocket_path`` is where the server routes its WebSocket, on the base
    URL's host (default ``/ws/support/``): :meth:`realtime` and event streams
    over WebSocket connect to ``ws(s)://<host><websocket_path>``.
    """

    def _requester_for(
        self, options: ClientOptions, http_client: httpx.AsyncClient | None
    ) -> AsyncRequester:
        return AsyncRequester(options, http_client or httpx.AsyncClient())

    def realtime(
        self, *, after: str | None = None, ack_timeout: float = 30.0
    ) -> RealtimeConnection:
        """A WebSocket connection for commands (awaiting their acks) and events."""
        return RealtimeConnection(self.options, after=after, ack_timeout=ack_timeout)

    async def close(self) -> None:
        if self._owns_http:
            await self._requester.http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()

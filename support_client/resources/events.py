"""``client.events``: one long-poll (``poll``) or an endless stream (``stream``)."""

from __future__ import annotations

from typing import overload

from support_client import _constants as C
from support_client._base_client import AsyncRequester, Call, RequesterT, SyncRequester
from support_client._resource import Resource, endpoint
from support_client._streaming import AsyncEventStream, EventStream, TransportName, longpoll
from support_client.types.events import EventPage


class Events(Resource[RequesterT]):
    @endpoint(EventPage)
    def poll(self, after: str | None = None, *, timeout: int = C.LONGPOLL_TIMEOUT) -> Call:
        """One long-poll: events after *after* (held up to *timeout* s), and the next cursor.

        Without *after*, answers at once with no events and the current cursor.
        """
        return longpoll(after, timeout)

    @overload
    def stream(
        self: Events[SyncRequester],
        after: str | None = None,
        *,
        transport: TransportName = "auto",
        first_byte_timeout: float = C.STREAM_FIRST_BYTE_TIMEOUT,
    ) -> EventStream: ...
    @overload
    def stream(
        self: Events[AsyncRequester],
        after: str | None = None,
        *,
        transport: TransportName = "auto",
        first_byte_timeout: float = C.STREAM_FIRST_BYTE_TIMEOUT,
    ) -> AsyncEventStream: ...
    def stream(
        self,
        after: str | None = None,
        *,
        transport: TransportName = "auto",
        first_byte_timeout: float = C.STREAM_FIRST_BYTE_TIMEOUT,
    ) -> EventStream | AsyncEventStream:
        """Every event after *after* (or from now on), forever: ``for event in …`` on
        ``SupportClient``, ``async for`` on ``AsyncSupportClient``; see :mod:`._streaming`."""
        if isinstance(self._requester, AsyncRequester):
            return AsyncEventStream(
                self._requester,
                after=after,
                transport=transport,
                first_byte_timeout=first_byte_timeout,
            )
        return EventStream(
            self._requester.options,
            after=after,
            transport=transport,
            first_byte_timeout=first_byte_timeout,
        )

"""``client.events``: one long-poll (``poll``) or an endless stream (``stream``)."""

from __future__ import annotations

from support_client import _constants as C
from support_client._base_client import AsyncRequester, SyncRequester, extend_read, validate
from support_client._streaming import AsyncEventStream, EventStream, TransportName, poll_page
from support_client.types.events import EventPage


class Events:
    def __init__(self, requester: SyncRequester) -> None:
        self._t = requester

    def poll(self, after: str | None = None, *, timeout: int = C.LONGPOLL_TIMEOUT) -> EventPage:
        """One long-poll: events after *after* (held up to *timeout* s), and the next cursor.

        Without *after*, answers at once with no events and the current cursor.
        """
        params: dict[str, object] = {"timeout": timeout}
        if after is not None:
            params["after"] = after
        wait = extend_read(self._t.options.timeout, timeout)
        data = self._t.request("GET", "events/", params=params, timeout=wait)
        return validate(EventPage, data)

    def stream(
        self,
        after: str | None = None,
        *,
        transport: TransportName = "auto",
        first_byte_timeout: float = C.STREAM_FIRST_BYTE_TIMEOUT,
    ) -> EventStream:
        """Every event after *after* (or from now on), forever; see :class:`EventStream`."""
        return EventStream(
            self._t.options,
            after=after,
            transport=transport,
            first_byte_timeout=first_byte_timeout,
        )


class AsyncEvents:
    def __init__(self, requester: AsyncRequester) -> None:
        self._t = requester

    async def poll(
        self, after: str | None = None, *, timeout: int = C.LONGPOLL_TIMEOUT
    ) -> EventPage:
        return await poll_page(self._t, after, timeout)

    def stream(
        self,
        after: str | None = None,
        *,
        transport: TransportName = "auto",
        first_byte_timeout: float = C.STREAM_FIRST_BYTE_TIMEOUT,
    ) -> AsyncEventStream:
        """``async for event in client.events.stream(after=cursor)``; see the module doc."""
        return AsyncEventStream(
            self._t,
            after=after,
            transport=transport,
            first_byte_timeout=first_byte_timeout,
        )

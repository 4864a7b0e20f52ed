"""The long-poll and the SSE stream served straight from ASGI, in front of Django's handler.

A long-poll is one request per event batch, so what a request costs before
the view runs is paid again for every event a poller receives. Through
Django's handler that is a thread made for the request (its
``request_started`` and ``request_finished`` signals), URL resolution, and a
thread hop for each middleware that has a ``process_request`` or a
``process_response`` (Django's own middleware runs its sync half in a thread
even under ASGI): py-spy put 45 % of a busy long-poll worker's time there.

With ``SUPPORT_DIRECT_STREAMS = True``, :class:`DirectStreams` answers
``GET <mount>events/`` and ``GET <mount>events/stream/`` itself: it builds
Django's own request object from the scope (the same query parsing, headers
and ``ALLOWED_HOSTS`` check), puts the session's user on it as Django's auth
middleware would (read as the WebSocket handshake reads it,
:func:`~support.realtime.routing.session_user`), and calls the same views.
What a client gets is the views' answer, unchanged, with one difference: **the project's middleware
does not run for these two paths**, so headers it would add (CORS, security
headers) are not there, and nothing it would do per request (logging,
metrics, a session's refresh, ``request_started`` receivers) happens; the
response's ``close()`` still sends ``request_finished``, as for any
response. That is why it is a setting.

Only a success is answered here. Anything else (a wrong credential, a bad
cursor, an expired one, the database down, any other method, a request with
a body, a ``Host`` the project does not serve) is handed to Django untouched,
which answers it exactly as it would have anyway, middleware, translations
and all: the direct path is never a second implementation of an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any, cast

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.core.handlers.asgi import ASGIRequest, get_script_prefix
from django.http import HttpResponseBase, StreamingHttpResponse
from django.urls import NoReverseMatch, Resolver404, resolve, reverse
from django.urls import get_script_prefix as url_prefix
from django.utils.functional import SimpleLazyObject

from support.conf import support_settings
from support.realtime.routing import session_user

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
View = Callable[..., Awaitable[HttpResponseBase]]

#: Request headers that make Django read a body: such a request goes to Django.
_BODY_HEADERS = (b"content-length", b"transfer-encoding")


class DirectStreams:
    """ASGI: the two stream paths answered without Django's request machinery; the rest to *app*."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._routes: tuple[object, dict[str, View]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> Any:
        view = self._view(scope) if scope["type"] == "http" else None
        if view is None:
            return await self.app(scope, receive, send)
        return await _Exchange(scope, receive, send, self.app).serve(view)

    def _view(self, scope: Scope) -> View | None:
        if scope["method"] != "GET" or not support_settings.DIRECT_STREAMS:
            return None
        if any(name.lower() in _BODY_HEADERS for name, _value in scope.get("headers", ())):
            return None
        return self.routes().get(scope["path"].removeprefix(get_script_prefix(scope)))

    def routes(self) -> dict[str, View]:
        """``path_info -> view`` of the served paths, from the project's URLconf.

        A path whose URL another view of the project shadows is left to Django.
        Worked out again when ``ROOT_URLCONF`` changes (tests do).
        """
        key = getattr(settings, "ROOT_URLCONF", None)
        if self._routes is None or self._routes[0] != key:
            self._routes = (key, _routes())
        return self._routes[1]


def _routes() -> dict[str, View]:
    from support.realtime import longpoll, sse

    views: dict[str, View] = {
        "support:events": longpoll.longpoll,
        "support:events-stream": sse.stream,
    }
    routes = {}
    prefix = url_prefix()
    for name, view in views.items():
        try:
            path_info = "/" + reverse(name).removeprefix(prefix)
            match = resolve(path_info)
        except (NoReverseMatch, Resolver404):
            continue
        if match.func is view:
            routes[path_info] = view
    return routes


class _Exchange:
    """One request on the direct path: the view's success sent here, anything else to Django."""

    def __init__(self, scope: Scope, receive: Receive, send: Send, django: Any) -> None:
        self.scope, self.receive, self.send, self.django = scope, receive, send, django
        self.received: list[dict[str, Any]] = []  # what the watch read, replayed for Django
        self.disconnected = False
        self.finished = False

    async def serve(self, view: View) -> Any:
        request = ASGIRequest(self.scope, io.BytesIO())
        try:
            request.get_host()  # ALLOWED_HOSTS, as CommonMiddleware checks it
        except DisallowedHost:
            return await self.to_django()
        # The session's user, as the auth middleware puts it: read only without a header.
        request.user = SimpleLazyObject(lambda: session_user(self.scope))  # type: ignore[assignment]
        task = asyncio.current_task()
        assert task is not None  # an ASGI application runs in a task
        watch = asyncio.get_running_loop().create_task(self._watch(task))
        try:
            response = await view(request)
            if response.status_code == 200:
                return await self._send_response(response)
            response.close()
        except asyncio.CancelledError:
            if not self.disconnected:
                raise
            task.uncancel()  # the client went away: nothing to answer
            return None
        finally:
            self.finished = True
            watch.cancel()
        return await self.to_django()

    async def to_django(self) -> Any:
        """Hand the request to Django as it came, with whatever the watch had read of it."""
        received = self.received

        async def receive() -> dict[str, Any]:
            return received.pop(0) if received else await self.receive()

        return await self.django(self.scope, receive, self.send)

    async def _watch(self, request_task: asyncio.Task[Any]) -> None:
        """Cancel the request's task when its client disconnects (as Django's handler does)."""
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                if not self.finished:
                    self.disconnected = True
                    request_task.cancel()
                return
            self.received.append(message)

    async def _send_response(self, response: HttpResponseBase) -> None:
        headers = [(k.encode("ascii"), v.encode("latin1")) for k, v in response.items()]
        for cookie in response.cookies.values():
            headers.append((b"set-cookie", cookie.output(header="").strip().encode("ascii")))
        try:
            if isinstance(response, StreamingHttpResponse):
                await self.send({"type": "http.response.start", "status": 200, "headers": headers})
                # Django's __aiter__ is an async generator: closed here, not by the GC.
                stream = cast("AsyncGenerator[bytes, None]", response.__aiter__())
                async with contextlib.aclosing(stream) as chunks:
                    async for chunk in chunks:
                        more = {"body": bytes(chunk), "more_body": True}
                        await self.send({"type": "http.response.body", **more})
                await self.send({"type": "http.response.body"})
            else:
                body = response.content  # type: ignore[attr-defined]  # HttpResponse
                headers.append((b"content-length", str(len(body)).encode()))
                await self.send({"type": "http.response.start", "status": 200, "headers": headers})
                await self.send({"type": "http.response.body", "body": body})
        finally:
            with contextlib.suppress(Exception):
                response.close()  # the response's closers: an SSE stream's watch

"""SDK options: where the WebSocket is (``websocket_path``), on both clients."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request
from websockets.sync.server import ServerConnection, serve

from support_client import AsyncSupportClient, SupportClient

EVENT = {"type": "ticket.resolved", "id": 16, "event_id": "support:45"}


@pytest.mark.parametrize("client_class", [SupportClient, AsyncSupportClient])
@pytest.mark.parametrize(
    ("base_url", "websocket_path", "websocket_url"),
    [
        ("http://test/support/", None, "ws://test/ws/support/"),
        ("https://example.org/support/", "/desk/ws/", "wss://example.org/desk/ws/"),
        ("https://example.org/support/", "desk/ws/", "wss://example.org/desk/ws/"),
        (
            "http://localhost:8000/a/b/",
            "/ws/support/manager/",
            "ws://localhost:8000/ws/support/manager/",
        ),
    ],
)
def test_websocket_path_is_an_option_with_the_servers_default(
    client_class: type[SupportClient] | type[AsyncSupportClient],
    base_url: str,
    websocket_path: str | None,
    websocket_url: str,
) -> None:
    client = client_class(base_url, api_key="k", websocket_path=websocket_path)
    assert client.options.websocket_url == websocket_url
    assert client.with_options(max_retries=0).options.websocket_url == websocket_url


@pytest.fixture
def websocket_server() -> Iterator[tuple[str, list[str]]]:
    """A WebSocket server, in threads of its own, that records each path and sends one event."""
    paths: list[str] = []

    def record(_connection: ServerConnection, request: Request) -> None:
        # During the handshake, so before the client sees it accepted: the handler's
        # thread may run only after the client has gone (and the test has looked).
        paths.append(request.path)

    def handler(connection: ServerConnection) -> None:
        # A client that only opens and closes may be gone before the event.
        with contextlib.suppress(ConnectionClosed):
            connection.send(json.dumps(EVENT))
            for _frame in connection:  # until the client goes
                pass

    with serve(handler, "127.0.0.1", 0, process_request=record) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{server.socket.getsockname()[1]}/support/", paths
        server.shutdown()
        thread.join(5)


async def test_the_async_client_connects_at_its_websocket_path(
    websocket_server: tuple[str, list[str]],
) -> None:
    base_url, paths = websocket_server
    async with AsyncSupportClient(base_url, token="t", websocket_path="/desk/ws/") as desk:
        async with desk.realtime(after="support:44"):
            pass
        stream = desk.events.stream(after="support:44", transport="websocket")
        assert (await anext(stream)).event_id == "support:45"
        await stream.aclose()
    assert [path.split("?")[0] for path in paths] == ["/desk/ws/", "/desk/ws/"]


def test_the_sync_client_connects_at_its_websocket_path(
    websocket_server: tuple[str, list[str]],
) -> None:
    base_url, paths = websocket_server
    with (
        SupportClient(base_url, api_key="k", websocket_path="bots/ws/") as bot,
        bot.events.stream(after="support:44", transport="websocket") as events,
    ):
        assert next(events).event_id == "support:45"
    assert [path.split("?")[0] for path in paths] == ["/bots/ws/"]

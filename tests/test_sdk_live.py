"""The SDK against real servers: every call, every model, and streams that survive.

Contract tests run each SDK call against the example project under daphne
and validate the real responses with the SDK's models. Stream tests kill the
server (SIGKILL) mid-stream, write while it is down, restart it, and expect
the iterator to resume with nothing lost and nothing repeated; and put a
misbehaving proxy in front to see ``transport="auto"`` step down.
"""

from __future__ import annotations

import asyncio
import io
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from support_client import (
    AsyncSupportClient,
    Attachment,
    AuthenticationError,
    ConflictError,
    MessageNew,
    MessagesViewed,
    NotFoundError,
    PermissionDeniedError,
    SupportClient,
    Ticket,
    TicketAssigned,
    TicketCreated,
    TicketResolved,
    UnsupportedMediaTypeError,
    Upload,
)
from support_client import _constants as C
from tests.harness.proxy import Proxy
from tests.harness.server import Credentials, LiveServer, running_server

pytestmark = pytest.mark.live

WRITE_WHILE_DOWN = """
from support import services
from support.actors import Actor
from support.models import BotKey
bot = Actor.for_bot(BotKey.objects.active().get(name="live-bot"))
for i in range(3):
    services.post_message(bot, {ticket}, text=f"while down {{i}}")
"""


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[tuple[LiveServer, Credentials]]:
    with running_server(tmp_path) as live:
        yield live


def test_every_sync_call_against_the_server(server):
    live, credentials = server
    with (
        SupportClient(live.api, api_key=credentials.bot_key) as bot,
        SupportClient(live.api, token=credentials.managers[0]) as desk,
        SupportClient(live.api, token=credentials.managers[1]) as other,
    ):
        start = desk.events.poll().cursor
        ticket = bot.tickets.create(user_id=555, title="Bug", text="It fails")
        assert isinstance(ticket, Ticket)
        assert ticket.user.telegram_id == 555
        assert ticket.last_message is not None
        assert ticket.last_message.text == "It fails"
        sent = bot.messages.send(ticket.id, "more details", idempotency_key="tg-5501")
        assert bot.messages.send(ticket.id, "retried", idempotency_key="tg-5501") == sent
        assert [t.id for t in bot.tickets.list(user_id=555, resolved=False)] == [ticket.id]
        assert ticket.id in [t.id for t in desk.tickets.list(manager_isnull=True)]
        assert [t.id for t in desk.tickets.list(search="555")] == [ticket.id]
        newest_first = [t.id for t in desk.tickets.list(ordering="-id")]
        assert (
            newest_first
            == sorted(newest_first, reverse=True)
            == [t.id for t in reversed(desk.tickets.list())]
        )
        assert ticket.id in [t.id for t in desk.tickets.list(ordering=None)]
        unread = desk.tickets.get(ticket.id)
        assert (unread.unread, unread.viewed) == (2, False)
        assigned = desk.tickets.assign(ticket.id)
        assert assigned.support_manager is not None
        assert assigned.support_manager.id == credentials.manager_ids[0]
        with pytest.raises(ConflictError) as conflict:
            other.tickets.assign(ticket.id)
        assert conflict.value.code == "already_assigned"
        reply = desk.messages.send(ticket.id, "On it")
        assert reply.sender == "supp"
        assert reply.author == credentials.manager_ids[0]
        assert [m.text for m in desk.messages.mark_viewed(ticket.id)] == [
            "It fails",
            "more details",
        ]
        assert [m.text for m in bot.messages.list(ticket.id, limit=2, offset=1)] == [
            "more details",
            "On it",
        ]
        oldest_first = [m.text for m in bot.messages.list(ticket.id)]
        assert oldest_first == ["It fails", "more details", "On it"]
        assert (
            [m.text for m in bot.messages.list(ticket.id, ordering="-created_at")]
            == [m.text for m in bot.messages.list(ticket.id, ordering=None)]
            == oldest_first[::-1]
        )
        assert desk.tickets.get(ticket.id).viewed is True
        assert desk.tickets.update(ticket.id, title="Renamed").title == "Renamed"
        assert desk.tickets.unassign(ticket.id).support_manager is None
        assert bot.tickets.resolve(ticket.id).resolved is True
        assert bot.tickets.reopen(ticket.id).resolved is False
        page = desk.events.poll(after=start, timeout=0)
        kinds = [type(e) for e in page.events]
        assert kinds[:4] == [TicketCreated, MessageNew, MessageNew, TicketAssigned]
        assert MessagesViewed in kinds
        assert TicketResolved in kinds
        assert page.cursor == page.events[-1].event_id
        with pytest.raises(NotFoundError):
            desk.tickets.get(10**9)
        with pytest.raises(PermissionDeniedError):
            desk.tickets.create(user_id=1, title="managers can't")
    with (
        SupportClient(live.api, token="nope", max_retries=0) as stranger,
        pytest.raises(AuthenticationError),
    ):
        stranger.tickets.list()


async def test_every_async_call_and_the_realtime_connection(server):
    live, credentials = server
    async with (
        AsyncSupportClient(live.api, api_key=credentials.bot_key) as bot,
        AsyncSupportClient(live.api, token=credentials.managers[2]) as desk,
    ):
        ticket = await bot.tickets.create(user_id=556, title="Async", text="hello")
        await bot.messages.send(ticket.id, "again")
        assert (await desk.tickets.get(ticket.id)).title == "Async"
        assert len(await desk.tickets.list(user_id=556)) == 1
        assert [m.text for m in await desk.messages.list(ticket.id)] == ["hello", "again"]
        async with desk.realtime() as conn:
            assert (await conn.assign(ticket.id)).support_manager is not None
            message = await conn.send_message(ticket.id, "On it")
            assert message.sender == "supp"
            assert (await conn.mark_viewed(ticket.id)).unread == 0
            assert (await conn.resolve(ticket.id)).resolved is True
            with pytest.raises(ConflictError) as refused:
                await conn.send_message(ticket.id, "too late")
            assert refused.value.code == "ticket_resolved"
            assert (await conn.reopen(ticket.id)).resolved is False
            assert (await conn.unassign(ticket.id)).support_manager is None
            with pytest.raises(NotFoundError):
                await conn.assign(10**9)
            events = [await conn.__anext__() for _ in range(4)]
            assert [e.type for e in events] == [
                "ticket.assigned",
                "ticket.message.new",
                "ticket.messages.viewed",
                "ticket.resolved",
            ]
            assert conn.cursor == events[-1].event_id
        await bot.tickets.resolve(ticket.id)
        page = await desk.events.poll(after=events[0].event_id, timeout=0)
        assert page.events[0].event_id == events[1].event_id
        opened = await bot.tickets.create(user_id=556, title="Once", idempotency_key="tg-556-1")
        again = await bot.tickets.create(user_id=556, title="Twice", idempotency_key="tg-556-1")
        assert (again.id, again.title) == (opened.id, "Once")


@pytest.mark.parametrize("transport", ["websocket", "sse", "longpoll"])
async def test_stream_survives_a_server_kill_without_loss_or_repeat(own_server, transport):
    live, credentials = own_server
    async with (
        AsyncSupportClient(live.api, api_key=credentials.bot_key) as bot,
        AsyncSupportClient(live.api, token=credentials.managers[0]) as desk,
    ):
        start = (await desk.events.poll()).cursor
        stream = desk.events.stream(after=start, transport=transport)
        received: list[str] = []

        async def follow(count: int) -> None:
            async for event in stream:
                received.append(event.event_id)
                if len(received) >= count:
                    return

        ticket = await bot.tickets.create(user_id=777, title="Resilience", text="one")
        await asyncio.wait_for(follow(2), 30)
        live.stop(signal.SIGKILL)  # mid-stream, no goodbye
        live.manage("shell", "-c", WRITE_WHILE_DOWN.format(ticket=ticket.id))
        live.start()
        for i in range(3):
            await bot.messages.send(ticket.id, f"after restart {i}")
        await asyncio.wait_for(follow(2 + 3 + 3), 60)
        await stream.aclose()
        logged = (await desk.events.poll(after=start, timeout=0)).events
    assert received == [event.event_id for event in logged]
    assert len(set(received)) == len(received) == 8
    assert stream.transport == transport


def test_sync_stream_survives_a_server_kill(own_server):
    live, credentials = own_server
    with (
        SupportClient(live.api, api_key=credentials.bot_key) as bot,
        SupportClient(live.api, token=credentials.managers[0]) as desk,
    ):
        start = desk.events.poll().cursor
        ticket = bot.tickets.create(user_id=778, title="Sync", text="one")
        with desk.events.stream(after=start) as stream:
            first = [next(stream).event_id for _ in range(2)]
            live.stop(signal.SIGKILL)
            live.manage("shell", "-c", WRITE_WHILE_DOWN.format(ticket=ticket.id))
            live.start()
            rest = [next(stream).event_id for _ in range(3)]
            cursor = stream.cursor
        logged = desk.events.poll(after=start, timeout=0).events
    assert first + rest == [event.event_id for event in logged]
    assert cursor == rest[-1]


@pytest.mark.parametrize(
    ("mode", "landed"), [("pass", "websocket"), ("refuse-upgrade", "sse"), ("buffer", "longpoll")]
)
async def stream_auto(
    bot_api: str, desk_api: str, credentials: Credentials, *, user_id: int, title: str,
    sends: int, first_byte_timeout: float, timeout: float,
) -> tuple[str | None, list[str], list[str]]:  # fmt: skip
    """A desk streams with ``transport="auto"`` through *desk_api* while the bot opens a
    ticket and posts *sends* messages: the transport it landed on, the event ids it
    received, and those of the log."""
    async with (
        AsyncSupportClient(bot_api, api_key=credentials.bot_key) as bot,
        AsyncSupportClient(desk_api, token=credentials.managers[0]) as desk,
    ):
        start = (await desk.events.poll()).cursor
        stream = desk.events.stream(
            after=start, transport="auto", first_byte_timeout=first_byte_timeout
        )
        ticket = await bot.tickets.create(user_id=user_id, title=title, text="one")
        received = []
        async with asyncio.timeout(timeout):
            async for event in stream:
                received.append(event.event_id)
                if len(received) == 2:
                    for i in range(sends):
                        await bot.messages.send(ticket.id, f"m{i}")
                if len(received) == 2 + sends:
                    break
        await stream.aclose()
        logged = (await desk.events.poll(after=start, timeout=0)).events
    return stream.transport, received, [event.event_id for event in logged]


@pytest.mark.parametrize(
    ("mode", "landed"), [("pass", "websocket"), ("refuse-upgrade", "sse"), ("buffer", "longpoll")]
)
async def test_auto_steps_down_behind_restrictive_proxies(own_server, mode, landed):
    live, credentials = own_server
    proxy = Proxy(live.port, mode).start()
    try:
        transport, received, logged = await stream_auto(
            live.api, f"{proxy.url}/support/", credentials,
            user_id=779, title="Proxy", sends=3, first_byte_timeout=1.5, timeout=60,
        )  # fmt: skip
        assert transport == landed
        assert received == logged
        if mode != "pass":
            assert proxy.refused_upgrades >= 1
    finally:
        proxy.stop()


async def test_auto_goes_back_to_websocket_once_the_proxy_carries_it(own_server, monkeypatch):
    monkeypatch.setattr(C, "STREAM_WEBSOCKET_RETRY", 1.0)
    live, credentials = own_server
    proxy = Proxy(live.port, "refuse-upgrade").start()
    try:
        async with (
            AsyncSupportClient(live.api, api_key=credentials.bot_key) as bot,
            AsyncSupportClient(f"{proxy.url}/support/", token=credentials.managers[0]) as desk,
        ):
            start = (await desk.events.poll()).cursor
            stream = desk.events.stream(after=start, transport="auto", first_byte_timeout=1.5)
            received: list[str] = []

            async def follow(count: int) -> None:
                async for event in stream:
                    received.append(event.event_id)
                    if len(received) == count:
                        return

            ticket = await bot.tickets.create(user_id=780, title="Back to WebSocket", text="one")
            await asyncio.wait_for(follow(2), 30)  # the ticket and its first message
            assert stream.transport == "sse"
            proxy.mode = "pass"  # the network carries WebSocket again
            following = asyncio.ensure_future(follow(5))
            await asyncio.sleep(2.5)  # the stream's retry comes due while it waits
            for i in range(3):
                await bot.messages.send(ticket.id, f"m{i}")
            await asyncio.wait_for(following, 30)
            assert str(stream.transport) == "websocket"  # (mypy narrowed it to "sse")
            await stream.aclose()
            logged = (await desk.events.poll(after=start, timeout=0)).events
        assert received == [event.event_id for event in logged]
    finally:
        proxy.stop()


def png_bytes(width: int = 64, height: int = 32) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 60)).save(out, format="PNG")
    return out.getvalue()


PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n" + b"% filler\n" * 2000 + b"%%EOF\n"


def test_files_up_and_back_down_byte_for_byte(server, tmp_path):
    live, credentials = server
    png = png_bytes()
    (tmp_path / "screen.png").write_bytes(png)
    with (
        SupportClient(live.api, api_key=credentials.bot_key) as bot,
        SupportClient(live.api, token=credentials.managers[0]) as desk,
    ):
        start = desk.events.poll().cursor
        ticket = bot.tickets.create(
            user_id=560, title="Screenshot", text="see", files=[tmp_path / "screen.png"],
            idempotency_key="tg-560-1",
        )  # fmt: skip
        assert ticket.last_message is not None
        (shot,) = ticket.last_message.attachments
        assert (shot.kind, shot.content_type, shot.size) == ("photo", "image/png", len(png))
        assert (shot.width, shot.height, shot.filename) == (64, 32, "screen.png")
        assert shot.thumbnail_url is not None

        # An attachment-only message; the same key again stores nothing and returns it.
        sent = bot.messages.send(
            ticket.id, files=[("счёт №1.pdf", PDF)], kinds=["document"], idempotency_key="tg-560-2"
        )
        again = bot.messages.send(ticket.id, files=[("other.pdf", PDF)], idempotency_key="tg-560-2")
        assert again.id == sent.id
        assert again.attachments == sent.attachments
        (invoice,) = sent.attachments
        assert (sent.text, invoice.kind, invoice.filename) == ("", "document", "счёт №1.pdf")
        assert invoice.content_type == "application/pdf"

        # Down again, to bytes, a path and a file, by the manager and by the bot.
        assert desk.attachments.read(shot) == png
        assert bot.attachments.download(invoice, to=tmp_path / "invoice.pdf") == len(PDF)
        assert (tmp_path / "invoice.pdf").read_bytes() == PDF
        out = io.BytesIO()
        desk.attachments.download(invoice, to=out)
        assert out.getvalue() == PDF
        assert desk.attachments.read(shot.thumbnail_url)[:4] == b"RIFF"  # a WebP

        # The event carries the same attachments; the message list too.
        page = desk.events.poll(after=start, timeout=0)
        news = [e for e in page.events if isinstance(e, MessageNew)]
        assert [e.message.attachments for e in news] == [[shot], [invoice]]
        assert [m.attachments for m in desk.messages.list(ticket.id)] == [[shot], [invoice]]

        with pytest.raises(UnsupportedMediaTypeError) as refused:
            bot.messages.send(ticket.id, "x", files=[("a.exe", b"MZ\x90\x00" * 64)])
        assert refused.value.code == "unsupported_type"
        with pytest.raises(NotFoundError):
            desk.attachments.read(shot.url.replace(f"/{shot.id}/", f"/{10**9}/"))


async def test_files_up_and_down_with_the_async_client(server, tmp_path):
    live, credentials = server
    png = png_bytes(20, 10)
    path = tmp_path / "shot.png"
    path.write_bytes(png)
    async with (
        AsyncSupportClient(live.api, api_key=credentials.bot_key) as bot,
        AsyncSupportClient(live.api, token=credentials.managers[1]) as desk,
    ):
        ticket = await bot.tickets.create(user_id=561, title="Async files", text="hi")
        with path.open("rb") as photo:
            message = await bot.messages.send(
                ticket.id, "two", files=[photo, Upload(PDF, "a.pdf")], kinds=["photo", "document"]
            )
        assert [a.kind for a in message.attachments] == ["photo", "document"]
        assert all(isinstance(a, Attachment) for a in message.attachments)
        first, second = message.attachments
        assert await desk.attachments.read(first) == png
        assert await desk.attachments.download(second, to=tmp_path / "a.pdf") == len(PDF)
        assert (tmp_path / "a.pdf").read_bytes() == PDF
        reply = await desk.messages.send(ticket.id, "here", files=[("reply.pdf", PDF)])
        assert reply.sender == "supp"
        assert await bot.attachments.read(reply.attachments[0]) == PDF

"""End to end against a real daphne process: a note reaches managers' streams, no bot's.

The in-process tests (tests/test_notes_privacy.py) read every output; this one
runs the three transports' own clients (tests/live_clients.py) over loopback,
live while the note is written and replayed from the cursor before it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.harness.server import Credentials, LiveServer, running_server
from tests.live_clients import TRANSPORTS, auth, current_cursor

pytestmark = pytest.mark.live

SECRET = "VIP: refund without asking"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, Credentials]]:
    with running_server(tmp_path_factory.mktemp("notes-live"), tickets=1) as live:
        yield live


async def note_then_public(server: LiveServer, credentials: Credentials) -> None:
    manager, bot = credentials.managers[0], credentials.bot_key
    async with httpx.AsyncClient(base_url=server.api, timeout=10) as http:
        response = await http.post("tickets/1/notes/", json={"text": SECRET}, headers=auth(manager))
        assert response.status_code == 201, response.text
        response = await http.post("tickets/1/notes/", json={"text": "x"}, headers=auth(bot))
        assert response.status_code == 403
        response = await http.post(
            "tickets/1/messages/", json={"text": "after the note"}, headers=auth(bot)
        )
        assert response.status_code == 201, response.text


def types(received: list[tuple[str, str]]) -> list[str]:
    return [json.loads(text)["type"] for _id, text in received]


async def test_live_and_replayed_on_every_transport(server: Any) -> None:
    live, credentials = server
    manager, bot = credentials.managers[0], credentials.bot_key
    start = current_cursor(live, manager)
    watchers = {
        (who, name): asyncio.create_task(
            TRANSPORTS[name](live, token, start, 1 if who == "bot" else 2, timeout=20)
        )
        for name in TRANSPORTS
        for who, token in (("bot", bot), ("manager", manager))
    }
    await asyncio.sleep(0.5)  # let them connect before the note
    await note_then_public(live, credentials)
    for (who, name), task in watchers.items():
        received = await task
        expected = (
            ["ticket.message.new"] if who == "bot" else ["ticket.note.new", "ticket.message.new"]
        )
        assert types(received) == expected, (who, name)
        assert (SECRET in json.dumps(received)) == (who == "manager"), (who, name)
    # Replayed from the cursor before the note: the same.
    for name in TRANSPORTS:
        replayed = await TRANSPORTS[name](live, bot, start, 1, timeout=20)
        assert types(replayed) == ["ticket.message.new"], name
        replayed = await TRANSPORTS[name](live, manager, start, 2, timeout=20)
        assert types(replayed) == ["ticket.note.new", "ticket.message.new"], name


async def test_the_sdk_writes_and_reads_notes_and_a_bots_stream_has_none(server: Any) -> None:
    from support_client import (
        AsyncSupportClient,
        MessageNew,
        Note,
        NoteNew,
        PermissionDeniedError,
    )

    live, credentials = server
    async with (
        AsyncSupportClient(live.api, api_key=credentials.bot_key) as bot,
        AsyncSupportClient(live.api, token=credentials.managers[0]) as desk,
    ):
        start = (await bot.events.poll()).cursor
        note = await desk.notes.create(1, "written with the SDK")
        assert isinstance(note, Note)
        assert note.author == credentials.manager_ids[0]
        assert (await desk.notes.list(1, ordering="-created_at"))[0] == note
        with pytest.raises(PermissionDeniedError):
            await bot.notes.list(1)
        with pytest.raises(PermissionDeniedError):
            await bot.notes.create(1, "a bot's")
        await bot.messages.send(1, "and then a message")
        page = await bot.events.poll(after=start, timeout=5)
        assert [type(e) for e in page.events] == [MessageNew]
        seen = (await desk.events.poll(after=start, timeout=5)).events
        assert [type(e) for e in seen] == [NoteNew, MessageNew]
        assert isinstance(seen[0], NoteNew)
        assert seen[0].note == note

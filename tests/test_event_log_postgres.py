"""On PostgreSQL: concurrent writers in separate processes, one reader following.

Eight processes post 200 messages each through the service layer while a
WebSocket and a long-poll client follow a live server. Each reader must see
every event exactly once, in cursor order: an event committed after a
reader moved past its id would be lost forever, which is exactly what
ordering the log by commit prevents.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.harness.postgres import require_postgres, running_postgres
from tests.harness.process import EXAMPLE
from tests.harness.server import LiveServer, server_env
from tests.live_clients import auth, current_cursor, longpoll_events, websocket_events

pytestmark = pytest.mark.live

WRITERS, PER_WRITER = 8, 200

WRITER = """
import os
from support import services
from support.actors import Actor
from support.models import BotKey
bot = Actor.for_bot(BotKey.objects.active().get(name="live-bot"))
ticket, writer = int(os.environ["TICKET"]), os.environ["WRITER"]
for i in range(int(os.environ["COUNT"])):
    services.post_message(bot, ticket, text=f"{writer}:{i}")
"""


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    require_postgres()
    with running_postgres() as url:
        yield url


def position(cursor: str) -> int:
    return int(cursor.rsplit(":", 1)[1])


async def test_concurrent_writers_reader_sees_each_event_once_in_order(
    postgres_url: str, tmp_path: Path
) -> None:
    env = server_env(tmp_path, DATABASE_URL=postgres_url)
    server = LiveServer(tmp_path, env)
    credentials = server.prepare()
    server.start()
    try:
        token = credentials.managers[0]
        async with httpx.AsyncClient(base_url=server.api, timeout=10) as http:
            tickets = []
            for n in range(WRITERS):
                response = await http.post(
                    "tickets/", json={"user_id": 9000 + n, "title": f"writer {n}"},
                    headers=auth(credentials.bot_key),
                )  # fmt: skip
                tickets.append(response.json()["id"])
        start = current_cursor(server, token)
        total = WRITERS * PER_WRITER
        readers = [
            asyncio.create_task(websocket_events(server.ws_url, token, start, total, timeout=180)),
            asyncio.create_task(longpoll_events(server.api, token, start, total, timeout=180)),
        ]
        await asyncio.sleep(0.5)

        def write_all() -> list[int]:
            writers = [
                subprocess.Popen(
                    [sys.executable, str(EXAMPLE / "manage.py"), "shell", "-c", WRITER],
                    env={**env, "TICKET": str(ticket), "WRITER": f"w{n}", "COUNT": str(PER_WRITER)},
                )
                for n, ticket in enumerate(tickets)
            ]
            return [writer.wait(180) for writer in writers]

        assert await asyncio.to_thread(write_all) == [0] * WRITERS
        followed, polled = await asyncio.gather(*readers)
    finally:
        server.stop()

    for received in (followed, polled):
        ids = [position(event_id) for event_id, _ in received]
        assert len(ids) == total
        assert ids == sorted(ids)
        assert len(set(ids)) == total
    assert [e for e, _ in followed] == [e for e, _ in polled]
    # Every writer's messages arrive, in the order that writer wrote them.
    texts = [text for _, text in followed]
    for n in range(WRITERS):
        mine = [t for t in texts if f'"text":"w{n}:' in t]
        assert [int(t.split(f'"text":"w{n}:')[1].split('"')[0]) for t in mine] == list(
            range(PER_WRITER)
        )

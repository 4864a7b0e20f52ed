"""The practical Python ceiling: a bare ``websockets`` broadcast server.

It does the same fan-out as the support app and nothing else: a "bot"
connects to ``/bot`` and sends ``{"ticket": id, "text": str}``; the server
builds a message event shaped like ours, serialises it once and
``broadcast()``s it to every other connection, then acks the bot. No
database, no authentication, no channel layer, no ASGI: what is left is the
cost of Python, asyncio and WebSocket framing, which is the floor under any
Python server that fans out the same payload.

Run: ``python -m benchmarks.purews --port 8765`` (on uvloop).
"""

from __future__ import annotations

import argparse
import itertools
import json
from datetime import UTC, datetime

import uvloop
from websockets.asyncio.server import ServerConnection, broadcast, serve

LISTENERS: set[ServerConnection] = set()
_ids = itertools.count(1)


def event_for(post: dict[str, object]) -> str:
    """A ``ticket.message.new`` event like the support app's, as JSON text."""
    number = next(_ids)
    return json.dumps(
        {
            "type": "ticket.message.new",
            "message": {
                "id": number,
                "created_at": datetime.now(UTC).isoformat(),
                "sender": "user",
                "text": post["text"],
                "viewed": False,
                "ticket": post["ticket"],
                "author": None,
            },
            "event_id": f"support:{number}",
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


async def handler(connection: ServerConnection) -> None:
    if connection.request is not None and connection.request.path == "/bot":
        async for frame in connection:
            post = json.loads(frame)
            broadcast(LISTENERS, event_for(post))
            await connection.send('{"ok":true}')
        return
    LISTENERS.add(connection)
    try:
        await connection.wait_closed()
    finally:
        LISTENERS.discard(connection)


async def main(port: int) -> None:
    async with serve(handler, "127.0.0.1", port, backlog=1024, compression=None) as server:
        await server.serve_forever()


def run() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    uvloop.run(main(parser.parse_args().port))


if __name__ == "__main__":
    run()

"""The practical Python ceiling for fan-out: ``python -m benchmarks.purews --port N``. A bot
on ``/bot`` sends ``{"ticket": id, "text": str}``; the server builds an event shaped like
ours, serialises it once, ``broadcast()``s it to every other connection and acks."""

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
    message = {"id": number, "created_at": datetime.now(UTC).isoformat(), "sender": "user",
               "text": post["text"], "viewed": False, "ticket": post["ticket"],
               "author": None}  # fmt: skip
    event = {"type": "ticket.message.new", "message": message, "event_id": f"support:{number}"}
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"))


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
    async with serve(handler, "127.0.0.1", port, backlog=2048, compression=None) as server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    uvloop.run(main(parser.parse_args().port))

"""Minimal clients of the three transports, for end-to-end tests.

Each returns the events it received as ``(event_id, json_text)`` pairs, in
order; they know nothing of the server beyond the documented protocol.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import websockets

Received = list[tuple[str, str]]


def auth(token: str) -> dict[str, str]:
    scheme = "Api-Key" if "." in token else "Token"
    return {"Authorization": f"{scheme} {token}"}


async def websocket_events(
    ws_url: str, token: str, after: str | None, count: int, timeout: float = 30
) -> Received:
    url = ws_url if after is None else f"{ws_url}?after={after}"
    out: Received = []
    async with websockets.connect(url, additional_headers=auth(token)) as ws:
        async with asyncio.timeout(timeout):
            while len(out) < count:
                text = await ws.recv()
                assert isinstance(text, str)
                frame = json.loads(text)
                if "event_id" in frame:
                    out.append((frame["event_id"], text))
    return out


async def sse_events(
    api: str, token: str, after: str | None, count: int, timeout: float = 30
) -> Received:
    params = {} if after is None else {"after": after}
    out: Received = []
    async with (
        httpx.AsyncClient(timeout=httpx.Timeout(timeout)) as client,
        client.stream("GET", f"{api}events/stream/", params=params, headers=auth(token)) as resp,
    ):
        assert resp.status_code == 200, await resp.aread()
        assert resp.headers["content-type"].startswith("text/event-stream")
        fields: dict[str, str] = {}
        async with asyncio.timeout(timeout):
            async for line in resp.aiter_lines():
                if line == "":
                    if "id" in fields and fields.get("event") not in (None, "keep-alive"):
                        out.append((fields["id"], fields["data"]))
                        if len(out) >= count:
                            break
                    fields = {}
                elif not line.startswith(":"):
                    name, _sep, value = line.partition(":")
                    fields[name] = value.removeprefix(" ")
    return out


async def longpoll_events(
    api: str, token: str, after: str | None, count: int, timeout: float = 30
) -> Received:
    out: Received = []
    async with httpx.AsyncClient(timeout=httpx.Timeout(timeout + 10)) as client:
        if after is None:
            after = (await client.get(f"{api}events/", headers=auth(token))).json()["cursor"]
        async with asyncio.timeout(timeout):
            while len(out) < count:
                response = await client.get(
                    f"{api}events/", params={"after": after, "timeout": 5}, headers=auth(token)
                )
                assert response.status_code == 200, response.text
                body: dict[str, Any] = response.json()
                out.extend(
                    (e["event_id"], json.dumps(e, ensure_ascii=False, separators=(",", ":")))
                    for e in body["events"]
                )
                after = body["cursor"]
    return out[:count]


TRANSPORTS = {
    "websocket": lambda server, token, after, count, **kw: websocket_events(
        server.ws_url, token, after, count, **kw
    ),
    "sse": lambda server, token, after, count, **kw: sse_events(
        server.api, token, after, count, **kw
    ),
    "longpoll": lambda server, token, after, count, **kw: longpoll_events(
        server.api, token, after, count, **kw
    ),
}


def current_cursor(server: Any, token: str) -> str:
    return str(httpx.get(f"{server.api}events/", headers=auth(token)).json()["cursor"])

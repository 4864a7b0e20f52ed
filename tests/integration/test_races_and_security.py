"""Concurrency and security on the production-like stack."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re

import httpx
import pytest
import websockets

from tests.integration.conftest import Stack
from tests.live_clients import auth

REVOKE = """
from support.services import revoke_bot_key
from support.models import BotKey
revoke_bot_key(BotKey.objects.get(prefix="{prefix}"))
"""
NEW_KEY = """
from support.botkeys import create_bot_key
print(create_bot_key("doomed-bot")[1])
"""


async def test_twenty_managers_take_one_ticket_and_exactly_one_wins(stack: Stack):
    async with httpx.AsyncClient(base_url=stack.nginx.api, timeout=30) as http:
        created = await http.post(
            "tickets/", json={"user_id": 5001, "title": "race", "text": "who takes it?"},
            headers=auth(stack.credentials.bot_key),
        )  # fmt: skip
        ticket = created.json()["id"]
        start = (await http.get("events/", headers=auth(stack.racers[0][1]))).json()["cursor"]
        answers = await asyncio.gather(
            *(http.post(f"tickets/{ticket}/assign/", headers=auth(key)) for _, key in stack.racers)
        )
        statuses = sorted(answer.status_code for answer in answers)
        assert statuses == [200] + [409] * 19
        assert {a.json()["code"] for a in answers if a.status_code == 409} == {"already_assigned"}
        winner = next(a.json() for a in answers if a.status_code == 200)["support_manager"]["id"]
        assert winner in [pk for pk, _ in stack.racers]
        final = (await http.get(f"tickets/{ticket}/", headers=auth(stack.racers[0][1]))).json()
        assert final["support_manager"]["id"] == winner
        page = (
            await http.get(
                "events/", params={"after": start, "timeout": 0}, headers=auth(stack.racers[0][1])
            )
        ).json()
        assigned = [
            e for e in page["events"] if e["type"] == "ticket.assigned" and e["id"] == ticket
        ]
        assert assigned == [
            {"type": "ticket.assigned", "id": ticket, "support_manager": winner,
             "event_id": assigned[0]["event_id"]}
        ]  # fmt: skip


async def test_csrf_is_enforced_on_session_writes(stack: Stack):
    async with httpx.AsyncClient(base_url=stack.nginx.base_url, timeout=30) as browser:
        await browser.get("/admin/login/")
        token = browser.cookies["csrftoken"]
        logged_in = await browser.post(
            "/admin/login/",
            data={"username": "m1", "password": "", "csrfmiddlewaretoken": token},
            headers={"Referer": f"{stack.nginx.base_url}/admin/login/"},
        )
        assert logged_in.status_code == 200  # m1 has no password: refused, form shown again
        # Managers sign in for real through the session: give m1 a password.
        stack.workers[0].manage(
            "shell", "-c",
            "from django.contrib.auth.models import User; u = User.objects.get(username='m1');"
            " u.set_password('pw-for-csrf'); u.is_staff = True; u.save()",
        )  # fmt: skip
        token = browser.cookies["csrftoken"]
        await browser.post(
            "/admin/login/?next=/admin/",
            data={"username": "m1", "password": "pw-for-csrf", "csrfmiddlewaretoken": token},
        )
        assert "sessionid" in browser.cookies
        tickets = (await browser.get("/support/tickets/")).json()
        assert isinstance(tickets, list)
        assert tickets
        ticket = tickets[-1]["id"]
        refused = await browser.post(f"/support/tickets/{ticket}/resolve/")
        assert refused.status_code == 403
        assert refused.json()["code"] == "permission_denied"
        assert "CSRF" in refused.json()["detail"]
        token = browser.cookies["csrftoken"]
        accepted = await browser.post(
            f"/support/tickets/{ticket}/resolve/",
            headers={"X-CSRFToken": token, "Origin": stack.nginx.base_url},
        )
        assert accepted.status_code in (200, 409), accepted.text


async def test_cross_origin_websocket_and_non_managers_are_refused(stack: Stack):
    with pytest.raises(websockets.InvalidStatus) as cross_origin:
        async with websockets.connect(
            stack.nginx.ws_url,
            additional_headers=auth(stack.credentials.managers[0]),
            origin="http://evil.example",  # type: ignore[arg-type]
        ):
            pass
    assert cross_origin.value.response.status_code == 403
    for path in ("events/?after=support:0&timeout=0", "events/stream/", "tickets/"):
        async with httpx.AsyncClient(base_url=stack.nginx.api, timeout=10) as http:
            response = await http.get(path, headers=auth(stack.credentials.non_manager))
        assert response.status_code == 403, path
    with pytest.raises(websockets.InvalidStatus):
        async with websockets.connect(
            stack.nginx.ws_url, additional_headers=auth(stack.credentials.non_manager)
        ):
            pass


async def test_a_revoked_key_stops_at_once_open_streams_included(stack: Stack):
    worker = stack.workers[0]
    raw = worker.manage("shell", "-c", NEW_KEY).strip().splitlines()[-1]
    prefix = raw.split(".")[0]
    async with httpx.AsyncClient(base_url=stack.nginx.api, timeout=60) as http:
        start = (await http.get("events/", headers=auth(raw))).json()["cursor"]
        ws = await websockets.connect(stack.nginx.ws_url, additional_headers=auth(raw))
        async with http.stream(
            "GET", "events/stream/", headers=auth(raw), params={"after": start}
        ) as sse:
            assert sse.status_code == 200
            poll = asyncio.ensure_future(
                http.get("events/", params={"after": start, "timeout": 30}, headers=auth(raw))
            )
            await asyncio.sleep(0.5)
            worker.manage("shell", "-c", REVOKE.format(prefix=prefix))

            async with asyncio.timeout(15):

                async def read_until_closed() -> None:
                    while True:
                        await ws.recv()

                with pytest.raises(websockets.ConnectionClosed) as closed:
                    await read_until_closed()
                assert closed.value.rcvd is not None
                assert closed.value.rcvd.code == 4401
                body = ""
                async for chunk in sse.aiter_text():
                    body += chunk
                assert "stream-error" in body
                answered = await poll
            assert answered.status_code == 401
        assert (await http.get("tickets/", headers=auth(raw))).status_code == 401

    # Neither the key nor its hash appears in any response or log of the stack.
    digest = hashlib.sha256(raw.encode()).hexdigest()
    secret = raw.split(".", 1)[1]
    logs = [worker.log for worker in stack.workers] + list(stack.workdir.glob("nginx-*/*.log"))
    for log in logs:
        text = log.read_text(errors="replace")
        assert digest not in text, log
        assert secret not in text, log
    async with httpx.AsyncClient(base_url=stack.nginx.api, timeout=10) as http:
        schema = (await http.get("schema/?format=json")).text
    assert "hashed_key" not in schema
    assert re.search(r"[0-9a-f]{64}", json.dumps(json.loads(schema))) is None

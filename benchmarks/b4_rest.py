"""B4: ``GET tickets/`` at 100 and at 10,000 tickets: median latency and query count.

The issue's targets are a page of 50 that costs the same at 10,000 tickets
as at 100 (independent of the table's size), and an unpaginated list of
10,000 within a second. So the database is first topped up to 100 tickets
and measured, then to 10,000 and measured again. Topping up uses
``bulk_create`` (tickets with two messages each, a third assigned, a fifth
resolved), which writes no events: this measures reads. Latency is timed
over HTTP against the running server (keep-alive connection, a warm-up
request first, then repeats until a per-URL time budget is spent, at least
one); the query count is taken in a separate ``manage.py shell`` with
Django's test client and ``CaptureQueriesContext``, because a server does
not report it.

The original package is measured the same way on its own (unpaginated)
``tickets/``; it has no ``?limit=``.
"""

from __future__ import annotations

import json
import time
from statistics import median
from typing import Any

from benchmarks.config import Sizes
from benchmarks.load import wait_idle
from benchmarks.recorder import percentile
from benchmarks.targets import Target
from benchmarks.wire import HttpConnection

#: Tops the database up to %(tickets)d; ours also marks who wrote and what was seen.
SEED = """
from django.contrib.auth import get_user_model
from my_users.models import MyTelegramUser
from support.models import Message, Ticket
need = %(tickets)d - Ticket.objects.count()
manager = get_user_model().objects.get(username="bench-manager")
MyTelegramUser.objects.bulk_create(
    [MyTelegramUser(telegram_id=9_000_000 + i) for i in range(500)], ignore_conflicts=True)
tickets = Ticket.objects.bulk_create([
    Ticket(user_id=9_000_000 + i %% 500, title=f"seeded ticket {i}",
           support_manager=manager if i %% 3 == 0 else None, resolved=i %% 5 == 0)
    for i in range(max(need, 0))], batch_size=1000)
Message.objects.bulk_create([
    Message(ticket=t, sender=sender, text=f"seeded {sender} message"%(fields)s)
    for t in tickets for sender in ("user", "supp")], batch_size=1000)
from django.db import connection
if connection.vendor == "postgresql":
    # What autovacuum does within a minute of a bulk load; measured at once,
    # stale statistics make the planner scan every message per listed ticket.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
print(Ticket.objects.count())
"""
OURS_FIELDS = ', viewed=sender == "supp", author=manager if sender == "supp" else None'

COUNT_QUERIES = """
import json
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
client = Client(HTTP_HOST="127.0.0.1", **%(headers)r)
out = {}
for url in %(urls)r:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    out[url] = {"status": response.status_code, "queries": len(queries.captured_queries)}
print(json.dumps(out))
"""


def _urls(target: Target, tickets: int, last_page: bool) -> list[tuple[str, int]]:
    """(URL, kind) pairs: the whole list (kind 0), and for us the first page of 50 (kind 1)
    and, if *last_page*, the last one."""
    base = f"{target.api}tickets/"
    if target.family != "ours":
        return [(base, 0)]
    urls = [(base, 0), (f"{base}?limit=50", 1)]
    if last_page:
        urls.append((f"{base}?limit=50&offset={max(0, tickets - 50)}", 1))
    return urls


async def run(target: Target, sizes: Sizes) -> list[dict[str, Any]]:
    """The list at ``b4_small_tickets``, then at ``b4_tickets``."""
    rows = await _at_size(target, sizes, sizes.b4_small_tickets, last_page=False)
    return rows + await _at_size(target, sizes, sizes.b4_tickets, last_page=True)


async def _at_size(
    target: Target, sizes: Sizes, size: int, last_page: bool
) -> list[dict[str, Any]]:
    assert target.manage is not None
    fields = OURS_FIELDS if target.family == "ours" else ""
    seed = SEED % {"tickets": size, "fields": fields}
    tickets = int(target.manage(seed).strip().splitlines()[-1])
    urls = _urls(target, tickets, last_page)
    if target.family == "ours":
        token = dict(target.listen_headers)["Authorization"]
        client_headers = {"HTTP_AUTHORIZATION": token}
    else:
        client_headers = {}
    queries = json.loads(
        target.manage(COUNT_QUERIES % {"headers": client_headers, "urls": [url for url, _ in urls]})
        .strip()
        .splitlines()[-1]
    )
    await wait_idle(target)
    connection = HttpConnection(target.port)
    headers = target.listen_headers if target.family == "ours" else []
    rows: list[dict[str, Any]] = []
    try:
        for url, kind in urls:
            repeats = sizes.b4_full_repeats if kind == 0 else sizes.b4_page_repeats
            warm = await connection.request("GET", url, headers)
            times: list[float] = []
            started = time.perf_counter()
            while len(times) < repeats and (
                not times or time.perf_counter() - started < sizes.b4_url_budget
            ):
                start = time.perf_counter()
                response = await connection.request("GET", url, headers)
                times.append(time.perf_counter() - start)
            ordered = sorted(times)
            rows.append(
                {
                    "target": target.key,
                    "url": url,
                    "paginated": kind == 1,
                    "tickets": tickets,
                    "status": response.status,
                    "bytes": len(warm.body),
                    "repeats": len(times),
                    "median_ms": median(times) * 1000,
                    "p95_ms": percentile(ordered, 95) * 1000,
                    "queries": queries[url]["queries"],
                    "queries_status": queries[url]["status"],
                }
            )
    finally:
        connection.close()
    return rows

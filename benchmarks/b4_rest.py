"""B4: ``GET tickets/`` at 100 and 10,000 tickets (topped up by ``bulk_create``, analysed on
PostgreSQL as autovacuum would): median latency over one keep-alive connection, and the
query count from Django's test client."""

import json
import time
from statistics import median
from typing import Any

from benchmarks.client import HttpConnection, percentile, wait_idle
from benchmarks.config import Sizes
from benchmarks.targets import Target

SEED = """
from django.contrib.auth import get_user_model
from django.db import connection
from my_users.models import MyTelegramUser
from support.models import Message, Ticket
need = %d - Ticket.objects.count()
manager = get_user_model().objects.get(username="bench-manager")
MyTelegramUser.objects.bulk_create(
    [MyTelegramUser(telegram_id=9_000_000 + i) for i in range(500)], ignore_conflicts=True)
tickets = Ticket.objects.bulk_create([
    Ticket(user_id=9_000_000 + i %% 500, title=f"seeded ticket {i}",
           support_manager=manager if i %% 3 == 0 else None, resolved=i %% 5 == 0)
    for i in range(max(need, 0))], batch_size=1000)
Message.objects.bulk_create([
    Message(ticket=t, sender=sender, text=f"seeded {sender} message", viewed=sender == "supp",
            author=manager if sender == "supp" else None)
    for t in tickets for sender in ("user", "supp")], batch_size=1000)
if connection.vendor == "postgresql":
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
print(Ticket.objects.count())
"""
COUNT_QUERIES = """
import json
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=%r)
out = {}
for url in %r:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    out[url] = {"status": response.status_code, "queries": len(queries.captured_queries)}
print(json.dumps(out))
"""


async def run(target: Target, sizes: Sizes) -> list[dict[str, Any]]:
    """The list at ``b4_small_tickets``, then at ``b4_tickets`` (with the last page too)."""
    rows = await _at_size(target, sizes, sizes.b4_small_tickets, last_page=False)
    return rows + await _at_size(target, sizes, sizes.b4_tickets, last_page=True)


async def _at_size(
    target: Target, sizes: Sizes, size: int, last_page: bool
) -> list[dict[str, Any]]:
    assert target.manage is not None
    tickets = int(target.manage(SEED % size).strip().splitlines()[-1])
    base = f"{target.api}tickets/"
    urls = [(base, False), (f"{base}?limit=50", True)]  # (URL, paginated)
    if last_page:
        urls.append((f"{base}?limit=50&offset={max(0, tickets - 50)}", True))
    headers = target.listen_headers
    script = COUNT_QUERIES % (dict(headers)["Authorization"], [url for url, _ in urls])
    queries = json.loads(target.manage(script).strip().splitlines()[-1])
    await wait_idle(target)
    connection = HttpConnection(target.port)
    rows: list[dict[str, Any]] = []
    try:
        for url, paginated in urls:
            repeats = sizes.b4_page_repeats if paginated else sizes.b4_full_repeats
            _status, warm = await connection.request("GET", url, headers)
            times: list[float] = []
            started = time.perf_counter()
            while len(times) < repeats and (
                not times or time.perf_counter() - started < sizes.b4_url_budget
            ):
                start = time.perf_counter()
                status, _body = await connection.request("GET", url, headers)
                times.append(time.perf_counter() - start)
            rows.append({"target": target.key, "url": url, "paginated": paginated,
                         "tickets": tickets, "status": status, "bytes": len(warm),
                         "repeats": len(times), "median_ms": median(times) * 1000,
                         "p95_ms": percentile(sorted(times), 95) * 1000,
                         "queries": queries[url]["queries"],
                         "queries_status": queries[url]["status"]})  # fmt: skip
    finally:
        connection.close()
    return rows

"""Query budgets of the hot endpoints, so they cannot grow back unnoticed.

Each number is what the endpoint costs, whatever the size of the tables: a
bot's post, a page of the ticket list (the same at 3 tickets and at 60),
and a long-poll that finds nothing new. Long-poll runs its reads in a
thread pool (:mod:`support.db`), so queries are counted on every connection, in every thread.
A credential's first request also looks it up (and a manager's permissions);
the worker then remembers it (:mod:`support.credentials`), so the budgets
are those of the requests after the first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connection, connections
from django.db.backends.signals import connection_created

from support import services
from support.actors import Actor
from support.db import close_pooled_connections
from tests.test_realtime_http import Client
from tests.test_realtime_websocket import setup_world
from tests.zz_users.models import MyTelegramUser


class QueryCounter:
    """Counts the queries of every database connection, whichever thread runs it."""

    def __init__(self) -> None:
        self.sql: list[str] = []

    def __call__(self, execute: Callable[..., Any], sql: str, *args: Any) -> Any:
        self.sql.append(sql)
        return execute(sql, *args)

    def watch(self, connection: Any) -> None:
        if self not in connection.execute_wrappers:
            connection.execute_wrappers.append(self)


@pytest.fixture
def counter() -> Iterator[QueryCounter]:
    counter = QueryCounter()

    def on_connect(sender: Any, connection: Any, **kwargs: Any) -> None:
        counter.watch(connection)

    connection_created.connect(on_connect)
    close_pooled_connections()  # support.db's threads keep theirs: watch fresh ones
    counter.watch(connections["default"])
    try:
        yield counter
    finally:
        connection_created.disconnect(on_connect)
        for connection in connections.all(initialized_only=True):
            if counter in connection.execute_wrappers:
                connection.execute_wrappers.remove(counter)


def open_tickets(bot_actor: Actor, count: int) -> list[int]:
    ids = []
    for number in range(count):
        MyTelegramUser.objects.get_or_create(telegram_id=500 + number)
        ticket = services.open_ticket(
            bot_actor, user_id=500 + number, title=f"t{number}", text="hello"
        )
        ids.append(ticket.pk)
    return ids


def counted(counter: QueryCounter, call: Callable[[], Any]) -> int:
    counter.sql.clear()
    response = call()
    assert response.status_code < 300, response.content
    return len(counter.sql)


@pytest.mark.django_db
def test_a_bots_post(bot_client, bot_actor, counter):
    [ticket] = open_tickets(bot_actor, 1)
    url = f"/support/tickets/{ticket}/messages/"
    post = lambda: bot_client.post(url, {"text": "hi"}, format="json")  # noqa: E731
    # savepoint; ticket (locked); message; the log state (the commit-order
    # lock, where the database has row locks); event; release.
    locks = connection.features.has_select_for_update
    assert counted(counter, post) == 6 + locks  # and first, the key's lookup
    assert counted(counter, post) == 5 + locks


@pytest.mark.django_db
def test_a_bots_post_with_the_users_profile(bot_client, bot_actor, counter):
    [ticket] = open_tickets(bot_actor, 1)
    url = f"/support/tickets/{ticket}/messages/"
    profile = {"first_name": "Ann", "username": "ann", "language_code": "en"}
    post = lambda: bot_client.post(url, {"text": "hi", "profile": profile}, format="json")  # noqa: E731
    locks = connection.features.has_select_for_update
    counted(counter, post)  # the key's lookup; the profile changes (its update, user.updated)
    # A profile as stored costs one query: the user's row, read (locked) and left alone.
    assert counted(counter, post) == 6 + locks


@pytest.mark.django_db
@pytest.mark.parametrize("tickets", [3, 60])
def test_a_page_of_the_list(manager_client, bot_actor, counter, tickets):
    open_tickets(bot_actor, tickets)
    page = lambda: manager_client.get("/support/tickets/?limit=50")  # noqa: E731
    assert counted(counter, page) == 7  # token and user, the permissions (2), then:
    # the count; the page with its unread counts; its last messages (one
    # windowed query); their attachments.
    assert counted(counter, page) == 4


@pytest.mark.django_db
def test_a_page_of_rated_tickets_of_blocked_users_costs_the_same(
    manager_client, manager_actor, bot_actor, counter
):
    """Ratings are joined into the page's query, blocks read with the profile: no query more."""
    from support import blocking, ratings

    ids = open_tickets(bot_actor, 5)
    for number, ticket_id in enumerate(ids[:3]):
        services.resolve(bot_actor, ticket_id)
        ratings.rate(bot_actor, ticket_id, score=number + 1)
    blocking.block(manager_actor, 500, reason="spam")
    page = lambda: manager_client.get("/support/tickets/?limit=50")  # noqa: E731
    counted(counter, page)  # the credential's first lookups
    assert counted(counter, page) == 4
    listed = manager_client.get("/support/tickets/?limit=50").json()
    assert sorted(t["rating"]["score"] for t in listed if t["rating"]) == [1, 2, 3]
    assert [t["user"]["blocked"] for t in listed].count(True) == 1


@pytest.mark.django_db(transaction=True)
async def test_a_long_poll_that_finds_nothing(stop_hub, counter, settings):
    settings.SUPPORT_HUB_POLL_INTERVAL = 60  # the hub's own reads are not the request's
    world = await setup_world()
    client = Client(f"Api-Key {world['bot_key']}")
    url = f"/support/events/?after=support:{world['cursor']}&timeout=1"
    await client.get(url)  # the hub starts once per process; not this request's cost
    counter.sql.clear()
    response = await client.get(url)
    assert response.json()["events"] == []
    # None: the cursor is where the worker's hub is, so every later event will
    # be pushed to the poll's subscription; the log has nothing to read (it was
    # four queries, the log and its head before and again after subscribing).
    assert counter.sql == []

"""The SDK against a real server, a conversation's life (issue 23): the idempotency-key
filter, a user's edit through the bot and a manager's edit and delete with their
history, ratings (once, then the comment), the users endpoint with block and unblock,
stats; every answer validated by the SDK's models, the events typed."""

from __future__ import annotations

import pytest

from support_client import (
    AsyncSupportClient,
    ConflictError,
    MessageDeleted,
    MessageEdited,
    NotFoundError,
    PermissionDeniedError,
    Rating,
    Stats,
    SupportClient,
    TicketRated,
    UserBlocked,
    UserBlockedError,
    UserRecord,
    UserUnblocked,
)
from tests.harness.server import Credentials, LiveServer

pytestmark = pytest.mark.live


def test_edits_deletes_and_the_key_filter(server: tuple[LiveServer, Credentials]) -> None:
    live, credentials = server
    with (
        SupportClient(live.api, api_key=credentials.bot_key) as bot,
        SupportClient(live.api, token=credentials.managers[0]) as desk,
    ):
        start = desk.events.poll().cursor
        ticket = bot.tickets.create(
            user_id=7001, title="Edits", text="helo", idempotency_key="tg-7001-1"
        )
        [first] = bot.messages.list(ticket.id, idempotency_key="tg-7001-1")
        assert first.text == "helo"
        assert first.edited_at is None
        assert bot.messages.list(ticket.id, idempotency_key="tg-7001-2") == []

        edited = bot.messages.edit(ticket.id, first.id, text="hello")
        assert edited.text == "hello"
        assert edited.edited_at is not None
        assert bot.messages.edit(ticket.id, first.id, text="hello") == edited  # no change
        [history] = desk.messages.edits(ticket.id, first.id)
        assert (history.text, history.editor) == ("helo", None)

        answer = desk.messages.send(ticket.id, "On it, Ann")
        fixed = desk.messages.edit(ticket.id, answer.id, text="On it, Anna")
        assert fixed.edited_at is not None
        with pytest.raises(PermissionDeniedError):
            bot.messages.edit(ticket.id, answer.id, text="not the bot's")
        with pytest.raises(PermissionDeniedError):
            bot.messages.delete(ticket.id, answer.id)
        assert desk.messages.delete(ticket.id, answer.id) is None
        with pytest.raises(NotFoundError):
            desk.messages.delete(ticket.id, answer.id)
        assert [m.id for m in bot.messages.list(ticket.id)] == [first.id]

        events = bot.events.poll(start, timeout=0).events
        edits = [e for e in events if isinstance(e, MessageEdited)]
        assert [e.message.text for e in edits] == ["hello", "On it, Anna"]
        [deleted] = [e for e in events if isinstance(e, MessageDeleted)]
        assert (deleted.ticket, deleted.id) == (ticket.id, answer.id)


def test_ratings_once_then_the_comment(server: tuple[LiveServer, Credentials]) -> None:
    live, credentials = server
    with (
        SupportClient(live.api, api_key=credentials.bot_key) as bot,
        SupportClient(live.api, token=credentials.managers[0]) as desk,
    ):
        ticket = bot.tickets.create(user_id=7002, title="Rate me", text="hi")
        with pytest.raises(ConflictError) as still_open:
            bot.tickets.rate(ticket.id, score=5)
        assert still_open.value.code == "ticket_not_resolved"
        start = desk.events.poll().cursor
        desk.tickets.resolve(ticket.id)

        rated = bot.tickets.rate(ticket.id, score=4)
        assert isinstance(rated, Rating)
        assert (rated.score, rated.comment) == (4, "")
        assert bot.tickets.rate(ticket.id, score=1) == rated  # a second press changes nothing
        commented = bot.tickets.comment_rating(ticket.id, "fast")
        assert (commented.score, commented.comment) == (4, "fast")
        assert bot.tickets.comment_rating(ticket.id, "again") == commented

        shown = desk.tickets.get(ticket.id)
        assert shown.rating == commented
        assert shown.resolved_at is not None
        rated_events = [
            e for e in desk.events.poll(start, timeout=0).events if isinstance(e, TicketRated)
        ]
        assert [e.rating.comment for e in rated_events] == ["", "fast"]
        unrated = bot.tickets.create(user_id=7002, title="Unrated", text="x")
        assert unrated.previous == ticket.id
        with pytest.raises(NotFoundError):
            bot.tickets.comment_rating(unrated.id, "no rating yet")


async def test_users_block_unblock_and_stats(server: tuple[LiveServer, Credentials]) -> None:
    live, credentials = server
    async with (
        AsyncSupportClient(live.api, api_key=credentials.bot_key) as bot,
        AsyncSupportClient(live.api, token=credentials.managers[0]) as desk,
    ):
        ticket = await bot.tickets.create(user_id=7003, title="Spam", text="buy now")
        start = (await bot.events.poll()).cursor
        record = await desk.users.block(7003, reason="spam")
        assert isinstance(record, UserRecord)
        assert record.blocked
        assert record.block is not None
        assert record.block.reason == "spam"
        assert [t.id for t in record.tickets] == [ticket.id]
        assert record.tickets[0].resolved  # the block resolved it
        assert (await desk.users.block(7003, reason="other")).block.reason == "spam"  # type: ignore[union-attr]

        with pytest.raises(UserBlockedError):
            await bot.tickets.create(user_id=7003, title="again", text="x")
        with pytest.raises(UserBlockedError):
            await bot.messages.send(ticket.id, "x")
        with pytest.raises(PermissionDeniedError):
            await bot.users.block(7003, reason="bots may not")

        unblocked = await desk.users.unblock(7003)
        assert not unblocked.blocked
        reopened = await bot.tickets.create(user_id=7003, title="sorry", text="hello")
        assert not reopened.user.blocked
        with pytest.raises(NotFoundError):
            await desk.users.get(7999)

        events = (await bot.events.poll(start, timeout=0)).events
        kinds = [type(e) for e in events if isinstance(e, UserBlocked | UserUnblocked)]
        assert kinds == [UserBlocked, UserUnblocked]

        for days in (7, 30):
            stats = await desk.stats.get(days=days)
            assert isinstance(stats, Stats)
            assert len(stats.per_day) == days
            assert sum(day.opened for day in stats.per_day) >= 2
        with pytest.raises(PermissionDeniedError):
            await bot.stats.get()

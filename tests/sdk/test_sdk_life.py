"""A conversation's life in the SDK (issue 23), both clients: users (get, block, unblock),
message edits, deletes and their history, the idempotency-key filter, ratings, stats;
the new fields, the new events, ``UserBlockedError``; and that an older payload (no new
fields) and an event type this SDK does not know still parse."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
import respx

from support_client import (
    ConflictError,
    MessageDeleted,
    MessageEdit,
    MessageEdited,
    NotFoundError,
    PermissionDeniedError,
    Rating,
    Stats,
    TelegramUser,
    Ticket,
    TicketRated,
    TicketResolved,
    UnknownEvent,
    UserBlocked,
    UserBlockedError,
    UserRecord,
    UserUnblocked,
)
from support_client.types import parse_event
from tests.sdk.common import MESSAGE, TICKET, USER_MESSAGE, Api, body_of, last_request, query_of

RATING = {"score": 4, "comment": "", "created_at": "2026-12-06T20:00:00Z"}
BLOCKED_USER = {"telegram_id": 123, "first_name": "Ann", "blocked": True}
RECORD = {
    "user": BLOCKED_USER,
    "block": {"reason": "spam", "blocked_by": 1, "blocked_at": "2026-12-06T19:00:00Z"},
    "tickets": [
        {"id": 17, "title": "again", "resolved": True, "created_at": "2026-12-06T18:00:00Z"},
        {"id": 16, "title": "bug", "resolved": True, "created_at": "2026-12-01T18:00:00Z"},
    ],
}
STATS = {
    "days": 7,
    "since": "2026-11-30",
    "until": "2026-12-06",
    "per_day": [
        {"date": f"2026-{'11-30' if i == 0 else f'12-0{i}'}", "opened": i, "resolved": 0}
        for i in range(7)
    ],
    "first_reply_median_seconds": 312.0,
    "resolution_median_seconds": None,
    "ratings": {"count": 4, "average": 4.25, "by_score": {"1": 0, "2": 0, "3": 1, "4": 1, "5": 2}},
    "managers": [
        {
            "id": 3,
            "username": "anna",
            "name": "Anna K",
            "replies": 12,
            "resolved": 5,
            "first_reply_median_seconds": 200.0,
            "rating_average": 4.5,
            "ratings": 2,
        }
    ],
}
EDITED = {**USER_MESSAGE, "text": "thanks!", "edited_at": "2026-12-06T21:00:00Z"}
BLOCKED = {"code": "user_blocked", "detail": "This user is blocked."}


# -- resources: what each sends, what it returns -----------------------------------------

#: (name, HTTP method, path, the call, the JSON body sent (None: none), the answer, its type)
CALLS: list[tuple[str, str, str, Callable[[Any], Any], Any, Any, type | None]] = [
    ("users.get", "GET", "users/123/", lambda c: c.users.get(123), None, RECORD, UserRecord),
    ("users.block", "POST", "users/123/block/", lambda c: c.users.block(123, reason="spam"),
     {"reason": "spam"}, RECORD, UserRecord),
    ("users.unblock", "POST", "users/123/unblock/", lambda c: c.users.unblock(123), {},
     {**RECORD, "block": None, "user": {**BLOCKED_USER, "blocked": False}}, UserRecord),
    ("messages.edit", "PATCH", "tickets/16/messages/32/",
     lambda c: c.messages.edit(16, 32, text="thanks!"), {"text": "thanks!"}, EDITED, None),
    ("messages.delete", "DELETE", "tickets/16/messages/31/",
     lambda c: c.messages.delete(16, 31), None, None, None),
    ("messages.edits", "GET", "tickets/16/messages/32/edits/",
     lambda c: c.messages.edits(16, 32), None,
     [{"text": "thanks", "edited_at": "2026-12-06T21:00:00Z", "editor": None}], list),
    ("tickets.rate", "POST", "tickets/16/rating/", lambda c: c.tickets.rate(16, score=4),
     {"score": 4}, RATING, Rating),
    ("tickets.rate+comment", "POST", "tickets/16/rating/",
     lambda c: c.tickets.rate(16, score=5, comment="fast"), {"score": 5, "comment": "fast"},
     {**RATING, "score": 5, "comment": "fast"}, Rating),
    ("tickets.comment_rating", "PATCH", "tickets/16/rating/",
     lambda c: c.tickets.comment_rating(16, "fast"), {"comment": "fast"},
     {**RATING, "comment": "fast"}, Rating),
    ("stats.get", "GET", "stats/", lambda c: c.stats.get(), None, STATS, Stats),
]  # fmt: skip


@pytest.mark.parametrize(
    ("method", "path", "call", "sent", "answer", "result"),
    [c[1:] for c in CALLS],
    ids=[c[0] for c in CALLS],
)
async def test_each_call_sends_its_request_and_reads_its_answer(
    api: Api,
    mock: respx.MockRouter,
    method: str,
    path: str,
    call: Callable[[Any], Any],
    sent: Any,
    answer: Any,
    result: type | None,
) -> None:
    status = 204 if answer is None else 200
    route = mock.request(method, path).respond(status, json=answer)
    got = await api.run(call)
    request = last_request(route)
    if sent is None:
        assert request.content == b""
    else:
        assert body_of(request) == sent
    if answer is None:
        assert got is None
    elif result is list:
        assert [item.model_dump(mode="json") for item in got] == answer
    elif result is not None:
        assert isinstance(got, result)


async def test_the_user_record(api: Api, mock: respx.MockRouter) -> None:
    mock.get("users/123/").respond(json=RECORD)
    record: UserRecord = await api.run(lambda c: c.users.get(123))
    assert record.blocked
    assert record.user.blocked
    assert record.block is not None
    assert record.block.reason == "spam"
    assert record.block.blocked_at == dt.datetime(2026, 12, 6, 19, tzinfo=dt.UTC)
    assert [t.id for t in record.tickets] == [17, 16]


async def test_stats_days_and_their_shape(api: Api, mock: respx.MockRouter) -> None:
    route = mock.get("stats/").respond(json={**STATS, "days": 30})
    stats: Stats = await api.run(lambda c: c.stats.get(days=30))
    assert query_of(last_request(route)) == {"days": "30"}
    assert stats.since == dt.date(2026, 11, 30)
    assert [day.opened for day in stats.per_day] == list(range(7))
    assert stats.ratings.by_score["5"] == 2
    assert stats.ratings.average == 4.25
    assert stats.resolution_median_seconds is None
    [anna] = stats.managers
    assert (anna.username, anna.replies, anna.rating_average) == ("anna", 12, 4.5)
    await api.run(lambda c: c.stats.get())
    assert query_of(last_request(route)) == {"days": "7"}


async def test_list_by_idempotency_key(api: Api, mock: respx.MockRouter) -> None:
    route = mock.get("tickets/16/messages/").respond(json=[USER_MESSAGE])
    [found] = await api.run(lambda c: c.messages.list(16, idempotency_key="tg-123-7"))
    assert found.id == 32
    assert query_of(last_request(route)) == {
        "ordering": "created_at",
        "idempotency_key": "tg-123-7",
    }
    await api.run(lambda c: c.messages.list(16))
    assert "idempotency_key" not in query_of(last_request(route))


async def test_the_edit_history(api: Api, mock: respx.MockRouter) -> None:
    mock.get("tickets/16/messages/31/edits/").respond(
        json=[
            {"text": "helo", "edited_at": "2026-12-06T21:00:00Z", "editor": 1},
            {"text": "hello", "edited_at": "2026-12-06T21:01:00Z", "editor": 1},
        ]
    )
    edits = await api.run(lambda c: c.messages.edits(16, 31))
    assert all(isinstance(edit, MessageEdit) for edit in edits)
    assert [edit.text for edit in edits] == ["helo", "hello"]


# -- refusals -------------------------------------------------------------------------------

#: (name, method, path, status, body, the call, the class raised)
REFUSALS: list[tuple[str, str, str, int, dict[str, Any], Callable[[Any], Any], type]] = [
    ("post-blocked", "POST", "tickets/16/messages/", 403, BLOCKED,
     lambda c: c.messages.send(16, "hi"), UserBlockedError),
    ("open-blocked", "POST", "tickets/", 403, BLOCKED,
     lambda c: c.tickets.create(user_id=123, title="t", idempotency_key="k"), UserBlockedError),
    ("edit-blocked", "PATCH", "tickets/16/messages/32/", 403, BLOCKED,
     lambda c: c.messages.edit(16, 32, text="x"), UserBlockedError),
    ("rate-blocked", "POST", "tickets/16/rating/", 403, BLOCKED,
     lambda c: c.tickets.rate(16, score=5), UserBlockedError),
    ("edit-others", "PATCH", "tickets/16/messages/31/", 403,
     {"code": "permission_denied", "detail": "Not yours."},
     lambda c: c.messages.edit(16, 31, text="x"), PermissionDeniedError),
    ("edit-late", "PATCH", "tickets/16/messages/31/", 409,
     {"code": "edit_window_closed", "detail": "Too late."},
     lambda c: c.messages.edit(16, 31, text="x"), ConflictError),
    ("delete-late", "DELETE", "tickets/16/messages/31/", 409,
     {"code": "edit_window_closed", "detail": "Too late."},
     lambda c: c.messages.delete(16, 31), ConflictError),
    ("rate-open", "POST", "tickets/16/rating/", 409,
     {"code": "ticket_not_resolved", "detail": "Not resolved."},
     lambda c: c.tickets.rate(16, score=5), ConflictError),
    ("comment-unrated", "PATCH", "tickets/16/rating/", 404,
     {"code": "not_found", "detail": "No rating."},
     lambda c: c.tickets.comment_rating(16, "x"), NotFoundError),
    ("user-unknown", "GET", "users/999/", 404, {"code": "not_found", "detail": "Not found."},
     lambda c: c.users.get(999), NotFoundError),
]  # fmt: skip


@pytest.mark.parametrize(
    ("method", "path", "status", "body", "call", "raised"),
    [r[1:] for r in REFUSALS],
    ids=[r[0] for r in REFUSALS],
)
async def test_refusals_raise_their_class_with_the_code(
    api: Api,
    mock: respx.MockRouter,
    method: str,
    path: str,
    status: int,
    body: dict[str, Any],
    call: Callable[[Any], Any],
    raised: type,
) -> None:
    route = mock.request(method, path).respond(status, json=body)
    with pytest.raises(raised) as caught:
        await api.run(call)
    assert getattr(caught.value, "code", None) == body["code"]
    assert route.call_count == 1  # a refusal is never retried


def test_user_blocked_error_is_a_permission_denied_error() -> None:
    assert issubclass(UserBlockedError, PermissionDeniedError)


# -- models and events --------------------------------------------------------------------


def test_an_older_servers_payloads_still_parse_with_defaults() -> None:
    ticket = Ticket.model_validate(TICKET)
    assert (ticket.resolved_at, ticket.previous, ticket.rating) == (None, None, None)
    assert ticket.user.blocked is False
    assert ticket.last_message is not None
    assert ticket.last_message.edited_at is None


def test_the_new_fields() -> None:
    ticket = Ticket.model_validate(
        {
            **TICKET,
            "resolved": True,
            "resolved_at": "2026-12-06T20:00:00Z",
            "previous": 9,
            "rating": {**RATING, "comment": "ok"},
            "user": BLOCKED_USER,
            "last_message": {**MESSAGE, "edited_at": "2026-12-06T19:59:00Z"},
        }
    )
    assert ticket.previous == 9
    assert ticket.user.blocked
    assert ticket.rating == Rating(
        score=4, comment="ok", created_at=dt.datetime(2026, 12, 6, 20, tzinfo=dt.UTC)
    )
    assert ticket.last_message is not None
    assert ticket.last_message.edited_at is not None


EVENTS: list[tuple[dict[str, Any], type, Callable[[Any], Any]]] = [
    ({"type": "ticket.message.edited", "message": EDITED}, MessageEdited,
     lambda e: e.message.text),
    ({"type": "ticket.message.deleted", "ticket": 16, "id": 31}, MessageDeleted,
     lambda e: (e.ticket, e.id)),
    ({"type": "ticket.rated", "ticket": 16, "rating": RATING}, TicketRated,
     lambda e: (e.ticket, e.rating.score)),
    ({"type": "user.blocked", "user": BLOCKED_USER}, UserBlocked, lambda e: e.user.blocked),
    ({"type": "user.unblocked", "user": {"telegram_id": 123}}, UserUnblocked,
     lambda e: e.user.blocked),
    ({"type": "ticket.resolved", "id": 16, "auto": True}, TicketResolved, lambda e: e.auto),
    ({"type": "ticket.resolved", "id": 16}, TicketResolved, lambda e: e.auto),
]  # fmt: skip
EVENT_VALUES = ["thanks!", (16, 31), (16, 4), True, False, True, False]


@pytest.mark.parametrize(
    ("data", "model", "value", "expected"),
    [(*e, v) for e, v in zip(EVENTS, EVENT_VALUES, strict=True)],
    ids=[f"{e[0]['type']}-{i}" for i, e in enumerate(EVENTS)],
)
def test_the_new_events_are_parsed(
    data: dict[str, Any], model: type, value: Callable[[Any], Any], expected: Any
) -> None:
    event = parse_event({**data, "event_id": "support:5"})
    assert isinstance(event, model)
    assert value(event) == expected


def test_an_event_type_still_unknown_is_kept_not_raised() -> None:
    event = parse_event({"type": "ticket.something.new", "event_id": "support:6", "x": 1})
    assert isinstance(event, UnknownEvent)
    assert event.model_extra == {"x": 1}


def test_a_blocked_flag_in_user_updated() -> None:
    user = TelegramUser.model_validate(BLOCKED_USER)
    assert user.blocked
    assert user.name == "Ann"

"""client.notes (both clients), the Note model and the NoteNew event."""

from __future__ import annotations

import httpx
import pytest
import respx

from support_client import APITimeoutError, Note, NoteNew, PermissionDeniedError
from support_client.types import parse_event
from tests.sdk.common import Api, body_of, last_request, query_of

NOTE = {
    "id": 7,
    "ticket": 3,
    "author": 1,
    "text": "VIP: be kind",
    "created_at": "2026-12-06T21:05:00Z",
}


async def test_list_and_create(api: Api, mock: respx.MockRouter) -> None:
    listed = mock.get("tickets/3/notes/").respond(json=[NOTE])
    created = mock.post("tickets/3/notes/").respond(201, json=NOTE)
    [note] = await api.run(lambda c: c.notes.list(3))
    assert isinstance(note, Note)
    assert (note.id, note.ticket, note.author, note.created_at.minute) == (7, 3, 1, 5)
    assert query_of(last_request(listed)) == {}  # the server's order: oldest first
    await api.run(lambda c: c.notes.list(3, ordering="-created_at", limit=2, offset=4))
    assert query_of(last_request(listed)) == {
        "ordering": "-created_at",
        "limit": "2",
        "offset": "4",
    }
    made = await api.run(lambda c: c.notes.create(3, "VIP: be kind"))
    assert made == note
    assert body_of(last_request(created)) == {"text": "VIP: be kind"}


async def test_a_deleted_author_is_none(api: Api, mock: respx.MockRouter) -> None:
    mock.get("tickets/3/notes/").respond(json=[{**NOTE, "author": None}])
    [note] = await api.run(lambda c: c.notes.list(3))
    assert note.author is None


async def test_a_bot_is_refused(api: Api, mock: respx.MockRouter) -> None:
    mock.post("tickets/3/notes/").respond(
        403, json={"code": "permission_denied", "detail": "Notes are private to managers."}
    )
    with pytest.raises(PermissionDeniedError) as refused:
        await api.run(lambda c: c.notes.create(3, "x"))
    assert refused.value.code == "permission_denied"


async def test_create_is_not_resent_once_it_may_have_reached_the_server(
    api: Api, mock: respx.MockRouter
) -> None:
    route = mock.post("tickets/3/notes/").mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(APITimeoutError):
        await api.run(lambda c: c.notes.create(3, "once"))
    assert route.call_count == 1  # a second try could write the note twice


def test_note_new_is_parsed() -> None:
    event = parse_event({"type": "ticket.note.new", "note": NOTE, "event_id": "support:9"})
    assert isinstance(event, NoteNew)
    assert event.note.text == "VIP: be kind"
    assert event.event_id == "support:9"

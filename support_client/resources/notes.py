"""``client.notes``: a ticket's private notes, for managers (a bot's key is refused, 403)."""

from __future__ import annotations

import builtins

from support_client._base_client import Call, RequesterT
from support_client._resource import Resource, endpoint
from support_client.types.notes import Note, NoteOrdering


class Notes(Resource[RequesterT]):
    @endpoint(builtins.list[Note])
    def list(
        self,
        ticket_id: int,
        *,
        ordering: NoteOrdering | None = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> Call:
        """A ticket's notes, oldest first (``ordering="-created_at"``: newest first).

        Managers only: a bot's key raises :class:`~support_client.PermissionDeniedError`.
        """
        params = {"ordering": ordering, "limit": limit, "offset": offset}
        return Call("GET", f"tickets/{ticket_id}/notes/", params=params)

    @endpoint(Note)
    def create(self, ticket_id: int, text: str) -> Call:
        """Write a private note on the ticket (resolved ones too); managers get it live as
        :class:`~support_client.NoteNew`, a bot never sees it.

        Resent only when the first try surely did not reach the server (the
        server has no idempotency key for notes: a second try that did would
        write the note twice).
        """
        return Call("POST", f"tickets/{ticket_id}/notes/", json={"text": text}, idempotent=False)

"""``client.tickets``: list, read, open, update, assign, unassign, resolve, reopen, rate."""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence

from support_client._base_client import Call, RequesterT
from support_client._resource import Resource, endpoint, given
from support_client._uploads import FileInput, uploads
from support_client.types.tickets import (
    AttachmentKind,
    Profile,
    Rating,
    Ticket,
    TicketOrdering,
    profile_json,
)


class Tickets(Resource[RequesterT]):
    @endpoint(builtins.list[Ticket])
    def list(
        self,
        *,
        user_id: int | None = None,
        resolved: bool | None = None,
        manager: int | None = None,
        manager_isnull: bool | None = None,
        search: str | None = None,
        ordering: TicketOrdering | None = "id",
        limit: int | None = None,
        offset: int | None = None,
    ) -> Call:
        """Tickets, filtered as given, oldest first.

        ``search`` is a Telegram user id, or part of the title (any case).
        ``ordering`` is ``"id"`` (oldest first, as 1.x listed them), ``"-id"``,
        ``"created_at"`` or ``"-created_at"``; ``None`` leaves the order to the
        server: 1.2.0's (something unread first, then unresolved, then latest
        activity first).
        """
        params = {
            "user_id": user_id,
            "resolved": resolved,
            "manager": manager,
            "manager__isnull": manager_isnull,
            "search": search,
            "ordering": ordering,
            "limit": limit,
            "offset": offset,
        }
        return Call("GET", "tickets/", params=params)

    @endpoint(Ticket)
    def get(self, ticket_id: int) -> Call:
        return Call("GET", f"tickets/{ticket_id}/")

    @endpoint(Ticket)
    def create(
        self,
        *,
        user_id: int,
        title: str,
        text: str | None = None,
        idempotency_key: str | None = None,
        files: Sequence[FileInput] = (),
        kinds: Sequence[AttachmentKind] | None = None,
        profile: Profile | Mapping[str, str] | None = None,
    ) -> Call:
        """Open a ticket for a Telegram user (bots only), with an optional first message.

        ``files`` and ``kinds`` attach files to that message, as in
        :meth:`Messages.send <support_client.resources.messages.Messages.send>`.
        ``profile`` is the user's Telegram profile (:class:`~support_client.Profile`
        or a dict of its fields), which the desk keeps and shows in ``ticket.user``.

        With ``idempotency_key`` (e.g. built from the Telegram chat and message
        ids) a repeat returns the ticket the first call opened, so the call is
        retried like any other (files too). Without one it is not retried once the
        request may have reached the server: opening a ticket twice is worse than an error.
        """
        attached = uploads(files, kinds)
        body = given(
            user_id=user_id,
            title=title,
            text=text,
            idempotency_key=idempotency_key,
            kinds=None if kinds is None else list(kinds),
            profile=profile_json(profile),
        )
        return Call(
            "POST",
            "tickets/",
            json=body,
            files=attached,
            idempotent=idempotency_key is not None,
        )

    @endpoint(Ticket)
    def update(
        self, ticket_id: int, *, title: str | None = None, resolved: bool | None = None
    ) -> Call:
        """Change the title, or resolve or reopen: only the fields given are sent."""
        return Call("PATCH", f"tickets/{ticket_id}/", json=given(title=title, resolved=resolved))

    @endpoint(Ticket)
    def assign(self, ticket_id: int) -> Call:
        return Call("POST", f"tickets/{ticket_id}/assign/")

    @endpoint(Ticket)
    def unassign(self, ticket_id: int) -> Call:
        return Call("POST", f"tickets/{ticket_id}/unassign/")

    @endpoint(Ticket)
    def resolve(self, ticket_id: int) -> Call:
        return Call("POST", f"tickets/{ticket_id}/resolve/")

    @endpoint(Ticket)
    def reopen(self, ticket_id: int) -> Call:
        return Call("POST", f"tickets/{ticket_id}/reopen/")

    @endpoint(Rating)
    def rate(self, ticket_id: int, *, score: int, comment: str | None = None) -> Call:
        """The user's rating of a resolved ticket (bots): *score* 1 to 5, an optional comment.

        One rating per ticket: a second call (any score) changes nothing and returns the
        first rating, so a retry, or a second press of a rating button, is safe. An open
        ticket raises :class:`~support_client.ConflictError` ``ticket_not_resolved``.
        """
        body = given(score=score, comment=comment)
        return Call("POST", f"tickets/{ticket_id}/rating/", json=body)

    @endpoint(Rating)
    def comment_rating(self, ticket_id: int, comment: str) -> Call:
        """Add the user's comment to a rating that has none (bots); one that has a comment
        stays as it is. No rating yet: :class:`~support_client.NotFoundError`."""
        return Call("PATCH", f"tickets/{ticket_id}/rating/", json={"comment": comment})

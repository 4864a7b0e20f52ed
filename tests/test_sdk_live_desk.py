"""Profiles and saved replies through the SDK against the live example server, both clients."""

from __future__ import annotations

import pytest

from support_client import (
    AsyncSupportClient,
    ConflictError,
    PermissionDeniedError,
    Profile,
    SavedReply,
    SupportClient,
    UserUpdated,
)

pytestmark = pytest.mark.live


def test_a_profile_is_kept_shown_and_announced(server, tmp_path):
    live, credentials = server
    with (
        SupportClient(live.api, api_key=credentials.bot_key) as bot,
        SupportClient(live.api, token=credentials.managers[0]) as desk,
    ):
        start = desk.events.poll().cursor
        alice = Profile(first_name="Алиса", last_name="Smith", username="alice", language_code="ru")
        ticket = bot.tickets.create(user_id=777, title="Hi", text="hello", profile=alice)
        assert (ticket.user.first_name, ticket.user.username) == ("Алиса", "alice")
        assert ticket.user.first_contact_at is not None
        document = tmp_path / "note.txt"
        document.write_bytes(b"a plain text file\n")  # multipart: the profile is a JSON part
        bot.messages.send(ticket.id, "", files=[document], profile={"last_name": ""})
        shown = desk.tickets.get(ticket.id).user
        assert (shown.name, shown.last_name) == ("Алиса", "")
        with pytest.raises(PermissionDeniedError):
            desk.messages.send(ticket.id, "hi", profile=alice)
        events = desk.events.poll(after=start, timeout=0).events
        [updated] = [e for e in events if isinstance(e, UserUpdated)]
        assert updated.user == shown


async def test_saved_replies_on_the_async_client(server):
    live, credentials = server
    async with (
        AsyncSupportClient(live.api, token=credentials.managers[0]) as desk,
        AsyncSupportClient(live.api, api_key=credentials.bot_key) as bot,
    ):
        reply = await desk.saved_replies.create(shortcut="hello", text="Hello {first_name}!")
        assert isinstance(reply, SavedReply)
        assert reply.created_by == credentials.manager_ids[0]
        await desk.saved_replies.create(shortcut="bye", text="Bye")
        assert [r.shortcut for r in await desk.saved_replies.list()] == ["bye", "hello"]
        with pytest.raises(ConflictError) as taken:
            await desk.saved_replies.create(shortcut="bye", text="again")
        assert taken.value.code == "shortcut_taken"
        changed = await desk.saved_replies.update(reply.id, text="Hi {first_name}, I'm {manager}.")
        assert (await desk.saved_replies.get(reply.id)).text == changed.text
        with pytest.raises(PermissionDeniedError):
            await bot.saved_replies.list()
        await desk.saved_replies.delete(reply.id)
        assert [r.shortcut for r in await desk.saved_replies.list()] == ["bye"]

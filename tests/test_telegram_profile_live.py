"""The user's Telegram profile end to end: the fake Bot API, the bot as users run it, the desk.

The profile arrives with the first message (the ticket's ``user`` shows it)
and follows a change of name, which the desk announces as ``user.updated``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from support_client import UserUpdated
from tests.test_telegram_bot_live import USER, update, world

pytestmark = pytest.mark.live


def from_(user: int, text: str, message_id: int, **sender: Any) -> dict[str, Any]:
    made = update(user, text, message_id=message_id)
    made["message"]["from"] = {"id": user, "is_bot": False, **sender}
    return made


def test_the_profile_arrives_with_the_first_message_and_follows_a_rename(tmp_path: Path) -> None:
    with world(tmp_path) as w:
        cursor = w.desk.events.poll().cursor
        ann = {
            "first_name": "Ann",
            "last_name": "Lee",
            "username": "ann_lee",
            "language_code": "ru",
        }
        w.telegram.push(from_(USER, "My app crashes", 1, **ann))
        w.wait("a ticket", lambda: len(w.tickets(USER)) == 1)
        [ticket] = w.tickets(USER)
        user = w.desk.tickets.get(ticket.id).user
        assert (user.first_name, user.last_name, user.username, user.language_code) == (
            "Ann", "Lee", "ann_lee", "ru",
        )  # fmt: skip
        assert user.first_contact_at is not None

        # Renamed in Telegram, no last name any more: the next message carries it.
        w.telegram.push(from_(USER, "Still broken", 2, first_name="Anna", language_code="ru"))
        w.wait("the second message", lambda: len(w.messages(ticket.id)) == 2)
        user = w.desk.tickets.get(ticket.id).user
        assert (user.first_name, user.last_name, user.username) == ("Anna", "", "")
        assert user.name == "Anna"
        updates = [
            event
            for event in w.desk.events.poll(after=cursor, timeout=0).events
            if isinstance(event, UserUpdated)
        ]
        assert [(e.user.telegram_id, e.user.first_name) for e in updates] == [(USER, "Anna")]

        # The same name again writes nothing and tells nobody.
        w.telegram.push(from_(USER, "Any news?", 3, first_name="Anna", language_code="ru"))
        w.wait("the third message", lambda: len(w.messages(ticket.id)) == 3)
        later = w.desk.events.poll(after=cursor, timeout=0).events
        assert sum(isinstance(event, UserUpdated) for event in later) == 1

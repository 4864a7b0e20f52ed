"""A conversation's life end to end (issue 23): the example project under daphne, the
fake Bot API, and the bot as users run it (``python example/telegram_bot.py``).

A user's edit updates the desk's message (``edited_at`` set, the old text in its
history); a manager's edit reaches the chat as an edit and a delete as a delete, across
a restart of the bot; after resolution the rating buttons store one rating (a second
press changes nothing) and the reply to the comment question is its comment; a blocked
user gets no ticket and the configured text once.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest

from support_client import UserBlockedError
from tests.fake_telegram import FakeTelegram, callback_update, edited_update, private_chat
from tests.test_telegram_bot_live import USER, update, world

pytestmark = pytest.mark.live

BLOCKED_TEXT = "Support no longer takes messages from this account."


def question_of(telegram: FakeTelegram, chat: int) -> Any:
    """The latest message with inline buttons the bot sent to *chat*."""
    asked = [
        s for s in telegram.sent if s.chat_id == chat and s.markup and "inline_keyboard" in s.markup
    ]
    assert asked, telegram.sent[-5:]
    return asked[-1]


def test_edits_both_ways_and_the_rating(tmp_path: Path) -> None:
    with world(tmp_path, SUPPORT_BOT_BLOCKED_TEXT=BLOCKED_TEXT) as w:
        tg = w.telegram
        tg.push(update(USER, "My app crahses", message_id=1))
        w.wait("a ticket", lambda: len(w.tickets(USER)) == 1)
        ticket = w.tickets(USER)[0]

        # The user fixes a typo: the desk's message follows, its first text kept.
        tg.push(edited_update(USER, 1, "My app crashes"))
        w.wait("the edit on the desk", lambda: w.messages(ticket.id) == ["My app crashes"])
        [posted] = w.api.messages.list(ticket.id)
        assert posted.edited_at is not None
        assert [e.text for e in w.desk.messages.edits(ticket.id, posted.id)] == ["My app crahses"]

        # A manager's reply, edited and then deleted: an edit and a delete in the chat.
        reply = w.desk.messages.send(ticket.id, "Plese reinstall")
        w.wait_sent(USER, "Plese reinstall")
        [shown] = [m for m in tg.visible(USER) if m.text == "Plese reinstall"]
        w.wait_caught_up()
        w.bot.kill()  # the state file remembers which message the reply became
        w.desk.messages.edit(ticket.id, reply.id, text="Please reinstall")
        calls = len(tg.methods)
        w.bot.start().wait_ready(tg, calls)
        w.wait(
            "the edit in Telegram",
            lambda: tg.shown(USER, shown.message_id).text == "Please reinstall",
        )
        w.desk.messages.delete(ticket.id, reply.id)
        w.wait("the delete in Telegram", lambda: tg.shown(USER, shown.message_id).deleted)
        assert tg.texts_to(USER).count("Plese reinstall") == 1  # edited, never sent again

        # Resolved: the rating question; a press stores 5, a second press changes nothing.
        w.desk.tickets.resolve(ticket.id)
        w.wait("the rating question", lambda: any(s.markup for s in tg.sent if s.chat_id == USER))
        question = question_of(tg, USER)
        tg.push(
            callback_update(USER, f"support-rate:{ticket.id}:5", message_id=question.message_id)
        )
        w.wait("the rating", lambda: w.api.tickets.get(ticket.id).rating is not None)
        w.wait(
            "the comment question",
            lambda: any(s.markup and s.markup.get("force_reply") for s in tg.sent),
        )
        tg.push(
            callback_update(USER, f"support-rate:{ticket.id}:1", message_id=question.message_id)
        )
        w.wait("both presses answered", lambda: len(tg.answers) == 2)
        rating = w.api.tickets.get(ticket.id).rating
        assert rating is not None
        assert rating.score == 5
        assert "★★★★★" in (tg.shown(USER, question.message_id).text or "")

        prompt = next(s for s in tg.sent if s.markup and s.markup.get("force_reply"))
        replied_to = {"message_id": prompt.message_id, "date": 0, "chat": private_chat(USER),
                      "from": {"id": 4242, "is_bot": True, "first_name": "Support"},
                      "text": prompt.text}  # fmt: skip
        tg.push(update(USER, "Quick and kind", message_id=2, reply_to_message=replied_to))
        w.wait(
            "the comment",
            lambda: (w.api.tickets.get(ticket.id).rating or rating).comment == "Quick and kind",
        )
        assert len(w.tickets(USER)) == 1  # the comment opened no ticket
        assert w.api.tickets.get(ticket.id).rating.score == 5  # type: ignore[union-attr]


def test_a_blocked_user_gets_no_ticket_and_one_answer(tmp_path: Path) -> None:
    blocked = 5077
    with world(tmp_path, SUPPORT_BOT_BLOCKED_TEXT=BLOCKED_TEXT) as w:
        tg = w.telegram
        tg.push(update(blocked, "hello", message_id=1))
        w.wait("a ticket", lambda: len(w.tickets(blocked)) == 1)
        [ticket] = w.tickets(blocked)
        w.desk.users.block(blocked, reason="spam")
        with pytest.raises(UserBlockedError):
            w.api.messages.send(ticket.id, "the desk refuses it")

        for number in range(2, 5):
            tg.push(update(blocked, f"spam {number}", message_id=number))
        tg.push(edited_update(blocked, 1, "edited spam"))
        w.wait_sent(blocked, BLOCKED_TEXT)
        w.wait_caught_up()
        tg.push(update(blocked, "/start", message_id=9))  # the project's own: still answered
        w.wait("the greeting", lambda: len(tg.texts_to(blocked)) >= 3)

        assert tg.texts_to(blocked).count(BLOCKED_TEXT) == 1
        assert len(w.tickets(blocked)) == 1  # nothing opened
        assert w.messages(ticket.id) == ["hello"]  # nothing posted, nothing edited
        # Its resolution by the block was not announced, nor a rating asked for.
        assert not any("resolved" in t or "rate" in t for t in tg.texts_to(blocked))
        w.bot.kill(signal.SIGTERM)

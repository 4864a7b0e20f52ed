"""Ratings: after a ticket is resolved the user is asked to rate the help from 1 to 5.

The question (:meth:`Ratings.ask`) has one row of inline buttons whose callback
data carries the ticket and the score (``support-rate:<ticket>:<score>``). A
press (:meth:`Ratings.on_press`) stores the rating on the desk
(``tickets.rate``), answers the press, and edits the question to show the score
the desk stores: one rating per ticket, so a second press (or a press on an old
question) changes nothing and shows the first score. After the first rating
the bot offers a comment (a message the user replies to, Telegram's
ForceReply); the reply (:meth:`Ratings.on_comment`) is added to the rating
(``tickets.comment_rating``). Button data that is not a rating of ours, or is
malformed, is answered and otherwise ignored.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiogram.types import CallbackQuery
from aiogram.types import Message as TelegramMessage

from support_client import (
    AsyncSupportClient,
    BadRequestError,
    ConflictError,
    NotFoundError,
    SupportError,
    UserBlockedError,
)
from support_client.telegram.desk import TRANSIENT
from support_client.telegram.state import RatingPrompt, ReplyStore, StateStore
from support_client.telegram.telegram import TelegramActions, TelegramChat
from support_client.telegram.texts import Language, language_of, text_for

log = logging.getLogger("support_client.telegram")

#: The callback data of a rating button: ``support-rate:<ticket id>:<score>``.
RATE_PREFIX = "support-rate:"
_RATE_DATA = re.compile(r"support-rate:([1-9][0-9]{0,17}):([1-5])")
#: The longest comment the desk takes; a longer reply is cut.
COMMENT_LIMIT = 1000
#: Tickets remembered as asked for a comment (then forgotten, all at once).
PROMPTED_LIMIT = 10_000
SCORES = range(1, 6)


def rating_data(ticket_id: int, score: int) -> str:
    """The callback data of the button that rates *ticket_id* with *score*."""
    return f"{RATE_PREFIX}{ticket_id}:{score}"


def parse_rating(data: str | None) -> tuple[int, int] | None:
    """``(ticket id, score)`` from a rating button's data; ``None`` for anything else."""
    if data is None:
        return None
    found = _RATE_DATA.fullmatch(data)
    return (int(found.group(1)), int(found.group(2))) if found else None


def stars(score: int) -> str:
    return "★" * score + "☆" * (5 - score)


@dataclass(frozen=True)
class Press:
    """A press of an inline button, as much of it as a rating needs."""

    callback_id: str
    user_id: int
    #: The chat and message of the question pressed (``None``: Telegram no longer shows it).
    chat_id: int | None
    message_id: int | None
    chat_type: str | None
    data: str | None
    language: Language

    @classmethod
    def of(cls, query: CallbackQuery) -> Press:
        message = query.message
        return cls(
            callback_id=query.id,
            user_id=query.from_user.id,
            chat_id=message.chat.id if message is not None else None,
            message_id=message.message_id if message is not None else None,
            chat_type=message.chat.type if message is not None else None,
            data=query.data,
            language=language_of(query.from_user.language_code),
        )


class Ratings:
    """Asks users to rate resolved tickets, and carries their answers to the desk."""

    def __init__(
        self,
        client: AsyncSupportClient,
        telegram: TelegramChat,
        state: StateStore,
        replies: ReplyStore,
        *,
        enabled: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.telegram = telegram
        self.state = state
        self.replies = replies
        self.clock = clock
        #: Whether resolved tickets get the question: asked for, and the Telegram side
        #: can send buttons (:class:`TelegramActions`).
        self.enabled = enabled and isinstance(telegram, TelegramActions)
        #: Tickets whose comment was asked for by this process (asked once).
        self._prompted: set[int] = set()

    def _actions(self) -> TelegramActions | None:
        return self.telegram if isinstance(self.telegram, TelegramActions) else None

    async def _language(self, user_id: int, fallback: Language = "en") -> Language:
        return await self.state.get_language(user_id) or fallback

    async def ask(self, chat_id: int, ticket_id: int) -> None:
        """The question with the buttons 1 to 5, into the user's chat."""
        telegram = self._actions()
        if telegram is None or not self.enabled:
            return
        language = await self._language(chat_id)
        buttons = [(str(score), rating_data(ticket_id, score)) for score in SCORES]
        asked = await telegram.ask(
            chat_id, text_for(language, "rate", id=ticket_id), buttons, patient=True
        )
        if asked is None:
            log.warning("ticket %s: chat %s did not take the rating question", ticket_id, chat_id)

    async def on_press(self, press: Press) -> None:
        """A rating button pressed: stored (once), answered, the question edited."""
        telegram = self._actions()
        if telegram is None:
            return
        language = await self._language(press.user_id, press.language)
        parsed = parse_rating(press.data)
        chat, question = press.chat_id, press.message_id
        if (
            parsed is None
            or chat is None
            or question is None
            or press.chat_type != "private"
            or chat != press.user_id
        ):
            log.info("a button press that is no rating of ours (%r); ignored", press.data)
            await telegram.answer_callback(press.callback_id, text_for(language, "rate_not_ours"))
            return
        ticket_id, score = parsed
        try:
            rating = await self.client.tickets.rate(ticket_id, score=score)
        except UserBlockedError:
            await telegram.answer_callback(press.callback_id)  # a blocked user is told nothing
            return
        except (ConflictError, NotFoundError) as error:
            key = "rate_gone" if isinstance(error, NotFoundError) else "rate_not_resolved"
            if isinstance(error, ConflictError) and error.code != "ticket_not_resolved":
                key = "rate_not_ours"
            await telegram.answer_callback(press.callback_id, text_for(language, key))
            await telegram.edit_text(chat, question, text_for(language, key))
            return
        except TRANSIENT as error:
            log.warning("ticket %s: the desk is unreachable for a rating (%s)", ticket_id, error)
            await telegram.answer_callback(press.callback_id, text_for(language, "rate_later"))
            return
        except (BadRequestError, SupportError) as error:
            log.error("ticket %s: the desk refused a rating: %s", ticket_id, error)
            await telegram.answer_callback(press.callback_id, text_for(language, "rate_not_ours"))
            return
        first = rating.score == score
        await telegram.answer_callback(
            press.callback_id, text_for(language, "rated_thanks" if first else "rated_already")
        )
        shown = text_for(
            language, "rated", id=ticket_id, stars=stars(rating.score), score=rating.score
        )
        await telegram.edit_text(chat, question, shown)
        if first and not rating.comment and ticket_id not in self._prompted:
            if len(self._prompted) >= PROMPTED_LIMIT:
                self._prompted.clear()
            self._prompted.add(ticket_id)
            asked = await telegram.prompt(
                chat,
                text_for(language, "comment_ask"),
                text_for(language, "comment_placeholder"),
            )
            if asked is not None:
                await self.replies.set_prompt(chat, asked, RatingPrompt(ticket_id, self.clock()))

    async def is_comment(self, message: TelegramMessage) -> bool:
        """Whether *message* is a text reply to a question asking for a rating's comment."""
        reply = message.reply_to_message
        if reply is None or not message.text or message.text.startswith("/"):
            return False
        return await self.replies.get_prompt(message.chat.id, reply.message_id) is not None

    async def on_comment(self, message: TelegramMessage) -> None:
        """The reply to the comment question: added to the rating, once."""
        reply = message.reply_to_message
        user = message.from_user
        if reply is None or user is None or not message.text:
            return
        chat = message.chat.id
        prompt = await self.replies.get_prompt(chat, reply.message_id)
        if prompt is None:
            return
        language = await self._language(user.id, language_of(user.language_code))
        comment = message.text.strip()[:COMMENT_LIMIT]
        if not comment:
            return
        try:
            await self.client.tickets.comment_rating(prompt.ticket_id, comment)
        except TRANSIENT as error:
            log.warning("ticket %s: a comment not saved (%s)", prompt.ticket_id, error)
            await self.telegram.send(chat, text_for(language, "undelivered"))
            return  # the question stays: the user may reply again
        except UserBlockedError:
            pass
        except SupportError as error:
            log.warning("ticket %s: the desk refused a comment: %s", prompt.ticket_id, error)
            await self.replies.drop_prompt(chat, reply.message_id)
            return
        else:
            await self.telegram.send(chat, text_for(language, "comment_thanks"))
        await self.replies.drop_prompt(chat, reply.message_id)

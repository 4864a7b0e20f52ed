"""The Bot API calls the bot makes, within Telegram's limits.

:class:`Telegram` sends text (split at 4,096 UTF-16 units) and files (uploaded
from local paths; captions over 1,024 sent first; runs of files as albums),
waits out 429s for as long as their ``retry_after`` says, retries network and
server errors, and downloads users' files. :class:`TelegramChat` is what the
rest of the bot needs of it (a test passes a fake).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

import aiohttp
from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import (
    ForceReply,
    FSInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaAudio,
    InputMediaDocument,
    InputMediaPhoto,
    InputMediaVideo,
)
from aiogram.types import Message as TelegramMessage

from support_client.telegram.media import (
    TELEGRAM_CAPTION_LIMIT,
    TELEGRAM_TEXT_LIMIT,
    Outgoing,
    batches,
)
from support_client.telegram.state import PartKind

log = logging.getLogger("support_client.telegram")

#: Seconds a download from the Bot API may take.
DOWNLOAD_TIMEOUT = 300


def _units(char: str) -> int:
    return 2 if ord(char) > 0xFFFF else 1


def split_text(text: str, limit: int = TELEGRAM_TEXT_LIMIT) -> list[str]:
    """Parts of at most *limit* UTF-16 units that join back into *text*.

    A part ends after the last line break (or else space) of its second half
    when there is one, so words are not cut in two; whitespace-only parts
    (which Telegram refuses) are dropped.
    """
    if limit < 2:
        raise ValueError("limit must be at least 2")
    parts: list[str] = []
    start = 0
    while start < len(text):
        end, units = start, 0
        while end < len(text) and units + _units(text[end]) <= limit:
            units += _units(text[end])
            end += 1
        if end < len(text):
            for separator in ("\n", " "):
                at = text.rfind(separator, start, end)
                if at >= start + (end - start) // 2:
                    end = at + 1
                    break
        parts.append(text[start:end])
        start = end
    return [part for part in parts if part.strip()]


def utf16_length(text: str) -> int:
    return sum(map(_units, text))


class FileTooBig(Exception):
    """Telegram will not hand the bot this file (over its 20 MB download limit)."""


class DownloadFailed(Exception):
    """A user's file could not be downloaded from Telegram."""


#: How a send ended: sent; refused for what it carries (a file Telegram would not
#: take as that kind: try it as a document); failed (the chat is gone, or the
#: network gave up).
Outcome = Literal["sent", "refused", "failed"]
#: The Telegram messages a send made: (message id, what it holds), in order.
Parts = list[tuple[int, PartKind]]
#: What Telegram says when an edit changes nothing (taken as done).
NOT_MODIFIED = "message is not modified"


@dataclass
class Delivery:
    """What :meth:`Telegram.deliver` sent: whether all of it was taken, and its messages."""

    ok: bool
    parts: Parts = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.ok


def _ids(result: object) -> list[int]:
    """The message ids a send answered (one message, or an album's list)."""
    if isinstance(result, TelegramMessage):
        return [result.message_id]
    if isinstance(result, list):
        return [m.message_id for m in result if isinstance(m, TelegramMessage)]
    return []


def _send_file(
    bot: Bot, kind: str, chat_id: int, outgoing: Outgoing, caption: str | None
) -> Awaitable[object]:
    """Upload *outgoing* as a *kind* (read from its path on each try)."""
    file = FSInputFile(outgoing.path, filename=outgoing.filename)
    if kind == "photo":
        return bot.send_photo(chat_id=chat_id, photo=file, caption=caption)
    if kind == "video":
        return bot.send_video(chat_id=chat_id, video=file, caption=caption)
    if kind == "voice":
        return bot.send_voice(chat_id=chat_id, voice=file, caption=caption)
    if kind == "audio":
        return bot.send_audio(chat_id=chat_id, audio=file, caption=caption)
    if kind == "animation":
        return bot.send_animation(chat_id=chat_id, animation=file, caption=caption)
    if kind == "sticker":  # a sticker has no caption (send_files sends it first)
        return bot.send_sticker(chat_id=chat_id, sticker=file)
    return bot.send_document(chat_id=chat_id, document=file, caption=caption)


_IN_ALBUM = {
    "photo": InputMediaPhoto,
    "video": InputMediaVideo,
    "document": InputMediaDocument,
    "audio": InputMediaAudio,
}


class Telegram:
    """Sends text and files to chats within Telegram's limits (text split, captions
    kept short, 429s waited out), and downloads users' files."""

    def __init__(self, bot: Bot, *, network_attempts: int = 5) -> None:
        self.bot = bot
        self.network_attempts = network_attempts

    async def send(self, chat_id: int, text: str, *, patient: bool = False) -> bool:
        """Send *text* (in parts when long). False if Telegram would not take it.

        *patient* sends (the desk's replies, whose cursor waits for them) retry
        network and server errors until Telegram answers; others give up after
        a few tries. A chat that blocked the bot, or is gone, is not retried.
        """
        return await self._send_text(chat_id, text, patient=patient, parts=[])

    async def _send_text(self, chat_id: int, text: str, *, patient: bool, parts: Parts) -> bool:
        for part in split_text(text):
            outcome = await self._call(
                chat_id,
                partial(self.bot.send_message, chat_id, part),
                patient=patient,
                parts=parts,
                kind="text",
            )
            if outcome != "sent":
                return False
        return True

    async def send_files(
        self, chat_id: int, text: str, files: Sequence[Outgoing], *, patient: bool = False
    ) -> bool:
        """Send *files* (uploaded from their paths) with *text* as their caption, or
        before them as a message when it is too long for one. False if any was not taken."""
        return await self._send_files(chat_id, text, files, patient=patient, parts=[])

    async def deliver(
        self, chat_id: int, text: str, files: Sequence[Outgoing] = (), *, patient: bool = False
    ) -> Delivery:
        """:meth:`send` (no *files*) or :meth:`send_files`, and the messages it made, so
        that they can be edited or deleted later."""
        parts: Parts = []
        if files:
            ok = await self._send_files(chat_id, text, files, patient=patient, parts=parts)
        else:
            ok = await self._send_text(chat_id, text, patient=patient, parts=parts)
        return Delivery(ok, parts)

    async def _send_files(
        self, chat_id: int, text: str, files: Sequence[Outgoing], *, patient: bool, parts: Parts
    ) -> bool:
        groups = batches(files)
        caption: str | None = text if text.strip() else None
        fits = caption is not None and utf16_length(caption) <= TELEGRAM_CAPTION_LIMIT
        if caption is not None and (not fits or not groups or groups[0][0].sent_as == "sticker"):
            if not await self._send_text(chat_id, caption, patient=patient, parts=parts):
                return False
            caption = None
        delivered = True
        for group in groups:
            delivered &= await self._send_group(
                chat_id, group, caption, patient=patient, parts=parts
            )
            caption = None
        return delivered

    async def _send_group(
        self,
        chat_id: int,
        group: Sequence[Outgoing],
        caption: str | None,
        *,
        patient: bool,
        parts: Parts,
    ) -> bool:
        if len(group) == 1:
            return await self._send_one(chat_id, group[0], caption, patient=patient, parts=parts)

        def album() -> Awaitable[object]:
            media = [
                _IN_ALBUM[file.sent_as](
                    media=FSInputFile(file.path, filename=file.filename),
                    caption=caption if index == 0 else None,
                )
                for index, file in enumerate(group)
            ]
            return self.bot.send_media_group(chat_id=chat_id, media=media)

        kind: PartKind = "caption" if caption else "file"
        outcome = await self._call(chat_id, album, patient=patient, parts=parts, kind=kind)
        if outcome == "refused":  # one of them Telegram won't take as that kind: one by one
            results = [
                await self._send_one(
                    chat_id, file, caption if index == 0 else None, patient=patient, parts=parts
                )
                for index, file in enumerate(group)
            ]
            return all(results)
        return outcome == "sent"

    async def _send_one(
        self, chat_id: int, file: Outgoing, caption: str | None, *, patient: bool, parts: Parts
    ) -> bool:
        kinds = [file.sent_as] if file.sent_as == "document" else [file.sent_as, "document"]
        held: PartKind = "caption" if caption and file.sent_as != "sticker" else "file"
        for kind in kinds:
            upload = partial(_send_file, self.bot, kind, chat_id, file, caption)
            outcome = await self._call(chat_id, upload, patient=patient, parts=parts, kind=held)
            if outcome != "refused":
                return outcome == "sent"
            log.warning(
                "Telegram refused %s as a %s; sending it as a document", file.filename, kind
            )
        return False

    async def _call(
        self,
        chat_id: int,
        request: Callable[[], Awaitable[object]],
        *,
        patient: bool,
        parts: Parts | None = None,
        kind: PartKind = "text",
    ) -> Outcome:
        """*request* until Telegram answers it; the messages it made go into *parts*
        (an album's first one as *kind*, the rest as files)."""
        failures = 0
        while True:
            try:
                result = await request()
                if parts is not None:
                    for index, message_id in enumerate(_ids(result)):
                        parts.append((message_id, kind if index == 0 else "file"))
                return "sent"
            except TelegramRetryAfter as flood:
                log.warning(
                    "Telegram flood control: waiting %ss (chat %s)", flood.retry_after, chat_id
                )
                await asyncio.sleep(flood.retry_after)
            except TelegramBadRequest as error:
                log.warning("Telegram refused a message to chat %s: %s", chat_id, error)
                return "refused"
            except (TelegramForbiddenError, TelegramNotFound) as error:
                log.warning("Telegram refused a message to chat %s: %s", chat_id, error)
                return "failed"
            except (TelegramNetworkError, TelegramServerError) as error:
                failures += 1
                if not patient and failures >= self.network_attempts:
                    log.error(
                        "Telegram unreachable, message to chat %s dropped: %s", chat_id, error
                    )
                    return "failed"
                delay = min(30.0, 0.5 * 2**failures)
                log.warning("Telegram unreachable (%s); retrying in %.1fs", error, delay)
                await asyncio.sleep(delay)

    # -- changing what was sent, questions, callbacks ----------------------------------

    async def edit_text(
        self, chat_id: int, message_id: int, text: str, *, patient: bool = False
    ) -> bool:
        """Change a message's text (its inline keyboard goes); Telegram's "not modified" is
        success. False if Telegram would not (the message is gone, or too old)."""
        return await self._change(
            chat_id,
            partial(self.bot.edit_message_text, text=text, chat_id=chat_id, message_id=message_id),
            patient=patient,
        )

    async def edit_caption(
        self, chat_id: int, message_id: int, caption: str, *, patient: bool = False
    ) -> bool:
        """Change a file's caption ("not modified" is success)."""
        return await self._change(
            chat_id,
            partial(
                self.bot.edit_message_caption,
                chat_id=chat_id,
                message_id=message_id,
                caption=caption,
            ),
            patient=patient,
        )

    async def delete(self, chat_id: int, message_id: int, *, patient: bool = False) -> bool:
        """Delete a message the bot sent (Telegram allows it for 48 hours)."""
        return await self._change(
            chat_id, partial(self.bot.delete_message, chat_id, message_id), patient=patient
        )

    async def ask(
        self,
        chat_id: int,
        text: str,
        buttons: Sequence[tuple[str, str]],
        *,
        patient: bool = False,
    ) -> int | None:
        """Send *text* with one row of inline buttons ``(label, callback data)``; its id."""
        markup = InlineKeyboardMarkup(
            inline_keyboard=[[InlineKeyboardButton(text=t, callback_data=d) for t, d in buttons]]
        )
        return await self._one(
            chat_id, partial(self.bot.send_message, chat_id, text, reply_markup=markup), patient
        )

    async def prompt(
        self, chat_id: int, text: str, placeholder: str | None = None, *, patient: bool = False
    ) -> int | None:
        """Send *text* asking for a reply (Telegram opens the reply for the user); its id."""
        markup = ForceReply(force_reply=True, input_field_placeholder=placeholder)
        return await self._one(
            chat_id, partial(self.bot.send_message, chat_id, text, reply_markup=markup), patient
        )

    async def answer_callback(self, callback_id: str, text: str | None = None) -> None:
        """Answer a button's press (the user's spinner stops; *text* shows as a toast)."""
        try:
            await self.bot.answer_callback_query(callback_id, text=text)
        except (TelegramBadRequest, TelegramForbiddenError, TelegramNotFound) as error:
            log.info("a callback answer was refused (too late?): %s", error)
        except (TelegramNetworkError, TelegramServerError, TelegramRetryAfter) as error:
            log.warning("a callback was not answered: %s", error)

    async def _one(
        self, chat_id: int, request: Callable[[], Awaitable[object]], patient: bool
    ) -> int | None:
        parts: Parts = []
        outcome = await self._call(chat_id, request, patient=patient, parts=parts)
        return parts[0][0] if outcome == "sent" and parts else None

    async def _change(
        self, chat_id: int, request: Callable[[], Awaitable[object]], *, patient: bool
    ) -> bool:
        async def changing() -> object:
            try:
                return await request()
            except TelegramBadRequest as error:
                if NOT_MODIFIED in error.message.lower():
                    return True
                raise

        return await self._call(chat_id, changing, patient=patient) == "sent"

    async def download(self, file_id: str, destination: Path) -> None:
        """A user's file to *destination*: ``getFile``, then the file from the Bot API
        server. :class:`FileTooBig` over Telegram's limit, :class:`DownloadFailed` else."""
        failures = 0
        while True:
            try:
                file = await self.bot.get_file(file_id)
                if not file.file_path:
                    raise DownloadFailed(f"Telegram gave no path for file {file_id}")
                await self.bot.download_file(file.file_path, destination, timeout=DOWNLOAD_TIMEOUT)
                return
            except TelegramRetryAfter as flood:
                await asyncio.sleep(flood.retry_after)
            except TelegramBadRequest as error:
                if "too big" in error.message.lower():
                    raise FileTooBig(error.message) from None
                raise DownloadFailed(f"Telegram refused file {file_id}: {error}") from None
            except aiohttp.ClientResponseError as error:
                if error.status < 500:
                    raise DownloadFailed(
                        f"file {file_id}: {error.status} {error.message}"
                    ) from None
                failures = await self._wait_to_retry(failures, error)
            except (
                TelegramNetworkError,
                TelegramServerError,
                aiohttp.ClientError,
                TimeoutError,
            ) as error:
                failures = await self._wait_to_retry(failures, error)

    async def _wait_to_retry(self, failures: int, error: Exception) -> int:
        failures += 1
        if failures >= self.network_attempts:
            raise DownloadFailed(f"Telegram unreachable: {error!r}") from None
        delay = min(30.0, 0.5 * 2**failures)
        log.warning("download from Telegram failed (%r); retrying in %.1fs", error, delay)
        await asyncio.sleep(delay)
        return failures


class TelegramChat(Protocol):
    """What :class:`SupportBot` needs of Telegram (:class:`Telegram`, or a test's fake)."""

    async def send(self, chat_id: int, text: str, *, patient: bool = False) -> bool: ...

    async def send_files(
        self, chat_id: int, text: str, files: Sequence[Outgoing], *, patient: bool = False
    ) -> bool: ...

    async def download(self, file_id: str, destination: Path) -> None: ...


@runtime_checkable
class TelegramActions(TelegramChat, Protocol):
    """What the bot needs of Telegram to edit and delete what it sent and to ask for
    ratings (:class:`Telegram` has it). A :class:`TelegramChat` without these methods
    still carries messages both ways; edits, deletes and ratings then stay on the desk."""

    async def deliver(
        self, chat_id: int, text: str, files: Sequence[Outgoing] = (), *, patient: bool = False
    ) -> Delivery: ...

    async def edit_text(
        self, chat_id: int, message_id: int, text: str, *, patient: bool = False
    ) -> bool: ...

    async def edit_caption(
        self, chat_id: int, message_id: int, caption: str, *, patient: bool = False
    ) -> bool: ...

    async def delete(self, chat_id: int, message_id: int, *, patient: bool = False) -> bool: ...

    async def ask(
        self,
        chat_id: int,
        text: str,
        buttons: Sequence[tuple[str, str]],
        *,
        patient: bool = False,
    ) -> int | None: ...

    async def prompt(
        self, chat_id: int, text: str, placeholder: str | None = None, *, patient: bool = False
    ) -> int | None: ...

    async def answer_callback(self, callback_id: str, text: str | None = None) -> None: ...

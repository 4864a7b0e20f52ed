"""A small Telegram bot in front of the support desk: copy it, set four variables, run it.

    pip install "chatlabs-django-support[bot]"
    export TELEGRAM_BOT_TOKEN=123456:ABC…   # from @BotFather
    export SUPPORT_BASE_URL=http://127.0.0.1:8000/support/
    export SUPPORT_API_KEY=…                 # manage.py support_create_bot_key telegram-bot
    python example/telegram_bot.py

What it does:

* A user's text goes to their open ticket, or opens one (titled after the
  first message). Each message carries an idempotency key built from the
  Telegram chat and message ids, for the ticket it opens as for a message, so
  an update Telegram delivers twice, or a resend after a timeout, is posted
  once. Updates are handled one after another and confirmed to Telegram only
  after they are handled: a crash in between means Telegram delivers the
  update again, and the key makes that harmless.
* Managers' replies, "a manager has taken your request", resolution and
  reopening come from the desk's event stream (``events.stream``, transport
  ``auto``) and are sent to the user's chat. The stream's cursor is saved
  (write, then rename) after each event, so a restart neither repeats nor
  misses a reply: delivery is at least once, and the window for a repeat is
  a crash between Telegram's answer to ``sendMessage`` and that save.
* ``/close`` resolves the user's ticket; writing after resolution opens a new
  ticket (the desk refuses messages on a resolved ticket).
* What the desk refuses gets a plain answer, in Russian or English after the
  user's Telegram language: photos, stickers, voice and other non-text
  messages, text over the desk's limit, and messages that could not be
  delivered because the desk stayed unreachable (they are retried with the
  same idempotency key for ``SUPPORT_BOT_DELIVERY_TIMEOUT`` seconds first).
* Telegram's limits: replies over 4,096 characters are split, and a 429
  (flood control) is waited out for as long as its ``retry_after`` says.

Settings, from the environment:

=============================  =====================================================
``TELEGRAM_BOT_TOKEN``         the bot's token (required)
``SUPPORT_BASE_URL``           where the ``support`` app is mounted, e.g.
                               ``http://127.0.0.1:8000/support/`` (required)
``SUPPORT_API_KEY``            a bot key from ``manage.py support_create_bot_key``
                               (required)
``TELEGRAM_API_URL``           another Bot API server (a local one), optional
``SUPPORT_BOT_STATE``          the file that keeps the cursor and the users'
                               languages (default ``telegram_bot_state.json``)
``SUPPORT_BOT_DELIVERY_TIMEOUT``  seconds to keep retrying a user's message while
                               the desk is unreachable (default 30)
=============================  =====================================================

A missing or refused setting stops the bot at start with one line on stderr
(exit status 2). The bot assumes one desk per Telegram bot: it forwards the
desk's events for every ticket to the ticket's user (private chats only, where
the chat id is the user id).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import sys
import tempfile
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol
from urllib.parse import urlsplit

try:
    from aiogram import Bot, Dispatcher, F, Router
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer
    from aiogram.exceptions import (
        TelegramBadRequest,
        TelegramForbiddenError,
        TelegramNetworkError,
        TelegramNotFound,
        TelegramRetryAfter,
        TelegramServerError,
        TelegramUnauthorizedError,
    )
    from aiogram.filters import Command
    from aiogram.types import Message as TelegramMessage
    from aiogram.utils.token import TokenValidationError, validate_token

    from support_client import (
        APIConnectionError,
        AsyncSupportClient,
        AuthenticationError,
        BadRequestError,
        ConflictError,
        Event,
        InternalServerError,
        MessageNew,
        NotFoundError,
        PermissionDeniedError,
        RateLimitError,
        StreamReset,
        SupportError,
        Ticket,
        TicketAssigned,
        TicketCreated,
        TicketReopened,
        TicketResolved,
    )
except ImportError as missing:  # pragma: no cover - depends on the environment
    sys.stderr.write(
        f"telegram_bot: {missing}; install the bot's needs: "
        'pip install "chatlabs-django-support[bot]"\n'
    )
    raise SystemExit(2) from None

log = logging.getLogger("telegram_bot")

#: Telegram's longest message, in UTF-16 code units (how Telegram counts).
TELEGRAM_TEXT_LIMIT = 4096
#: Ticket titles made from a first message are cut to this many characters.
TITLE_LENGTH = 64
DEFAULT_STATE_FILE = "telegram_bot_state.json"
DEFAULT_DELIVERY_TIMEOUT = 30.0

#: Errors worth another try: the desk is down, overloaded or unreachable.
TRANSIENT = (APIConnectionError, InternalServerError, RateLimitError)
#: The credential or the mount is wrong: no retry can help.
REFUSED = (AuthenticationError, PermissionDeniedError)


# -- texts -------------------------------------------------------------------------

Language = Literal["en", "ru"]

TEXTS: dict[Language, dict[str, str]] = {
    "en": {
        "start": (
            "Hello! This is the support chat. Write your question here and a support "
            "manager will answer in this chat.\n\nSend /close when your question is solved."
        ),
        "opened": "Thank you! Your request #{id} is open; a manager will answer here.",
        "assigned": "A manager has taken your request #{id}.",
        "resolved": (
            "Your request #{id} is resolved. If you need anything else, just write here: "
            "that opens a new request."
        ),
        "reopened": "Your request #{id} is open again.",
        "closed": "Request #{id} is closed. Write here any time to open a new one.",
        "nothing_to_close": "You have no open request.",
        "only_text": (
            "Sorry, only text messages reach support for now. Please describe it in words."
        ),
        "too_long": (
            "This message is longer than the support desk accepts. Please send it in shorter parts."
        ),
        "undelivered": (
            "Sorry, your message could not be delivered to support right now. "
            "Please send it again a little later."
        ),
    },
    "ru": {
        "start": (
            "Здравствуйте! Это чат поддержки. Напишите свой вопрос здесь, и менеджер "
            "поддержки ответит вам в этом чате.\n\nКогда вопрос решён, отправьте /close."
        ),
        "opened": "Спасибо! Ваше обращение №{id} открыто; менеджер ответит здесь.",
        "assigned": "Менеджер взял ваше обращение №{id} в работу.",
        "resolved": (
            "Ваше обращение №{id} решено. Если нужно что-то ещё, просто напишите сюда: "
            "откроется новое обращение."
        ),
        "reopened": "Ваше обращение №{id} снова открыто.",
        "closed": "Обращение №{id} закрыто. Пишите сюда в любое время, чтобы открыть новое.",
        "nothing_to_close": "У вас нет открытых обращений.",
        "only_text": (
            "Извините, пока в поддержку доходят только текстовые сообщения. "
            "Опишите, пожалуйста, словами."
        ),
        "too_long": (
            "Это сообщение длиннее, чем принимает поддержка. Пожалуйста, отправьте его частями."
        ),
        "undelivered": (
            "Извините, сейчас не удалось доставить ваше сообщение в поддержку. "
            "Пожалуйста, отправьте его ещё раз чуть позже."
        ),
    },
}


def language_of(code: str | None) -> Language:
    """Russian for ``ru`` (and ``ru-RU``, …), English otherwise."""
    return "ru" if code and code.lower().split("-")[0] == "ru" else "en"


def text_for(language: Language, key: str, **values: object) -> str:
    return TEXTS[language][key].format(**values)


# -- small pure helpers ------------------------------------------------------------


def idempotency_key(chat_id: int, message_id: int) -> str:
    """The same for every delivery of one Telegram message, and unique per bot."""
    return f"tg-{chat_id}-{message_id}"


def ticket_title(text: str, length: int = TITLE_LENGTH) -> str:
    """The first line of the first message, whitespace collapsed, cut to *length*."""
    lines = [line for line in text.splitlines() if line.strip()]
    title = " ".join(lines[0].split()) if lines else ""
    if not title:
        return "Telegram"
    return title if len(title) <= length else title[: length - 1].rstrip() + "…"


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


# -- settings and state ------------------------------------------------------------


class ConfigError(Exception):
    """A setting is missing or refused: one line for the operator, no traceback."""


def _url(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{name} must be an http(s) URL, not {value!r}")
    return value


@dataclass(frozen=True)
class Settings:
    token: str
    base_url: str
    api_key: str
    api_url: str | None = None
    state_path: Path = Path(DEFAULT_STATE_FILE)
    delivery_timeout: float = DEFAULT_DELIVERY_TIMEOUT

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        token = env.get("TELEGRAM_BOT_TOKEN", "").strip()
        if not token:
            raise ConfigError("TELEGRAM_BOT_TOKEN is not set (ask @BotFather for one)")
        try:
            validate_token(token)
        except TokenValidationError:
            raise ConfigError(
                "TELEGRAM_BOT_TOKEN does not look like a bot token (123456:ABC…)"
            ) from None
        base_url = _url(env, "SUPPORT_BASE_URL")
        if base_url is None:
            raise ConfigError(
                "SUPPORT_BASE_URL is not set (where the support app is mounted, "
                "e.g. http://127.0.0.1:8000/support/)"
            )
        api_key = env.get("SUPPORT_API_KEY", "").strip()
        if not api_key:
            raise ConfigError(
                "SUPPORT_API_KEY is not set (manage.py support_create_bot_key NAME prints one)"
            )
        raw_timeout = env.get("SUPPORT_BOT_DELIVERY_TIMEOUT", "").strip()
        try:
            timeout = float(raw_timeout) if raw_timeout else DEFAULT_DELIVERY_TIMEOUT
        except ValueError:
            timeout = -1.0
        if not 0 <= timeout <= 3600:
            raise ConfigError(
                f"SUPPORT_BOT_DELIVERY_TIMEOUT must be seconds from 0 to 3600, not {raw_timeout!r}"
            )
        state = env.get("SUPPORT_BOT_STATE", "").strip() or DEFAULT_STATE_FILE
        return cls(
            token=token,
            base_url=base_url,
            api_key=api_key,
            api_url=_url(env, "TELEGRAM_API_URL"),
            state_path=Path(state),
            delivery_timeout=timeout,
        )


@dataclass
class State:
    """What survives a restart: the desk's stream cursor and each user's language.

    Saved as JSON, atomically: written to a temporary file beside it, flushed
    to disk, then renamed over the old one, so a crash leaves the old or the
    new state, never half of one.
    """

    path: Path
    cursor: str | None = None
    languages: dict[int, Language] = field(default_factory=dict)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    @classmethod
    def load(cls, path: Path) -> State:
        try:
            raw = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls(path)
        except OSError as error:
            raise ConfigError(f"SUPPORT_BOT_STATE {path} cannot be read: {error}") from None
        try:
            data = json.loads(raw)
            cursor = data["cursor"]
            languages = {int(k): language_of(v) for k, v in data.get("languages", {}).items()}
            if cursor is not None and not isinstance(cursor, str):
                raise TypeError("cursor")
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            raise ConfigError(
                f"SUPPORT_BOT_STATE {path} is not this bot's state file ({error!r}); "
                "move it away to start from the present"
            ) from None
        return cls(path, cursor, languages)

    def snapshot(self) -> str:
        data = {
            "version": 1,
            "cursor": self.cursor,
            "languages": {str(k): v for k, v in sorted(self.languages.items())},
        }
        return json.dumps(data, indent=1)

    def write(self, text: str) -> None:
        """Write *text* to the file atomically (blocking: call it in a thread)."""
        directory = self.path.parent
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    async def save(self) -> None:
        async with self._lock:
            await asyncio.to_thread(self.write, self.snapshot())


# -- Telegram ----------------------------------------------------------------------


class Telegram:
    """Sends text to chats within Telegram's limits: split, and 429s waited out."""

    def __init__(self, bot: Bot, *, network_attempts: int = 5) -> None:
        self.bot = bot
        self.network_attempts = network_attempts

    async def send(self, chat_id: int, text: str, *, patient: bool = False) -> bool:
        """Send *text* (in parts when long). False if Telegram would not take it.

        *patient* sends (the desk's replies, whose cursor waits for them) retry
        network and server errors until Telegram answers; others give up after
        a few tries. A chat that blocked the bot, or is gone, is not retried.
        """
        for part in split_text(text):
            if not await self._send_part(chat_id, part, patient=patient):
                return False
        return True

    async def _send_part(self, chat_id: int, text: str, *, patient: bool) -> bool:
        failures = 0
        while True:
            try:
                await self.bot.send_message(chat_id, text)
                return True
            except TelegramRetryAfter as flood:
                log.warning(
                    "Telegram flood control: waiting %ss (chat %s)", flood.retry_after, chat_id
                )
                await asyncio.sleep(flood.retry_after)
            except (TelegramForbiddenError, TelegramBadRequest, TelegramNotFound) as error:
                log.warning("Telegram refused a message to chat %s: %s", chat_id, error)
                return False
            except (TelegramNetworkError, TelegramServerError) as error:
                failures += 1
                if not patient and failures >= self.network_attempts:
                    log.error(
                        "Telegram unreachable, message to chat %s dropped: %s", chat_id, error
                    )
                    return False
                delay = min(30.0, 0.5 * 2**failures)
                log.warning("Telegram unreachable (%s); retrying in %.1fs", error, delay)
                await asyncio.sleep(delay)


class TelegramChat(Protocol):
    """What :class:`SupportBot` needs of Telegram (:class:`Telegram`, or a test's fake)."""

    async def send(self, chat_id: int, text: str, *, patient: bool = False) -> bool: ...


# -- the bot -----------------------------------------------------------------------


@dataclass(frozen=True)
class Incoming:
    """A user's message, as much of it as the desk needs."""

    user_id: int
    chat_id: int
    message_id: int
    language: Language
    text: str | None


class SupportBot:
    """Telegram users on one side, the support desk on the other."""

    def __init__(
        self,
        client: AsyncSupportClient,
        telegram: TelegramChat,
        state: State,
        *,
        delivery_timeout: float = DEFAULT_DELIVERY_TIMEOUT,
        retry_delay: float = 1.0,
    ) -> None:
        self.client = client
        self.telegram = telegram
        self.state = state
        self.delivery_timeout = delivery_timeout
        self.retry_delay = retry_delay
        #: ticket id -> the Telegram user (= private chat) it belongs to.
        self.chats: dict[int, int] = {}
        #: Tickets this process resolved on the user's /close: answered already.
        self.closed_here: set[int] = set()

    # -- Telegram -> desk ----------------------------------------------------------

    async def remember_language(self, user_id: int, language: Language) -> None:
        if self.state.languages.get(user_id) != language:
            self.state.languages[user_id] = language
            await self.state.save()

    def language(self, user_id: int) -> Language:
        return self.state.languages.get(user_id, "en")

    async def reply(self, incoming: Incoming, key: str, **values: object) -> None:
        await self.telegram.send(incoming.chat_id, text_for(incoming.language, key, **values))

    async def on_start(self, incoming: Incoming) -> None:
        await self.remember_language(incoming.user_id, incoming.language)
        await self.reply(incoming, "start")

    async def on_not_text(self, incoming: Incoming) -> None:
        await self.reply(incoming, "only_text")

    async def on_text(self, incoming: Incoming) -> None:
        """Post the text to the user's open ticket, or open one; answer any refusal."""
        assert incoming.text is not None
        await self.remember_language(incoming.user_id, incoming.language)
        key = idempotency_key(incoming.chat_id, incoming.message_id)
        try:
            opened = await self._retrying(
                lambda: self._post(incoming.user_id, incoming.text or "", key)
            )
        except BadRequestError as error:
            if "text" in (error.errors or {}):
                await self.reply(incoming, "too_long")
                return
            log.error("the desk refused message %s: %s", key, error)
            await self.reply(incoming, "undelivered")
            return
        except SupportError as error:
            log.error("message %s not delivered: %s", key, error)
            await self.reply(incoming, "undelivered")
            return
        if opened is not None:
            await self.reply(incoming, "opened", id=opened.id)

    async def _post(self, user_id: int, text: str, key: str) -> Ticket | None:
        """Post; the ticket if this opened one. Safe to repeat with the same *key*."""
        for ticket in reversed(await self.client.tickets.list(user_id=user_id, resolved=False)):
            try:
                await self.client.messages.send(ticket.id, text, idempotency_key=key)
            except ConflictError as conflict:
                if conflict.code != "ticket_resolved":
                    raise
                continue  # resolved since we looked: try the next, or open one
            self.chats[ticket.id] = user_id
            return None
        ticket = await self.client.tickets.create(
            user_id=user_id, title=ticket_title(text), text=text, idempotency_key=key
        )
        self.chats[ticket.id] = user_id
        # A key the desk has seen returns the ticket it opened; resolved means
        # this is an old message delivered again, already posted.
        return None if ticket.resolved else ticket

    async def _retrying(self, call: Callable[[], Awaitable[Ticket | None]]) -> Ticket | None:
        """*call* again while the desk is unreachable, for up to ``delivery_timeout`` s.

        (The SDK already retries each request a couple of times; this covers a
        desk that is down for longer, e.g. restarting.)
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.delivery_timeout
        delay = self.retry_delay
        while True:
            try:
                return await call()
            except TRANSIENT as error:
                if loop.time() + delay > deadline:
                    raise
                log.warning("the desk is unreachable (%s); retrying in %.1fs", error, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def on_close(self, incoming: Incoming) -> None:
        """``/close``: resolve the user's open tickets."""
        await self.remember_language(incoming.user_id, incoming.language)
        try:
            tickets = await self.client.tickets.list(user_id=incoming.user_id, resolved=False)
            if not tickets:
                await self.reply(incoming, "nothing_to_close")
                return
            for ticket in tickets:
                self.closed_here.add(ticket.id)
                await self.client.tickets.resolve(ticket.id)
                await self.reply(incoming, "closed", id=ticket.id)
        except SupportError as error:
            log.error("/close for user %s failed: %s", incoming.user_id, error)
            await self.reply(incoming, "undelivered")

    # -- desk -> Telegram ----------------------------------------------------------

    async def start_cursor(self) -> str:
        """The saved cursor, or the desk's present one (saved at once, so a crash
        before the first event does not lose what comes after)."""
        while self.state.cursor is None:
            try:
                self.state.cursor = (await self.client.events.poll(timeout=0)).cursor
            except TRANSIENT as error:
                log.warning("the desk is unreachable (%s); retrying in 5s", error)
                await asyncio.sleep(5)
                continue
            await self.state.save()
        return self.state.cursor

    async def follow_desk(self) -> None:
        """Forward the desk's events to users' chats, forever, saving the cursor."""
        stream = self.client.events.stream(after=await self.start_cursor(), transport="auto")
        log.info("following the desk's events from %s", self.state.cursor)
        async for event in stream:
            if isinstance(event, StreamReset):
                log.warning(
                    "stream.reset: the saved cursor is older than the desk keeps events; "
                    "replies from before %s may not have been forwarded; going on from there",
                    event.event_id,
                )
            else:
                await self._until_handled(event)
            self.state.cursor = event.event_id
            await self.state.save()

    async def _until_handled(self, event: Event) -> None:
        delay = self.retry_delay
        while True:
            try:
                await self.handle_event(event)
                return
            except TRANSIENT as error:
                log.warning(
                    "event %s: the desk is unreachable (%s); retrying", event.event_id, error
                )
                await asyncio.sleep(delay * random.uniform(0.5, 1.0))
                delay = min(delay * 2, 30.0)

    async def handle_event(self, event: Event) -> None:
        if isinstance(event, TicketCreated):
            self.chats[event.ticket.id] = event.ticket.user.telegram_id
        elif isinstance(event, MessageNew):
            if event.message.sender == "supp":
                await self._to_user(event.message.ticket, text=event.message.text)
        elif isinstance(event, TicketAssigned):
            await self._to_user(event.id, announce="assigned")
        elif isinstance(event, TicketResolved):
            if event.id in self.closed_here:
                self.closed_here.discard(event.id)  # the user closed it; answered already
            else:
                await self._to_user(event.id, announce="resolved")
        elif isinstance(event, TicketReopened):
            await self._to_user(event.id, announce="reopened")

    async def _to_user(self, ticket_id: int, *, text: str = "", announce: str = "") -> None:
        chat = await self._chat_of(ticket_id)
        if chat is None:
            return
        if announce:
            text = text_for(self.language(chat), announce, id=ticket_id)
        if not await self.telegram.send(chat, text, patient=True):
            log.warning("ticket %s: chat %s did not take the message", ticket_id, chat)

    async def _chat_of(self, ticket_id: int) -> int | None:
        if ticket_id not in self.chats:
            try:
                ticket = await self.client.tickets.get(ticket_id)
            except NotFoundError:
                log.warning("ticket %s is gone; its event is skipped", ticket_id)
                return None
            self.chats[ticket_id] = ticket.user.telegram_id
        return self.chats[ticket_id]


# -- wiring ------------------------------------------------------------------------


def incoming(message: TelegramMessage) -> Incoming | None:
    user = message.from_user
    if user is None:
        return None
    return Incoming(
        user_id=user.id,
        chat_id=message.chat.id,
        message_id=message.message_id,
        language=language_of(user.language_code),
        text=message.text,
    )


def build_dispatcher(support: SupportBot) -> Dispatcher:
    """Private chats only; commands first, then text, then anything else."""
    router = Router(name="support")
    router.message.filter(F.chat.type == "private")

    def adapt(
        handler: Callable[[Incoming], Awaitable[None]],
    ) -> Callable[[TelegramMessage], Awaitable[None]]:
        async def handle(message: TelegramMessage) -> None:
            parsed = incoming(message)
            if parsed is not None:
                await handler(parsed)

        return handle

    router.message.register(adapt(support.on_start), Command("start", "help"))
    router.message.register(adapt(support.on_close), Command("close"))
    router.message.register(adapt(support.on_text), F.text)
    router.message.register(adapt(support.on_not_text))
    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    return dispatcher


async def check_desk(client: AsyncSupportClient, settings: Settings) -> str | None:
    """The desk's present cursor, or None while it is unreachable.

    Refused credentials and wrong mounts stop the bot; an unreachable desk does not.
    """
    try:
        return (await client.events.poll(timeout=0)).cursor
    except REFUSED:
        raise ConfigError(
            f"SUPPORT_API_KEY was refused by the desk at {settings.base_url}"
        ) from None
    except NotFoundError:
        raise ConfigError(
            f"SUPPORT_BASE_URL {settings.base_url} is not where the support app is mounted "
            "(events/ answered 404)"
        ) from None
    except TRANSIENT as error:
        log.warning("the desk at %s is not reachable yet (%s); going on", settings.base_url, error)
        return None


async def check_telegram(bot: Bot, settings: Settings) -> None:
    where = settings.api_url or "api.telegram.org"
    for attempt in range(3):
        try:
            me = await bot.get_me()
        except TelegramUnauthorizedError:
            raise ConfigError(f"TELEGRAM_BOT_TOKEN was refused by {where}") from None
        except (TelegramNetworkError, TelegramServerError, TelegramNotFound) as error:
            if attempt == 2:
                raise ConfigError(
                    f"cannot reach the Telegram Bot API at {where}: {error}"
                ) from None
            await asyncio.sleep(1 + attempt)
        else:
            log.info("running as @%s", me.username)
            return


async def run(settings: Settings) -> None:
    state = State.load(settings.state_path)
    try:
        await state.save()  # fail now, not after the first event, if it can't be written
    except OSError as error:
        raise ConfigError(
            f"SUPPORT_BOT_STATE {settings.state_path} cannot be written: {error}"
        ) from None
    session = (
        AiohttpSession(api=TelegramAPIServer.from_base(settings.api_url))
        if settings.api_url
        else AiohttpSession()
    )
    bot = Bot(settings.token, session=session)
    async with AsyncSupportClient(settings.base_url, api_key=settings.api_key) as client:
        try:
            await check_telegram(bot, settings)
            present = await check_desk(client, settings)
            if state.cursor is None and present is not None:
                state.cursor = present  # a first start: from now on
                await state.save()
            support = SupportBot(
                client, Telegram(bot), state, delivery_timeout=settings.delivery_timeout
            )
            dispatcher = build_dispatcher(support)
            desk = asyncio.create_task(support.follow_desk(), name="desk")
            # One update at a time, confirmed to Telegram only once handled.
            polling = asyncio.create_task(
                dispatcher.start_polling(bot, handle_as_tasks=False, close_bot_session=False),
                name="telegram",
            )
            done, _ = await asyncio.wait({desk, polling}, return_when=asyncio.FIRST_COMPLETED)
            for task in (desk, polling):
                if task not in done:
                    task.cancel()
            await asyncio.gather(desk, polling, return_exceptions=True)
            for task in done:
                failure = None if task.cancelled() else task.exception()
                if isinstance(failure, REFUSED):
                    raise ConfigError(f"the desk stopped accepting SUPPORT_API_KEY: {failure}")
                if failure is not None:
                    raise failure
        finally:
            await bot.session.close()


def configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request is noise


def main(env: Mapping[str, str] | None = None) -> int:
    """Run until SIGINT/SIGTERM; 2 (after one line on stderr) when a setting is wrong."""
    try:
        settings = Settings.from_env(os.environ if env is None else env)
        asyncio.run(run(settings))
    except ConfigError as error:
        sys.stderr.write(f"telegram_bot: {error}\n")
        return 2
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    configure_logging()
    raise SystemExit(main())

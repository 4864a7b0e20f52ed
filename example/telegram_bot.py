"""A project's own Telegram bot with the support desk inside it.

The bot has a greeting of its own (``/start``); everything else a user writes
in a private chat goes to the desk through ``support_client.telegram``'s
router, and managers' replies come back to the chat. Set it up as
``python -m support_client.telegram`` (docs/bot.md)::

    pip install "chatlabs-django-support[bot]"
    export TELEGRAM_BOT_TOKEN=123456:ABC…   # from @BotFather
    export SUPPORT_BASE_URL=http://127.0.0.1:8000/support/
    export SUPPORT_API_KEY=…                 # manage.py support_create_bot_key telegram-bot
    python example/telegram_bot.py

A missing or refused setting stops it at start with one line on stderr
(exit status 2).
"""

from __future__ import annotations

from aiogram import Dispatcher, Router
from aiogram.filters import CommandStart
from aiogram.types import Message

from support_client.telegram import Settings, configure_logging, connect, main, support_router

#: The project's own handlers: here only a greeting.
project = Router(name="acme")

GREETING = {
    "en": (
        "Welcome to Acme! Ask us anything here: your message goes to our support "
        "team, and their answer comes to this chat.\n\nSend /close when you're done."
    ),
    "ru": (
        "Добро пожаловать в Acme! Задайте здесь любой вопрос: сообщение получит наша "
        "поддержка, и ответ придёт в этот чат.\n\nКогда закончите, отправьте /close."
    ),
}


@project.message(CommandStart())
async def start(message: Message) -> None:
    user = message.from_user
    russian = user is not None and (user.language_code or "").lower().startswith("ru")
    await message.answer(GREETING["ru" if russian else "en"])


async def serve(settings: Settings) -> None:
    """Connect to Telegram and the desk, then poll: the project's router first."""
    async with connect(settings) as desk:
        dispatcher = Dispatcher()
        dispatcher.include_router(project)
        dispatcher.include_router(support_router(desk.support))
        # One update at a time, confirmed to Telegram only once handled: restart-safe.
        await dispatcher.start_polling(desk.bot, handle_as_tasks=False, close_bot_session=False)


if __name__ == "__main__":
    configure_logging()
    raise SystemExit(main(runner=serve, prog="telegram_bot"))

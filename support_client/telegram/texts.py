"""What the bot says to users, in English and Russian (after their Telegram language).

A project that wants other words changes the entries of :data:`TEXTS` before
the bot starts (the keys are the same in every language).
"""

from __future__ import annotations

from typing import Literal

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
        "resolved_auto": (
            "Your request #{id} was closed as there has been no news for a while. If you "
            "still need help, just write here: that opens a new request."
        ),
        "rate": "How would you rate the help with request #{id}? 1 is poor, 5 is excellent.",
        "rated": "You rated request #{id}: {stars} ({score} of 5). Thank you!",
        "rated_thanks": "Thank you for your rating!",
        "rated_already": "You have rated this request already.",
        "rate_not_resolved": "This request is open again, so it can't be rated now.",
        "rate_gone": "This request is no longer there.",
        "rate_later": "Support can't be reached right now; please press again a little later.",
        "rate_not_ours": "This button no longer works.",
        "comment_ask": (
            "Would you like to tell us more? Reply to this message with a comment "
            "(or just ignore it)."
        ),
        "comment_placeholder": "Your comment",
        "comment_thanks": "Thank you, your comment is saved.",
        "reopened": "Your request #{id} is open again.",
        "closed": "Request #{id} is closed. Write here any time to open a new one.",
        "nothing_to_close": "You have no open request.",
        "not_supported": (
            "Sorry, this kind of message can't reach support. Please send text, photos, "
            "files or voice messages."
        ),
        "too_big": (
            "Sorry, this file is over {mb} MB, the largest a bot can receive from Telegram, "
            "so it did not reach support. Please send a smaller file, or a link to it."
        ),
        "file_refused": (
            "Sorry, support does not accept this file (its type or its size). "
            "Please send it another way, e.g. as a PDF or a picture."
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
        "resolved_auto": (
            "Ваше обращение №{id} закрыто: давно не было новостей. Если помощь ещё нужна, "
            "просто напишите сюда: откроется новое обращение."
        ),
        "rate": "Как вы оцениваете помощь по обращению №{id}? 1 — плохо, 5 — отлично.",
        "rated": "Ваша оценка обращения №{id}: {stars} ({score} из 5). Спасибо!",
        "rated_thanks": "Спасибо за оценку!",
        "rated_already": "Вы уже оценили это обращение.",
        "rate_not_resolved": "Это обращение снова открыто, оценить его сейчас нельзя.",
        "rate_gone": "Этого обращения больше нет.",
        "rate_later": "Поддержка сейчас недоступна; нажмите, пожалуйста, ещё раз чуть позже.",
        "rate_not_ours": "Эта кнопка больше не работает.",
        "comment_ask": (
            "Хотите рассказать подробнее? Ответьте на это сообщение комментарием "
            "(или просто пропустите его)."
        ),
        "comment_placeholder": "Ваш комментарий",
        "comment_thanks": "Спасибо, ваш комментарий сохранён.",
        "reopened": "Ваше обращение №{id} снова открыто.",
        "closed": "Обращение №{id} закрыто. Пишите сюда в любое время, чтобы открыть новое.",
        "nothing_to_close": "У вас нет открытых обращений.",
        "not_supported": (
            "Извините, такие сообщения не доходят до поддержки. Отправьте, пожалуйста, "
            "текст, фото, файл или голосовое сообщение."
        ),
        "too_big": (
            "Извините, этот файл больше {mb} МБ — бот не может получить от Telegram файл "
            "такого размера, поэтому он не дошёл до поддержки. Отправьте, пожалуйста, "
            "файл поменьше или ссылку на него."
        ),
        "file_refused": (
            "Извините, поддержка не принимает этот файл (из-за типа или размера). "
            "Отправьте его, пожалуйста, иначе, например в PDF или картинкой."
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
    """The text *key* in *language*, with *values* filled in."""
    return TEXTS[language][key].format(**values)

"""What the staff group says: into the group (in its language) and to a member (in theirs).

A project that wants other words changes the entries of :data:`TEXTS` before the
bot starts (the keys are the same in every language).
"""

from __future__ import annotations

from support_client.telegram.texts import Language

#: The staff group's texts: what it posts into the group (in the group's language,
#: English unless a project says otherwise) and its answers to a member (in theirs).
TEXTS: dict[Language, dict[str, str]] = {
    "en": {
        "how_to_link": (
            "Your Telegram account is not linked to a manager, so this was not sent. "
            "In the console choose “Link Telegram”, then send /link CODE to me in a private chat."
        ),
        "not_allowed": "Not sent: your account may not answer tickets (inactive, or without the "
        "right to manage tickets).",
        "assigned_to_other": "Not sent: ticket #{id} is assigned to another manager.",
        "already_assigned": "Ticket #{id} is already taken by another manager.",
        "ticket_resolved": "Not sent: ticket #{id} is resolved. /reopen it first.",
        "ticket_gone": "Ticket #{id} is gone from the desk.",
        "refused": "The desk refused it: {detail}",
        "unreachable": "The desk is unreachable right now; nothing was changed. Please try again.",
        "no_arguments": "/{command} takes no arguments: send just /{command} in the "
        "ticket's topic.",
        "not_in_topic": "/{command} works in a ticket's topic.",
        "unknown_command": "Unknown command. In a ticket's topic: /take, /release, "
        "/resolve, /reopen, /note.",
        "note_usage": "Send /note and the note in a ticket's topic, for example: "
        "/note VIP, refund without asking. Managers see it in the console; the user never does.",
        "note_saved": "📝 Note saved.",
        "note_unanswered": "The desk did not answer in time, so the note may or may not be "
        "saved: look in the console before writing it again.",
        "anonymous": "Anonymous admins cannot answer tickets: turn off “Remain anonymous” "
        "and write as yourself.",
        "link_in_group": "Send /link CODE to me in a private chat, not here; and get a new code "
        "in the console, since this group has seen this one.",
        "link_usage": "Send /link and the code the console shows, for example: /link K7QM-2XPA",
        "link_invalid": "That code is wrong, used or expired. Get a new one in the console "
        "(“Link Telegram”) and send it within a few minutes.",
        "link_refused": "This bot cannot link managers: its desk key lacks the staff capability.",
        "linked": "Linked: in the staff group you now answer as {name}.",
        "taken": "👤 Taken by {name}.",
        "released": "The ticket is unassigned.",
        "resolved": "✅ Resolved.",
        "reopened": "↩️ Reopened.",
        "edited": "✏️ {name} edited: {text}",
        "deleted": "🗑 A reply was deleted.",
        "rated": "⭐ Rated {score}/5 {stars}",
        "rated_comment": "⭐ Rated {score}/5 {stars}: “{comment}”",
        "blocked": "⛔ {name} ({id}) is blocked: the desk takes nothing from them.",
        "unblocked": "✅ {name} ({id}) is unblocked.",
        "said": "{name}: {text}",
        "support": "Support",
        "summary_recreated": "This ticket's topic was deleted; here it is again.",
        "summary_earlier": "This ticket began before its topic; where it stands:",
        "summary": "#{id} · {title}\nFrom {who}, opened {opened}. {state}.",
        "summary_last": "Latest messages:",
        "state_open": "Open, unassigned",
        "state_assigned": "Open, assigned to {name}",
        "state_resolved": "Resolved",
        "file_gone": "(a file of this message is gone from the desk)",
        "file_too_big": "Not sent: Telegram gives bots files of up to 20 MB; share a link instead.",
        "file_failed": "Not sent: the file could not be fetched from Telegram; please "
        "send it again.",
    },
    "ru": {
        "how_to_link": (
            "Ваш аккаунт Telegram не привязан к менеджеру, поэтому сообщение не отправлено. "
            "В консоли выберите «Привязать Telegram», затем отправьте мне /link КОД "
            "в личном чате."
        ),
        "not_allowed": "Не отправлено: вашей учётной записи нельзя отвечать на обращения "
        "(она неактивна или без права работать с обращениями).",
        "assigned_to_other": "Не отправлено: обращение №{id} назначено другому менеджеру.",
        "already_assigned": "Обращение №{id} уже взял другой менеджер.",
        "ticket_resolved": "Не отправлено: обращение №{id} решено. Сначала /reopen.",
        "ticket_gone": "Обращения №{id} больше нет.",
        "refused": "Поддержка не приняла это: {detail}",
        "unreachable": "Поддержка сейчас недоступна; ничего не изменено. Попробуйте ещё раз.",
        "no_arguments": "У /{command} нет аргументов: отправьте просто /{command} в теме "
        "обращения.",
        "not_in_topic": "/{command} работает в теме обращения.",
        "unknown_command": "Неизвестная команда. В теме обращения: /take, /release, /resolve, "
        "/reopen, /note.",
        "note_usage": "Отправьте /note и текст заметки в теме обращения, например: "
        "/note VIP, вернуть деньги без вопросов. Менеджеры видят её в консоли, пользователь — "
        "никогда.",
        "note_saved": "📝 Заметка сохранена.",
        "note_unanswered": "Поддержка не ответила вовремя, и заметка могла сохраниться, а могла "
        "и нет: проверьте в консоли, прежде чем писать её снова.",
        "anonymous": "Анонимные администраторы не могут отвечать на обращения: выключите "
        "«Анонимность» и пишите от своего имени.",
        "link_in_group": "Отправьте /link КОД мне в личном чате, а не здесь; и получите "
        "в консоли новый код: этот уже видела группа.",
        "link_usage": "Отправьте /link и код из консоли, например: /link K7QM-2XPA",
        "link_invalid": "Код неверный, уже использован или истёк. Получите новый в консоли "
        "(«Привязать Telegram») и отправьте его в течение нескольких минут.",
        "link_refused": "Этот бот не может привязывать менеджеров: у его ключа нет права staff.",
        "linked": "Готово: в группе поддержки вы отвечаете как {name}.",
        "taken": "👤 Взял(а) {name}.",
        "released": "Обращение ни за кем не закреплено.",
        "resolved": "✅ Решено.",
        "reopened": "↩️ Открыто снова.",
        "edited": "✏️ {name} изменил(а): {text}",
        "deleted": "🗑 Ответ удалён.",
        "rated": "⭐ Оценка {score}/5 {stars}",
        "rated_comment": "⭐ Оценка {score}/5 {stars}: «{comment}»",
        "blocked": "⛔ {name} ({id}) заблокирован(а): поддержка больше ничего не принимает "
        "от этого пользователя.",
        "unblocked": "✅ {name} ({id}) разблокирован(а).",
        "said": "{name}: {text}",
        "support": "Поддержка",
        "summary_recreated": "Тему этого обращения удалили; вот она снова.",
        "summary_earlier": "Обращение началось раньше своей темы; где оно сейчас:",
        "summary": "№{id} · {title}\nОт {who}, открыто {opened}. {state}.",
        "summary_last": "Последние сообщения:",
        "state_open": "Открыто, ни за кем не закреплено",
        "state_assigned": "Открыто, у {name}",
        "state_resolved": "Решено",
        "file_gone": "(файла этого сообщения больше нет в поддержке)",
        "file_too_big": "Не отправлено: Telegram отдаёт ботам файлы до 20 МБ; пришлите ссылку.",
        "file_failed": "Не отправлено: не удалось получить файл из Telegram; отправьте "
        "его ещё раз.",
    },
}


def text(key: str, language: Language = "en", **values: object) -> str:
    return TEXTS[language][key].format(**values)

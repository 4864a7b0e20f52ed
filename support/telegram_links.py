"""Managers' Telegram links: one-time link codes, the link itself, and acting for a manager.

A manager gets a code in the console (:func:`issue_code`) and sends it to the
staff bot in a private chat; the bot confirms it with the sender's Telegram id
(:func:`confirm_code`). From then on the bot, with a *staff* key, may act for
that manager (:func:`acting_actor`): a reply written in the ticket's topic of
the staff group is that manager's reply, under every rule of the service layer.

A code is 8 characters of :data:`ALPHABET` (no 0/O, no 1/I: read off a screen
and typed on a phone), shown as ``K7QM-2XPA`` and accepted with or without the
dash, in any case. It is a credential, so only a digest keyed with
``SECRET_KEY`` is stored, it lives ``SUPPORT_TELEGRAM_LINK_CODE_TTL``, works
once, and a new one voids the manager's unused ones.

Nothing here is remembered between requests: :func:`acting_actor` reads the
key, the link and the manager's permission afresh each time, so unlinking,
deactivation, a lost permission or a revoked key apply on the next request.
The permission checks of the endpoints are the service layer's
(:mod:`support.services`), which calls these.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

from support.actors import Actor, is_manager
from support.conf import support_settings
from support.exceptions import InvalidLinkCode, PermissionDenied, TelegramNotLinked
from support.models import BotKey, TelegramAccount, TelegramLinkCode, Ticket

#: What a code is made of: digits and capitals without the look-alikes 0, O, 1 and I.
ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
#: Characters of a code (32**8 = 2**40 codes).
CODE_LENGTH = 8
#: What ``SECRET_KEY`` is salted with for the codes' digests.
_DIGEST_SALT = "support.telegram_links.code"


@dataclass(frozen=True, slots=True)
class LinkCode:
    """A code just issued: its text (shown once, as ``K7QM-2XPA``) and when it stops working."""

    code: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class TopicChange:
    """What :func:`store_topic` found and left: the stored topic, and whether it changed."""

    chat_id: int
    topic_id: int
    changed: bool


def display(raw: str) -> str:
    """``K7QM2XPA`` as shown: ``K7QM-2XPA``."""
    half = CODE_LENGTH // 2
    return f"{raw[:half]}-{raw[half:]}"


def normalize(code: str) -> str | None:
    """The code as issued (capitals, no dash or spaces), or ``None`` if it cannot be one."""
    text = "".join(code.split()).replace("-", "").upper()
    if len(text) != CODE_LENGTH or any(char not in ALPHABET for char in text):
        return None
    return text


def digest(normalized: str) -> str:
    """What is stored of a code: HMAC-SHA256 keyed from ``SECRET_KEY`` (64 hex characters)."""
    return salted_hmac(_DIGEST_SALT, normalized, algorithm="sha256").hexdigest()


def issue_code(user: Any) -> LinkCode:
    """A new code for *user*; their unused codes stop working, expired ones are removed."""
    now = timezone.now()
    expires_at = now + support_settings.TELEGRAM_LINK_CODE_TTL
    with transaction.atomic():
        TelegramLinkCode.objects.filter(expires_at__lte=now).delete()
        TelegramLinkCode.objects.filter(user=user, used_at__isnull=True).delete()
        while True:
            raw = "".join(secrets.choice(ALPHABET) for _i in range(CODE_LENGTH))
            hashed = digest(raw)
            # One live code per digest, so confirming one names one manager.
            if not TelegramLinkCode.objects.filter(digest=hashed).exists():
                break
        TelegramLinkCode.objects.create(user=user, digest=hashed, expires_at=expires_at)
    return LinkCode(code=display(raw), expires_at=expires_at)


def confirm_code(code: str, telegram_id: int) -> TelegramAccount:
    """Link the manager who was issued *code* to *telegram_id*; the code is used up.

    Wrong, used and expired codes get one answer, :class:`InvalidLinkCode` (as
    does the code of a user who is no longer a manager). The Telegram id moves
    from any other manager who had it; the manager's previous id is replaced.
    """
    normalized = normalize(code)
    if normalized is None:
        raise InvalidLinkCode()
    for attempt in range(2):
        try:
            return _confirm(digest(normalized), telegram_id)
        except IntegrityError:
            # Another confirmation took the same id or manager between our
            # delete and our write; the transaction (and the code's use) rolled
            # back, so once more, now that theirs has committed.
            if attempt:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _confirm(hashed: str, telegram_id: int) -> TelegramAccount:
    now = timezone.now()
    with transaction.atomic():
        link_code = (
            TelegramLinkCode.objects.select_for_update()
            .select_related("user")
            .filter(digest=hashed, used_at__isnull=True, expires_at__gt=now)
            .first()
        )
        if link_code is None or not is_manager(link_code.user):
            raise InvalidLinkCode()
        link_code.used_at = now
        link_code.save(update_fields=["used_at"])
        user = link_code.user
        TelegramAccount.objects.filter(telegram_id=telegram_id).exclude(user=user).delete()
        account, _created = TelegramAccount.objects.update_or_create(
            user=user, defaults={"telegram_id": telegram_id, "linked_at": now}
        )
    return account


def link_of(user: Any) -> TelegramAccount | None:
    """*user*'s link, or ``None``."""
    return TelegramAccount.objects.filter(user=user).first()


def unlink(user: Any) -> bool:
    """Remove *user*'s link (and their unused codes); whether there was one."""
    with transaction.atomic():
        TelegramLinkCode.objects.filter(user=user, used_at__isnull=True).delete()
        deleted, _by_model = TelegramAccount.objects.filter(user=user).delete()
    return bool(deleted)


def is_staff_key(key: BotKey | None) -> bool:
    """Whether *key* is, in the database now, an active key with the staff capability."""
    return key is not None and BotKey.objects.active().filter(pk=key.pk, staff=True).exists()


def acting_actor(key: BotKey, telegram_id: int) -> Actor:
    """*key* acting for the manager linked to *telegram_id*, every condition read now.

    403 ``permission_denied`` for a key without the staff capability (or
    revoked since), 403 ``telegram_not_linked`` for an id no manager linked,
    403 ``permission_denied`` for a manager who is inactive or lacks
    ``support.manage_tickets``.
    """
    if not is_staff_key(key):
        raise PermissionDenied(_("This bot key may not act for managers (it is not a staff key)."))
    account = TelegramAccount.objects.select_related("user").filter(telegram_id=telegram_id).first()
    if account is None:
        raise TelegramNotLinked()
    if not is_manager(account.user):
        raise PermissionDenied(
            _("The manager linked to this Telegram account may not answer tickets.")
        )
    return Actor.acting(account.user, key)


def store_topic(ticket: Ticket, chat_id: int, topic_id: int, replaces: int | None) -> TopicChange:
    """Set *ticket*'s staff-group topic once; the caller holds the ticket's row lock.

    A ticket without a topic takes this one. One with a topic keeps it, unless
    *replaces* names it (the bot recreated a deleted topic): then the new one
    replaces it. Either way the stored topic is returned, so a caller that lost
    a race learns the winner's.
    """
    stored = ticket.telegram_topic_id
    if (
        stored is None
        or ticket.telegram_chat_id is None
        or (replaces is not None and replaces == stored)
    ):
        changed = (ticket.telegram_chat_id, stored) != (chat_id, topic_id)
        if changed:
            ticket.telegram_chat_id = chat_id
            ticket.telegram_topic_id = topic_id
            ticket.save(update_fields=["telegram_chat_id", "telegram_topic_id"])
        return TopicChange(chat_id, topic_id, changed)
    return TopicChange(ticket.telegram_chat_id, stored, changed=False)

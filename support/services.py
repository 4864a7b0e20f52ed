"""Every change to tickets and messages, one function each.

REST views, WebSocket commands, the admin and management commands call
these and nothing else writes the models. Each function checks the actor's
permission, validates values, writes in one transaction, appends its event
to the log in that same transaction, and leaves live delivery to the commit
(:mod:`support.events`). A function that raises has written nothing.

Rules:

* bots open tickets and write as the user; managers write as support;
* a manager's write on a ticket assigned to someone else is
  ``assigned_to_other`` (assigning it is ``already_assigned``);
* a manager replying to an unassigned ticket takes it first;
* nobody writes messages on a resolved ticket (``ticket_resolved``), except
  the user within ``SUPPORT_REOPEN_WINDOW`` of its resolution: that reopens it;
* a blocked user (:mod:`support.blocking`) opens and posts nothing (``user_blocked``);
* a new ticket links to the user's ticket resolved last (``previous``);
* resolve, reopen, unassign and assign-to-self are idempotent: no change, no event;
* a staff bot acting for a linked manager (:meth:`Actor.acting
  <support.actors.Actor.acting>`) is that manager in every rule; its messages
  are marked ``via_staff_chat``;
* managers link their Telegram account themselves (a link code), staff bot keys
  confirm links and store tickets' topics (:mod:`support.telegram_links`).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.apps import apps
from django.core.files import File
from django.db import IntegrityError, connections, router, transaction
from django.db.models import F, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.db.transaction import TransactionManagementError
from django.utils import timezone
from django.utils.translation import gettext as _

from support import attachments, blocking, events, profiles, telegram_links
from support.actors import Actor
from support.conf import support_settings, telegram_user_model_label
from support.exceptions import (
    AlreadyAssigned,
    AssignedToOther,
    IdempotencyConflict,
    Invalid,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    ShortcutTaken,
    TicketResolved,
    UnknownUser,
    UserBlocked,
)
from support.inputs import (
    IDEMPOTENCY_KEY_MAX_LENGTH,
    INT64_MAX,
    INT64_MIN,
    SHORTCUT_MAX_LENGTH,
    SHORTCUT_PATTERN,
    string_problem,
)
from support.models import BotKey, Message, SavedReply, Side, TelegramAccount, Ticket
from support.serializers import (
    message_data,
    remember_attachments,
    remember_profile,
    remember_rating,
    ticket_data,
)


@dataclass(frozen=True, slots=True)
class OpenedTicket:
    """What :func:`open_ticket_once` did: the ticket, and whether it is new."""

    ticket: Ticket
    created: bool


@dataclass(frozen=True, slots=True)
class PostedMessage:
    """What :func:`post_message` did: the message, and whether it is new; for a new one,
    *data*, its representation as its ``ticket.message.new`` carried it (an answer needs
    to build it no second time)."""

    message: Message
    created: bool
    data: dict[str, Any] | None = None


# -- checks ------------------------------------------------------------------


def _require(actor: Actor, *, managers: bool = True, bots: bool = True) -> None:
    if actor.manager is None and actor.bot is None:
        raise NotAuthenticated()
    if not actor.is_allowed():
        raise PermissionDenied()
    if actor.is_bot and not bots:
        raise PermissionDenied(_("Bots cannot do this; it is a manager's action."))
    if not actor.is_bot and not managers:
        raise PermissionDenied(_("Managers cannot do this; it is a bot's action."))


def _locked_ticket(ticket_id: Any, *, lock: bool = True, blocked: bool = False) -> Ticket:
    """The ticket, row-locked until the transaction ends, so checks hold at commit
    (``lock=False``: as it is now, for a look before the transaction). *blocked*: with
    ``user_blocked``, whether its user is blocked, read in the same query.

    Every write starts here, so the query is compiled once (:class:`_TicketQuery`) and
    then only run: building it through the ORM on each call was a third of a bot's post
    in the worker.
    """
    if isinstance(ticket_id, bool) or not isinstance(ticket_id, int):
        raise Invalid.field("ticket_id", _("A ticket id is an integer."))
    # Beyond 64 bits no row has it, and the database driver cannot even bind it
    # (the ORM's own lookups answer "no row" for such values; the cursor raises).
    in_range = INT64_MIN <= ticket_id <= INT64_MAX
    ticket = _TicketQuery.get(lock, blocked).run(ticket_id) if in_range else None
    if ticket is None:
        raise NotFound(_("Ticket %(id)s does not exist.") % {"id": ticket_id})
    return ticket


#: A ticket id no caller passes (it is negative), to find its parameter in the compiled query.
_ID_MARK = -7_294_031_586_613_071_457
_compiled = threading.local()  # per thread: (alias, vendor, lock, blocked) -> _TicketQuery


@dataclass(frozen=True, slots=True)
class _TicketQuery:
    """:func:`_locked_ticket`'s query as the ORM compiles it for this thread's connection
    (its SQL, and what turns a row into the ticket: the converters, the fields, the
    annotation), run as ``.get(pk=...)`` runs it, less its ``LIMIT`` (a primary key finds
    one row at most)."""

    alias: str
    lock: bool
    sql: str
    params: tuple[Any, ...]
    slot: int  # params[slot] is the ticket's id
    converters: dict[int, Any]
    fields: tuple[int, int, list[str]]  # the model's columns: start, end, attnames
    annotations: dict[str, int]

    @classmethod
    def get(cls, lock: bool, blocked: bool) -> _TicketQuery:
        alias = router.db_for_write(Ticket) if lock else router.db_for_read(Ticket)
        key = (alias, connections[alias].vendor, lock, blocked)
        known: dict[tuple[str, str, bool, bool], _TicketQuery] | None
        known = getattr(_compiled, "queries", None)
        if known is None:
            known = _compiled.queries = {}
        query = known.get(key)
        if query is None:
            query = known[key] = cls.compile(alias, lock, blocked)
        return query

    @classmethod
    def compile(cls, alias: str, lock: bool, blocked: bool) -> _TicketQuery:
        tickets = Ticket.objects.using(alias)
        tickets = tickets.select_for_update() if lock else tickets.all()
        if blocked:
            tickets = tickets.annotate(user_blocked=blocking.blocked_annotation())
        compiler = tickets.filter(pk=_ID_MARK).order_by().query.get_compiler(using=alias)
        sql, params = compiler.as_sql()
        assert list(params).count(_ID_MARK) == 1, (sql, params)
        select = [column for column, _sql, _alias in compiler.select[: compiler.col_count]]
        assert compiler.klass_info is not None
        fields = compiler.klass_info["select_fields"]
        start, end = fields[0], fields[-1] + 1
        names = [column.target.attname for column in select[start:end]]
        return cls(
            alias,
            lock,
            sql,
            tuple(params),
            list(params).index(_ID_MARK),
            compiler.get_converters(select),
            (start, end, names),
            dict(compiler.annotation_col_map),
        )

    def run(self, ticket_id: int) -> Ticket | None:
        connection = connections[self.alias]
        if self.lock and connection.features.has_select_for_update and connection.get_autocommit():
            # As the ORM's select_for_update() refuses it: the lock would end at once.
            raise TransactionManagementError(
                "select_for_update cannot be used outside of a transaction."
            )
        params = list(self.params)
        params[self.slot] = ticket_id
        with connection.cursor() as cursor:
            cursor.execute(self.sql, params)
            row = cursor.fetchone()
        if row is None:
            return None
        values = list(row)
        for position, (convert, expression) in self.converters.items():
            for converter in convert:
                values[position] = converter(values[position], expression, connection)
        start, end, names = self.fields
        ticket = Ticket.from_db(self.alias, names, values[start:end])
        for name, position in self.annotations.items():
            setattr(ticket, name, values[position])
        return ticket


def _check_not_others(actor: Actor, ticket: Ticket) -> None:
    """A manager may not act on a ticket another manager holds."""
    if (
        actor.manager is not None
        and ticket.support_manager_id is not None
        and ticket.support_manager_id != actor.manager_id
    ):
        raise AssignedToOther()


def _clean_string(
    value: Any, field: str, *, limit: int, strip: bool = False, allow_blank: bool = False
) -> str:
    """Every string a client sends (text, title, idempotency key), under the one rule.

    :func:`support.inputs.string_problem` is the rule (not blank, no NUL, no
    lone surrogate, at most *limit* characters as sent), the one the REST and
    WebSocket inputs check and the OpenAPI schema states; this applies it for
    every other caller (the admin, bot code in-process). *allow_blank* lets
    ``""`` through (a caption); *strip* returns the value without surrounding
    whitespace (a title).
    """
    if not isinstance(value, str):
        raise Invalid.field(field, _("Must be a string."))
    problem = string_problem(value, limit=limit, allow_empty=allow_blank)
    if problem is not None:
        raise Invalid.field(field, problem)
    return value.strip() if strip else value


def _clean_text(text: Any, *, caption: bool = False) -> str:
    """A message's text; a *caption* (of attachments) may be empty, not blank."""
    if text is None:
        if caption:
            return ""
        raise Invalid.field("text", _("This field is required."))
    limit = support_settings.MAX_TEXT_LENGTH
    return _clean_string(text, "text", limit=limit, allow_blank=caption)


def _clean_title(title: Any) -> str:
    return _clean_string(title, "title", limit=support_settings.MAX_TITLE_LENGTH, strip=True)


def _clean_idempotency_key(key: Any) -> str | None:
    if key is None:
        return None
    return _clean_string(key, "idempotency_key", limit=IDEMPOTENCY_KEY_MAX_LENGTH)


# -- tickets -----------------------------------------------------------------


def _clean_user_id(user_id: Any) -> int:
    if isinstance(user_id, bool) or not isinstance(user_id, int):
        raise Invalid.field("user_id", _("A Telegram user id is an integer."))
    if not INT64_MIN <= user_id <= INT64_MAX:
        raise Invalid.field("user_id", _("Out of range for a Telegram user id."))
    return user_id


def _telegram_user(user_id: int) -> Any:
    """The Telegram user row, created when missing and the model allows it."""
    model = apps.get_model(telegram_user_model_label())
    try:
        return model._default_manager.get(pk=user_id)
    except model.DoesNotExist:
        pass
    try:
        with transaction.atomic():
            return model._default_manager.create(pk=user_id)
    except IntegrityError:
        # Either another request created it a moment ago, or the model has
        # required fields we cannot invent.
        try:
            return model._default_manager.get(pk=user_id)
        except model.DoesNotExist:
            raise UnknownUser() from None
    except (TypeError, ValueError):
        raise UnknownUser() from None


def open_ticket(
    actor: Actor,
    *,
    user_id: Any,
    title: Any,
    text: Any = None,
    idempotency_key: Any = None,
    files: Sequence[File[Any]] = (),
    kinds: Sequence[str] | None = None,
    profile: Any = None,
) -> Ticket:
    """Open a ticket for a Telegram user, with an optional first message.

    The ticket alone; :func:`open_ticket_once` also says whether it is new.
    """
    return open_ticket_once(
        actor,
        user_id=user_id,
        title=title,
        text=text,
        idempotency_key=idempotency_key,
        files=files,
        kinds=kinds,
        profile=profile,
    ).ticket


def open_ticket_once(
    actor: Actor,
    *,
    user_id: Any,
    title: Any,
    text: Any = None,
    idempotency_key: Any = None,
    files: Sequence[File[Any]] = (),
    kinds: Sequence[str] | None = None,
    profile: Any = None,
) -> OpenedTicket:
    """Open a ticket, or return the one this bot key opened with ``idempotency_key``.

    The key is scoped to the bot key, as a bot builds it from ids of its own
    (a Telegram chat and message id): two bots may well produce the same key,
    and neither must be handed the other's ticket. A repeated key returns the
    first ticket as it is now (even resolved) and emits nothing, so a bot that
    crashed between "ticket opened" and "update confirmed" cannot open a
    second one. The same key for another user is ``idempotency_conflict``.
    The first message carries the same key, so posting it again to the ticket
    (``post_message`` with that key) also returns it rather than a copy.
    With *files*, the first message carries them as attachments (see
    :func:`post_message`); its text, the caption, may then be empty.
    *profile* is the user's Telegram profile (:mod:`support.profiles`): the
    user's row is created with their first ticket, and a changed field
    appends ``user.updated`` before ``ticket.created``.
    A blocked user is ``user_blocked``, with nothing stored (with files, looked at
    before they are read); a repeated key is still answered with its ticket.
    The new ticket's ``previous`` is the user's ticket resolved last, if any.
    """
    _require(actor, managers=False)
    user_id = _clean_user_id(user_id)
    clean_profile = profiles.clean(profile)
    clean_title = _clean_title(title)
    key = _clean_idempotency_key(idempotency_key)
    repeat = (
        bool(files) and key is not None and _ticket_opened_with(actor, key, user_id) is not None
    )
    if files and not repeat:
        blocking.check_not_blocked(user_id)  # before a byte of the files is read or stored
    prepared = attachments.prepare(files, kinds)
    clean_text = _clean_text(text, caption=bool(prepared)) if text is not None or prepared else None
    if repeat:
        prepared = []  # a repeat: answered with the first ticket, and nothing is stored
    with attachments.written(prepared) as stored:
        opened = _open_ticket(actor, user_id, clean_title, clean_text, key, stored, clean_profile)
        if not opened.created:
            stored.discard()  # a concurrent repeat: after the transaction, not under its locks
    return opened


def _open_ticket(
    actor: Actor,
    user_id: int,
    title: str,
    text: str | None,
    key: str | None,
    stored: attachments.Written,
    profile: dict[str, str] | None,
) -> OpenedTicket:
    with transaction.atomic():
        if key is not None:
            first = _ticket_opened_with(actor, key, user_id)
            if first is not None:
                return OpenedTicket(first, created=False)
        user = _telegram_user(user_id)
        previous = _last_resolved(user_id)
        try:
            with transaction.atomic():
                ticket = Ticket.objects.create(
                    user=user,
                    title=title,
                    opened_by=actor.bot,
                    idempotency_key=key,
                    previous_id=previous,
                )
        except IntegrityError:
            # The same key, committed by a concurrent request since we looked.
            first = None if key is None else _ticket_opened_with(actor, key, user_id)
            if first is None:
                raise
            return OpenedTicket(first, created=False)
        # A change of profile says user.updated before ticket.created shows the user.
        row = profiles.apply(user_id, profile, opening=True)
        if blocking.is_blocked(row):
            # Read under the row's lock, which block() takes too: everything above is undone.
            raise UserBlocked()
        first_message = None
        if text is not None:
            # The first message carries the key too: a bot that resends the same
            # update as a message (it found the ticket open) gets this one back.
            first_message = Message.objects.create(
                ticket=ticket, sender=Side.USER, text=text, idempotency_key=key
            )
            remember_attachments(first_message, stored.attach_to(first_message))
        remember_profile(ticket, row)
        remember_rating(ticket, None)  # a new ticket: no rating to look up
        # Built after the first message exists, so `unread` and `last_message` count it.
        events.append(events.TICKET_CREATED, {"ticket": ticket_data(ticket)})
        if first_message is not None:
            events.append(events.MESSAGE_NEW, {"message": message_data(first_message)})
    return OpenedTicket(ticket, created=True)


def _last_resolved(user_id: int) -> int | None:
    """The id of the user's ticket resolved last (by ``resolved_at``, then id), or ``None``."""
    resolved = Ticket.objects.filter(user_id=user_id, resolved=True)
    newest = resolved.order_by(F("resolved_at").desc(nulls_last=True), "-id")
    pk: int | None = newest.values_list("pk", flat=True).first()
    return pk


def _ticket_opened_with(actor: Actor, key: str, user_id: int) -> Ticket | None:
    ticket = (
        Ticket.objects.select_related("user")
        .filter(opened_by=actor.bot, idempotency_key=key)
        .first()
    )
    if ticket is not None and ticket.user_id != user_id:
        raise IdempotencyConflict(
            _("This idempotency key already opened a ticket for another user.")
        )
    return ticket


def update_ticket(
    actor: Actor,
    ticket_id: Any,
    *,
    title: Any = None,
    resolved: Any = None,
    viewed: Any = None,
) -> Ticket:
    """Change the title and/or the resolved flag (``PATCH tickets/{id}/``, as in 1.x).

    ``viewed=True`` is 1.2.0's way of marking a ticket read, which its
    manager page sends when a ticket is opened: the other side's messages are
    marked viewed, as :func:`mark_viewed` does. 1.2.0 kept a flag on the
    ticket; here ``viewed`` is derived from the messages, so ``False`` (make
    them unread again) cannot be honoured and is refused.
    """
    _require(actor)
    if resolved is not None and not isinstance(resolved, bool):
        raise Invalid.field("resolved", _("Must be a boolean."))
    if viewed is not None and viewed is not True:
        raise Invalid.field("viewed", _("Only true: viewed messages cannot be made unread again."))
    clean_title = None if title is None else _clean_title(title)
    with transaction.atomic():
        ticket = _locked_ticket(ticket_id)
        _check_not_others(actor, ticket)
        if clean_title is not None and clean_title != ticket.title:
            ticket.title = clean_title
            ticket.save(update_fields=["title"])
            events.append(events.TICKET_UPDATED, {"ticket": ticket_data(ticket)})
        if resolved is not None:
            _set_resolved(ticket, resolved)
        if viewed:
            _mark_viewed_locked(actor, ticket)
    return ticket


def _set_resolved(ticket: Ticket, resolved: bool, *, auto: bool = False) -> None:
    """*auto*: resolved by :func:`auto_resolve`, which its event says (the bot tells the
    user in its own words)."""
    if ticket.resolved == resolved:
        return
    ticket.resolved = resolved
    ticket.resolved_at = timezone.now() if resolved else None
    ticket.save(update_fields=["resolved", "resolved_at"])
    kind = events.TICKET_RESOLVED if resolved else events.TICKET_REOPENED
    events.append(kind, {"id": ticket.pk, "auto": True} if auto else {"id": ticket.pk})


def resolve(actor: Actor, ticket_id: Any) -> Ticket:
    return update_ticket(actor, ticket_id, resolved=True)


def reopen(actor: Actor, ticket_id: Any) -> Ticket:
    return update_ticket(actor, ticket_id, resolved=False)


def idle_tickets(now: datetime | None = None) -> QuerySet[Ticket]:
    """The unresolved tickets idle longer than ``SUPPORT_AUTO_RESOLVE_AFTER`` at *now*
    (none when it is ``None``): last activity is the newest message's time, or the
    ticket's own without messages."""
    after = support_settings.AUTO_RESOLVE_AFTER
    if after is None:
        return Ticket.objects.none()
    newest = Message.objects.filter(ticket=OuterRef("pk")).order_by("-created_at", "-id")
    last_activity = Coalesce(Subquery(newest.values("created_at")[:1]), F("created_at"))
    return (
        Ticket.objects.filter(resolved=False)
        .annotate(last_activity=last_activity)
        .filter(last_activity__lt=(now or timezone.now()) - after)
        .order_by("id")
    )


def auto_resolve(*, now: datetime | None = None) -> list[int]:
    """Resolve every ticket :func:`idle_tickets` finds; ``ticket.resolved`` says ``"auto":
    true``. Each in its own transaction, looked at again under its lock (a message that
    arrived meanwhile keeps it open). Returns the ids resolved, in order.

    No actor: the desk itself does this (``manage.py support_auto_resolve``, from cron).
    """
    now = now or timezone.now()
    resolved = []
    for ticket_id in list(idle_tickets(now).values_list("pk", flat=True)):
        with transaction.atomic():
            ticket = _locked_ticket(ticket_id)
            if ticket.resolved or not idle_tickets(now).filter(pk=ticket_id).exists():
                continue
            _set_resolved(ticket, True, auto=True)
            resolved.append(ticket_id)
    return resolved


def assign(actor: Actor, ticket_id: Any) -> Ticket:
    """A manager takes the ticket. Another manager's ticket is ``already_assigned``."""
    _require(actor, bots=False)
    with transaction.atomic():
        ticket = _locked_ticket(ticket_id)
        _assign_locked(actor, ticket)
    return ticket


def _assign_locked(actor: Actor, ticket: Ticket) -> None:
    if ticket.support_manager_id == actor.manager_id:
        return
    if ticket.support_manager_id is not None:
        raise AlreadyAssigned()
    if ticket.resolved:
        raise TicketResolved(_("This ticket is resolved; reopen it before taking it."))
    ticket.support_manager = actor.manager
    ticket.save(update_fields=["support_manager"])
    events.append(events.TICKET_ASSIGNED, {"id": ticket.pk, "support_manager": actor.manager_id})


def unassign(actor: Actor, ticket_id: Any) -> Ticket:
    """The assignee puts the ticket back in the queue."""
    _require(actor, bots=False)
    with transaction.atomic():
        ticket = _locked_ticket(ticket_id)
        _check_not_others(actor, ticket)
        if ticket.support_manager_id is not None:
            ticket.support_manager = None
            ticket.save(update_fields=["support_manager"])
            events.append(events.TICKET_UNASSIGNED, {"id": ticket.pk})
    return ticket


# -- messages ----------------------------------------------------------------


def post_message(
    actor: Actor,
    ticket_id: Any,
    *,
    text: Any = None,
    idempotency_key: Any = None,
    sender: Any = None,
    files: Sequence[File[Any]] = (),
    kinds: Sequence[str] | None = None,
    profile: Any = None,
) -> PostedMessage:
    """Add a message from the actor's side, with *files* as its attachments.

    A repeated ``idempotency_key`` returns the message it first created and
    emits nothing (nor stores its files again), so a bot may retry a send
    after a timeout safely. A ``sender`` naming the other side is refused:
    the credential decides who speaks, and a bot posing as support is
    exactly what it must not do. With files the text is their caption and
    may be empty. Files are checked first (:func:`support.attachments.prepare`),
    written to the storage before the transaction, and removed again if it
    fails or turns out a repeat. A bot's *profile* of the ticket's user is
    stored as :func:`open_ticket_once` does (a manager's is ``permission_denied``).

    A bot's message for a blocked user is ``user_blocked`` (with files, before they
    are read), a repeated key still answered with its message. A bot's message on
    a resolved ticket within ``SUPPORT_REOPEN_WINDOW`` of its ``resolved_at`` (the
    edge included) reopens it, ``ticket.reopened`` before ``ticket.message.new``;
    its manager keeps it. Otherwise a resolved ticket is ``ticket_resolved``.
    """
    _require(actor)
    clean_profile = _clean_profile(actor, profile)
    if sender is not None and sender != actor.side:
        raise PermissionDenied(
            _("This credential writes as %(side)r, not %(sender)r.")
            % {"side": str(actor.side), "sender": sender}
        )
    idempotency_key = _clean_idempotency_key(idempotency_key)
    repeat = bool(files) and idempotency_key is not None and _is_repeat(ticket_id, idempotency_key)
    if files and not repeat and actor.is_bot:
        _check_user_not_blocked(ticket_id)  # before a byte of the files is read or stored
    prepared = attachments.prepare(files, kinds)
    clean_text = _clean_text(text, caption=bool(prepared))
    if prepared:
        if repeat:
            prepared = []  # answered with the first message; nothing is stored
        else:
            # The checks made under the lock below, made first without it too:
            # a refused post then writes no megabytes to the storage.
            _check_postable(actor, _locked_ticket(ticket_id, lock=False))
    with attachments.written(prepared) as stored:
        posted = _post_message(actor, ticket_id, clean_text, idempotency_key, stored, clean_profile)
        if not posted.created:
            stored.discard()  # a concurrent repeat: after the transaction, not under its locks
    return posted


def _check_postable(actor: Actor, ticket: Ticket) -> None:
    if ticket.resolved and not _reopens(actor, ticket):
        raise TicketResolved()
    if actor.manager is not None:
        _check_not_others(actor, ticket)


def _reopens(actor: Actor, ticket: Ticket) -> bool:
    """Whether the bot's message on this resolved ticket reopens it: within
    ``SUPPORT_REOPEN_WINDOW`` of its resolution, the edge included."""
    window = support_settings.REOPEN_WINDOW
    return (
        actor.is_bot
        and ticket.resolved
        and window is not None
        and ticket.resolved_at is not None
        and timezone.now() - ticket.resolved_at <= window
    )


def _check_user_not_blocked(ticket_id: Any) -> None:
    """``user_blocked`` if the ticket's user is blocked (one query); a bad or unknown
    id is left for the checks that judge it."""
    if isinstance(ticket_id, bool) or not isinstance(ticket_id, int):
        return
    found = Ticket.objects.filter(pk=ticket_id).annotate(blocked=blocking.blocked_annotation())
    if found.values_list("blocked", flat=True).first():
        raise UserBlocked()


def _post_message(
    actor: Actor,
    ticket_id: Any,
    text: str,
    idempotency_key: str | None,
    stored: attachments.Written,
    profile: dict[str, str] | None = None,
) -> PostedMessage:
    with transaction.atomic():
        # A bot's: whether the user is blocked, in the same query (no query more per post).
        ticket = _locked_ticket(ticket_id, blocked=actor.is_bot)
        if idempotency_key is not None:
            first = ticket.messages.filter(idempotency_key=idempotency_key).first()
            if first is not None:
                if first.sender != actor.side:
                    raise IdempotencyConflict()
                return PostedMessage(first, created=False)
        if getattr(ticket, "user_blocked", False):
            raise UserBlocked()
        _check_postable(actor, ticket)
        if ticket.resolved:  # a user's message within the reopen window (checked above)
            # Looked at again under the profile's lock: a block resolves tickets, and a
            # block committed after the ticket was read must not be undone by a reopen.
            blocking.check_not_blocked(ticket.user_id, lock=True)
            _set_resolved(ticket, False)
        if actor.manager is not None:
            # Replying to a queued ticket takes it; its event comes first.
            _assign_locked(actor, ticket)
        if profile is not None:
            profiles.apply(ticket.user_id, profile, opening=False)
        message = Message.objects.create(
            ticket=ticket,
            sender=actor.side,
            text=text,
            author=actor.manager,
            idempotency_key=idempotency_key,
            via_staff_chat=actor.via is not None,
        )
        remember_attachments(message, stored.attach_to(message) if stored.prepared else [])
        data = message_data(message)
        events.append(events.MESSAGE_NEW, {"message": data})
    return PostedMessage(message, created=True, data=data)


def _clean_profile(actor: Actor, profile: Any) -> dict[str, str] | None:
    # Who asks, as with a `sender` naming the other side: 403, not a bad value.
    if profile is not None and not actor.is_bot:
        raise PermissionDenied(_("Only a bot sends the user's profile; managers write as support."))
    return profiles.clean(profile)


def _is_repeat(ticket_id: Any, idempotency_key: str) -> bool:
    """Whether the key already posted to the ticket (looked at before storing files)."""
    if isinstance(ticket_id, bool) or not isinstance(ticket_id, int):
        return False
    return Message.objects.filter(ticket_id=ticket_id, idempotency_key=idempotency_key).exists()


def mark_viewed(actor: Actor, ticket_id: Any, *, up_to: Any = None) -> list[int]:
    """Mark the other side's messages viewed (all, or those with id <= ``up_to``).

    Returns the ids that changed; nothing changed means no event.
    """
    _require(actor)
    if up_to is not None and (isinstance(up_to, bool) or not isinstance(up_to, int)):
        raise Invalid.field("up_to", _("A message id is an integer."))
    with transaction.atomic():
        ticket = _locked_ticket(ticket_id)
        _check_not_others(actor, ticket)
        return _mark_viewed_locked(actor, ticket, up_to)


def _mark_viewed_locked(actor: Actor, ticket: Ticket, up_to: int | None = None) -> list[int]:
    unseen = ticket.messages.filter(sender=actor.other_side, viewed=False)
    if up_to is not None:
        unseen = unseen.filter(id__lte=up_to)
    ids = sorted(unseen.values_list("id", flat=True))
    if ids:
        Message.objects.filter(id__in=ids).update(viewed=True)
        events.append(events.MESSAGES_VIEWED, {"ticket": ticket.pk, "ids": ids})
    return ids


# -- Telegram links and topics --------------------------------------------------


def _require_signed_in_manager(actor: Actor) -> Any:
    """The manager behind a manager's own credential (session or token), not a bot's."""
    _require(actor, bots=False)
    if actor.via is not None:
        raise PermissionDenied(_("A bot may not manage a manager's Telegram link."))
    return actor.manager


def _require_staff_bot(actor: Actor, *, acting: bool) -> None:
    """A staff bot key (checked in the database now), acting for a manager if *acting*."""
    _require(actor)
    key = actor.bot or (actor.via if acting else None)
    if not telegram_links.is_staff_key(key):
        raise PermissionDenied(_("Only a staff bot key may do this."))


def create_telegram_link_code(actor: Actor) -> telegram_links.LinkCode:
    """A one-time code the manager sends to the staff bot (``/link CODE``) to link their
    Telegram account; their unused codes stop working."""
    return telegram_links.issue_code(_require_signed_in_manager(actor))


def telegram_link(actor: Actor) -> TelegramAccount | None:
    """The manager's own Telegram link, or ``None``."""
    return telegram_links.link_of(_require_signed_in_manager(actor))


def unlink_telegram(actor: Actor) -> None:
    """The manager removes their own Telegram link (idempotent); a staff bot's next
    request acting for that Telegram id is refused."""
    telegram_links.unlink(_require_signed_in_manager(actor))


def confirm_telegram_link(actor: Actor, *, code: Any, telegram_id: Any) -> TelegramAccount:
    """A staff bot confirms a link code sent by the Telegram user *telegram_id*.

    Wrong, used or expired: ``invalid_link_code``. The id moves from any other
    manager; the manager's previous id is replaced.
    """
    _require_staff_bot(actor, acting=False)
    if not isinstance(code, str):
        raise Invalid.field("code", _("Must be a string."))
    clean_id = _clean_telegram_id(telegram_id, "telegram_id", minimum=1)
    return telegram_links.confirm_code(code, clean_id)


def set_telegram_topic(
    actor: Actor, ticket_id: Any, *, chat_id: Any, topic_id: Any, replaces: Any = None
) -> telegram_links.TopicChange:
    """Store the ticket's topic in the staff group, once (staff bot keys, acting or not).

    Under the ticket's row lock, so of two bot workers that each created a
    topic, both learn the first one stored (the other deletes its own). A
    *replaces* equal to the stored topic id replaces it (a deleted topic,
    recreated). No event: the topic is the staff group's business.
    """
    _require_staff_bot(actor, acting=True)
    clean_chat = _clean_telegram_id(chat_id, "chat_id")
    clean_topic = _clean_telegram_id(topic_id, "topic_id", minimum=1)
    clean_replaces = None if replaces is None else _clean_telegram_id(replaces, "replaces")
    with transaction.atomic():
        ticket = _locked_ticket(ticket_id)
        return telegram_links.store_topic(ticket, clean_chat, clean_topic, clean_replaces)


def _clean_telegram_id(value: Any, field: str, *, minimum: int = INT64_MIN) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid.field(field, _("Must be an integer."))
    if not minimum <= value <= INT64_MAX:
        raise Invalid.field(field, _("Out of range."))
    return value


# -- saved replies -------------------------------------------------------------
#
# Managers' texts inserted from the reply box by shortcut; managers only (a bot
# is ``permission_denied``), no events: the console reads the list when it needs it.

_SHORTCUT = re.compile(SHORTCUT_PATTERN)


def _clean_shortcut(value: Any) -> str:
    shortcut = _clean_string(value, "shortcut", limit=SHORTCUT_MAX_LENGTH)
    if _SHORTCUT.fullmatch(shortcut) is None:
        raise Invalid.field(
            "shortcut", _("Lower-case letters, digits, - and _, starting with a letter or digit.")
        )
    return shortcut


def clean_saved_reply(*, shortcut: Any = None, text: Any = None) -> dict[str, str]:
    """The fields given (not ``None``), under the API's rules (the admin's form uses it)."""
    fields: dict[str, str] = {}
    if shortcut is not None:
        fields["shortcut"] = _clean_shortcut(shortcut)
    if text is not None:
        fields["text"] = _clean_text(text)
    return fields


def saved_replies(actor: Actor) -> QuerySet[SavedReply]:
    """Every saved reply, by shortcut."""
    _require(actor, bots=False)
    return SavedReply.objects.order_by("shortcut", "id")


def saved_reply(actor: Actor, reply_id: Any) -> SavedReply:
    _require(actor, bots=False)
    return _saved_reply(reply_id)


def _saved_reply(reply_id: Any, *, lock: bool = False) -> SavedReply:
    if isinstance(reply_id, bool) or not isinstance(reply_id, int):
        raise Invalid.field("id", _("A saved reply's id is an integer."))
    replies = SavedReply.objects.select_for_update() if lock else SavedReply.objects.all()
    try:
        return replies.get(pk=reply_id)
    except SavedReply.DoesNotExist:
        raise NotFound(_("Saved reply %(id)s does not exist.") % {"id": reply_id}) from None


def create_saved_reply(actor: Actor, *, shortcut: Any, text: Any) -> SavedReply:
    """A new saved reply; a shortcut another one has is ``shortcut_taken``."""
    _require(actor, bots=False)
    if shortcut is None:
        raise Invalid.field("shortcut", _("This field is required."))
    if text is None:
        raise Invalid.field("text", _("This field is required."))
    fields = clean_saved_reply(shortcut=shortcut, text=text)
    reply = SavedReply(**fields, created_by=actor.manager)
    _save_saved_reply(reply)
    return reply


def update_saved_reply(
    actor: Actor, reply_id: Any, *, shortcut: Any = None, text: Any = None
) -> SavedReply:
    """Change the fields given; nothing given (or nothing different) writes nothing."""
    _require(actor, bots=False)
    fields = clean_saved_reply(shortcut=shortcut, text=text)
    with transaction.atomic():
        reply = _saved_reply(reply_id, lock=True)
        changed = [name for name, value in fields.items() if getattr(reply, name) != value]
        if changed:
            for name in changed:
                setattr(reply, name, fields[name])
            reply.updated_at = timezone.now()
            _save_saved_reply(reply, update_fields=[*changed, "updated_at"])
    return reply


def _save_saved_reply(reply: SavedReply, update_fields: list[str] | None = None) -> None:
    try:
        with transaction.atomic():
            reply.save(update_fields=update_fields)
    except IntegrityError:
        if not SavedReply.objects.filter(shortcut=reply.shortcut).exclude(pk=reply.pk).exists():
            raise
        raise ShortcutTaken() from None


def delete_saved_reply(actor: Actor, reply_id: Any) -> None:
    _require(actor, bots=False)
    with transaction.atomic():
        _saved_reply(reply_id, lock=True).delete()


# -- bot keys ----------------------------------------------------------------


def revoke_bot_key(key: BotKey) -> None:
    """Revoke *key*: its next request fails, and its open streams close now.

    The admin's *Revoke selected keys* and management commands call this.
    Revoking a revoked key changes nothing. After the commit, every
    process's hub hears of it through the channel layer and closes the key's
    WebSocket, SSE and long-poll connections; should that message be lost,
    connections also re-check their credential every few seconds.
    """
    if key.revoked_at is not None:
        return
    with transaction.atomic():
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        key_id = key.pk
        transaction.on_commit(
            lambda: events.broadcast({"type": events.REVOKED_MESSAGE_TYPE, "bot_key": key_id})
        )

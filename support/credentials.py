"""From a request's credential to an :class:`~support.actors.Actor`, for every transport.

Three credentials are accepted everywhere (REST, WebSocket, SSE, long-poll):
``Authorization: Api-Key <key>`` (a bot), ``Authorization: Token <key>`` (a
manager, when ``rest_framework.authtoken`` is installed) and the session
cookie (a manager in a browser). The header wins over the session; a header
with a scheme of neither kind is ignored, so the session still applies.

The transports are thin wrappers over :func:`authenticate`: DRF's
authentication class, the Channels middleware and the plain views. Each
credential has one identity, :attr:`Actor.credential`, which rate limits,
stream limits and revocation all key on.

A header credential that checked out is remembered by the worker for up to
``SUPPORT_CREDENTIAL_RECHECK_INTERVAL`` seconds, so a bot's or a manager's
requests stop paying the key or token lookup and Django's permission
queries each time. Any change that could withdraw a credential (a bot key
saved or deleted, a token deleted, a user saved, their permissions or
groups changed) forgets every remembered one, in this worker at once and in
the others through a generation counter in ``SUPPORT_THROTTLE_CACHE``
(shared, such as Redis, when there are several workers; a revocation's
broadcast also reaches every worker's hub). So revocation takes effect as
before: on the next request.

A staff bot acts for a linked manager with ``X-Support-Acting-Telegram-Id``
(:data:`ACTING_HEADER`) on a REST request: :func:`act_for` turns the bot's
actor into the manager's (:func:`support.telegram_links.acting_actor`). That
decision is never remembered: only the key's lookup is, and the link, the
manager and the key's capability are read again on every request. Streams
refuse the header (a staff bot streams as itself), as does a manager's
credential.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Iterable
from typing import Any

from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.cache import BaseCache
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.utils.translation import gettext_lazy as _

from support import sharedcache, telegram_links
from support.actors import Actor, Credential, is_manager
from support.botkeys import authenticate_bot_key
from support.conf import support_settings
from support.exceptions import Invalid, NotAuthenticated, PermissionDenied
from support.inputs import INT64_MAX, INT64_MIN
from support.models import BotKey

API_KEY = "Api-Key"
TOKEN = "Token"
#: A staff bot's header naming the Telegram id of the manager it acts for (REST only).
ACTING_HEADER = "X-Support-Acting-Telegram-Id"
#: The header as Django's ``request.META`` names it.
ACTING_META = "HTTP_" + ACTING_HEADER.upper().replace("-", "_")
_ACTING_VALUE = re.compile(r"-?[0-9]{1,19}")


def parse_authorization(header: str | None) -> tuple[str, str] | None:
    """``(scheme, credential)`` of an ``Authorization`` header of ours, else ``None``.

    The scheme comes back spelled as in :data:`API_KEY` or :data:`TOKEN`; a
    header of ours with no credential, or with spaces in it, is refused.
    """
    scheme, _sep, credential = (header or "").strip().partition(" ")
    known = {API_KEY.lower(): API_KEY}
    if apps.is_installed("rest_framework.authtoken"):
        known[TOKEN.lower()] = TOKEN
    canonical = known.get(scheme.lower())
    if canonical is None:
        return None
    credential = credential.strip()
    if not credential or " " in credential:
        raise NotAuthenticated(_("Malformed Authorization header."))
    return canonical, credential


def actor_for_header(header: str | None) -> Actor | None:
    """The actor an ``Authorization`` header names, ``None`` if it names none of ours.

    Raises :class:`NotAuthenticated` for an unknown, revoked or inactive
    credential and :class:`PermissionDenied` for a user who is not a manager.
    """
    parsed = parse_authorization(header)
    if parsed is None:
        return None
    return _remembered(*parsed)


def _look_up(scheme: str, credential: str) -> Actor:
    if scheme == API_KEY:
        key = authenticate_bot_key(credential)
        if key is None:
            raise NotAuthenticated(_("Invalid or revoked bot key."))
        return Actor.for_bot(key)
    from rest_framework.authtoken.models import Token

    token = Token.objects.select_related("user").filter(key=credential).first()
    if token is None or not token.user.is_active:
        raise NotAuthenticated(_("Invalid token, or its user is inactive."))
    return actor_for_user(token.user)


# -- remembered credentials ---------------------------------------------------------

#: The shared cache's key of the generation counter.
GENERATION_KEY = "support-credentials-generation"
#: Remembered credentials per worker, at most (a flood of distinct bad keys
#: is not remembered at all: only credentials that checked out are).
REMEMBERED_LIMIT = 10_000

#: digest of "scheme credential" -> (expires at, generation, actor)
_remembered_actors: dict[str, tuple[float, tuple[int, int] | None, Actor]] = {}
_local_generation = 0
_lock = threading.Lock()


def _generation() -> tuple[int, int] | None:
    """Every worker's (shared) and this worker's count of changes so far.

    ``None`` while the shared cache fails: nothing is remembered then.
    """
    shared = sharedcache.use(lambda cache: int(cache.get(GENERATION_KEY, 0)), None)
    return None if shared is None else (shared, _local_generation)


def _remembered(scheme: str, credential: str) -> Actor:
    digest = hashlib.sha256(f"{scheme} {credential}".encode()).hexdigest()
    generation = _generation()
    now = time.monotonic()
    hit = _remembered_actors.get(digest)
    if hit is not None and hit[0] > now and hit[1] == generation:
        return hit[2]
    actor = _look_up(scheme, credential)  # raises for a bad one: never remembered
    if generation is None:
        return actor
    with _lock:
        if len(_remembered_actors) >= REMEMBERED_LIMIT:
            _remembered_actors.clear()
        expires = now + support_settings.CREDENTIAL_RECHECK_INTERVAL
        _remembered_actors[digest] = (expires, generation, actor)
    return actor


def forget_here() -> None:
    """Forget this worker's remembered credentials (a revocation's broadcast calls it)."""
    global _local_generation
    with _lock:
        _local_generation += 1
        _remembered_actors.clear()


def forget_everywhere(*args: Any, **kwargs: Any) -> None:
    """Forget remembered credentials in every worker (a signal receiver, hence the arguments)."""
    forget_here()

    def bump(cache: BaseCache) -> None:
        try:
            cache.incr(GENERATION_KEY)
        except ValueError:  # not there yet (or evicted)
            cache.set(GENERATION_KEY, 1, None)

    # A failing cache can't tell the other workers: they forget within the
    # recheck interval, or when the revocation's broadcast reaches their hub.
    sharedcache.use(bump, None)


def forget_on_changes() -> None:
    """Connect :func:`forget_everywhere` to every change that can withdraw a credential."""
    user_model = get_user_model()
    senders: list[Any] = [BotKey, user_model]
    if apps.is_installed("rest_framework.authtoken"):
        from rest_framework.authtoken.models import Token

        senders.append(Token)
    for sender in senders:
        post_save.connect(forget_everywhere, sender=sender, dispatch_uid=f"support-{sender}")
        post_delete.connect(forget_everywhere, sender=sender, dispatch_uid=f"support-d-{sender}")
    relations = [getattr(user_model, name, None) for name in ("user_permissions", "groups")]
    if apps.is_installed("django.contrib.auth"):
        from django.contrib.auth.models import Group

        relations.append(Group.permissions)
    for relation in relations:
        through = getattr(relation, "through", None)
        if through is not None:
            m2m_changed.connect(
                forget_everywhere, sender=through, dispatch_uid=f"support-{through}"
            )


def actor_for_user(user: Any) -> Actor:
    """A signed-in manager's actor; 401 if anonymous, 403 if not a manager."""
    if user is None or not getattr(user, "is_authenticated", False):
        raise NotAuthenticated()
    if not is_manager(user):
        raise PermissionDenied()
    return Actor.for_manager(user)


def authenticate(
    header: str | None, user: Any, acting: str | None = None, *, stream: bool = False
) -> Actor:
    """The caller: the ``Authorization`` header first, else the session's *user*.

    *acting* is the :data:`ACTING_HEADER`'s value, if the request has one
    (:func:`act_for`); a *stream* refuses it.
    """
    actor = actor_for_header(header)
    if actor is None:
        actor = actor_for_user(user)
    return actor if acting is None else act_for(actor, acting, stream=stream)


def act_for(actor: Actor, acting: str, *, stream: bool = False) -> Actor:
    """*actor*, a staff bot, acting for the manager linked to the Telegram id *acting* names.

    400 ``invalid`` on a stream, with a manager's credential, or for a value
    that is not a 64-bit integer; then :func:`support.telegram_links.acting_actor`'s
    403s. Checked afresh on every call: nothing of it is remembered.
    """
    if stream:
        raise Invalid(
            _("Streams run as the bot itself: %(header)s is for REST requests only.")
            % {"header": ACTING_HEADER}
        )
    if actor.bot is None:
        raise Invalid(
            _("%(header)s is for a staff bot's key, not a manager's credential.")
            % {"header": ACTING_HEADER}
        )
    return telegram_links.acting_actor(actor.bot, parse_acting(acting))


def parse_acting(value: str) -> int:
    """The Telegram id in an :data:`ACTING_HEADER` value: a 64-bit integer, else 400 ``invalid``."""
    text = value.strip()
    if _ACTING_VALUE.fullmatch(text) is None or not INT64_MIN <= int(text) <= INT64_MAX:
        raise Invalid(
            _("%(header)s must be a Telegram user id (a 64-bit integer).")
            % {"header": ACTING_HEADER},
            errors={ACTING_HEADER: [str(_("A 64-bit integer."))]},
        )
    return int(text)


def revoked_credentials(credentials: Iterable[Credential]) -> set[Credential]:
    """Those of *credentials* that may no longer act (key revoked, manager no longer one).

    One query for all the bot keys and one for all the users, plus Django's
    permission check per distinct manager: a worker re-checks its open
    connections with this in one go, so the cost follows the number of
    credentials (a handful of managers, the bots), not of connections.
    """
    wanted = set(credentials)
    bot_ids = {pk for kind, pk in wanted if kind == "bot"}
    manager_ids = {pk for kind, pk in wanted if kind == "manager"}
    allowed: set[Credential] = set()
    if bot_ids:
        active = BotKey.objects.active().filter(pk__in=bot_ids).values_list("pk", flat=True)
        allowed.update(Credential("bot", int(pk)) for pk in active)
    if manager_ids:
        users = get_user_model()._default_manager.filter(pk__in=manager_ids)
        allowed.update(Credential("manager", int(user.pk)) for user in users if is_manager(user))
    return wanted - allowed

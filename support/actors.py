"""Who is acting: a manager (a Django user) or a bot (a bot key).

Every service function takes an :class:`Actor`; the adapters (REST,
WebSocket, admin) build one from their credential and never decide
permissions themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from support.models import BotKey, Side

MANAGE_PERMISSION = "support.manage_tickets"


def is_manager(user: Any) -> bool:
    """An active, authenticated user holding ``support.manage_tickets``."""
    return bool(
        user is not None
        and getattr(user, "is_authenticated", False)
        and getattr(user, "is_active", False)
        and user.has_perm(MANAGE_PERMISSION)
    )


class Credential(NamedTuple):
    """One credential's identity, whichever transport uses it: ``("bot", key id)``
    or ``("manager", user id)``. Rate limits, stream limits and revocation key on it."""

    kind: Literal["bot", "manager"]
    pk: int

    def __str__(self) -> str:
        return f"{self.kind}-{self.pk}"


@dataclass(frozen=True, slots=True)
class Actor:
    """The caller of a service function. Exactly one of *manager* and *bot* is set.

    *via* is the staff bot key acting for *manager* (a reply written in the
    staff group's topic): the actor is that manager in every rule, and spends
    the bot key's request budget. Only :func:`support.telegram_links.acting_actor`
    builds one, after checking the key, the link and the manager afresh.
    """

    manager: Any = None
    bot: BotKey | None = None
    via: BotKey | None = None

    @classmethod
    def for_manager(cls, user: Any) -> Actor:
        return cls(manager=user)

    @classmethod
    def acting(cls, user: Any, key: BotKey) -> Actor:
        """*key* (a staff bot key) acting for the manager *user*, already checked."""
        return cls(manager=user, via=key)

    @classmethod
    def for_bot(cls, key: BotKey) -> Actor:
        return cls(bot=key)

    @property
    def is_bot(self) -> bool:
        return self.bot is not None

    @property
    def side(self) -> str:
        """The message sender this actor writes as: bots speak for the user."""
        return Side.USER if self.is_bot else Side.SUPPORT

    @property
    def other_side(self) -> str:
        return Side.SUPPORT if self.is_bot else Side.USER

    @property
    def manager_id(self) -> int | None:
        return None if self.manager is None else int(self.manager.pk)

    @property
    def credential(self) -> Credential:
        key = self.bot or self.via
        if key is not None:
            return Credential("bot", int(key.pk))
        return Credential("manager", int(self.manager.pk))

    def is_allowed(self) -> bool:
        """Whether the credential may act at all (active key, or a manager; both when acting)."""
        if self.bot is not None:
            return self.bot.is_active
        if self.via is not None and not (self.via.is_active and self.via.staff):
            return False
        return is_manager(self.manager)

"""Who may call the API at all; what each side may do is the service layer's call."""

from __future__ import annotations

from typing import Any

from rest_framework import permissions
from rest_framework.request import Request

from support.actors import Actor, is_manager
from support.api.authentication import BotPrincipal
from support.credentials import actor_for_user


class IsManagerOrBot(permissions.BasePermission):
    """Managers (``support.manage_tickets``) and bots; 401 anonymous, 403 anyone else."""

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return isinstance(user, BotPrincipal) or is_manager(user)


def actor_for(request: Request) -> Actor:
    """The service-layer actor behind an authenticated request."""
    if isinstance(request.auth, Actor):
        return request.auth
    return actor_for_user(request.user)

"""``users/{telegram_id}/`` and its ``block/`` and ``unblock/``: managers only.

A bot is ``403 permission_denied`` whatever it asks (before its body is read),
anonymous ``401``, any other user ``403``. A Telegram id the desk has never
heard of (no profile, no ticket) is ``404 not_found``. Blocking and
unblocking are idempotent (200, nothing said when nothing changes) and
answer what ``GET`` does.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from support import blocking
from support.api.views import ERRORS, SupportView
from support.inputs import BlockInput, EmptyInput


@extend_schema(methods=["GET"], responses={200: blocking.UserDetailSerializer, **ERRORS})
class UserDetailView(SupportView):
    """``GET users/{telegram_id}/``: the user, their block (or null), their tickets newest first."""

    serializer_class = blocking.UserDetailSerializer
    http_method_names = ("get", "options", "head")

    def get(self, request: Request, telegram_id: int) -> Response:
        return Response(blocking.user_detail(self.actor, telegram_id))


@extend_schema(
    methods=["POST"], request=BlockInput, responses={200: blocking.UserDetailSerializer, **ERRORS}
)
class UserBlockView(SupportView):
    """``POST users/{telegram_id}/block/``: block the user; their open tickets are resolved
    with a note giving the reason."""

    serializer_class = blocking.UserDetailSerializer
    http_method_names = ("post", "options")

    def post(self, request: Request, telegram_id: int) -> Response:
        blocking.require_manager(self.actor)  # a bot's body is not even read
        body = self.parse(BlockInput)
        blocking.block(self.actor, telegram_id, **body)
        return Response(blocking.user_detail(self.actor, telegram_id))


@extend_schema(
    methods=["POST"], request=EmptyInput, responses={200: blocking.UserDetailSerializer, **ERRORS}
)
class UserUnblockView(SupportView):
    """``POST users/{telegram_id}/unblock/``: lift the block (the tickets stay resolved)."""

    serializer_class = blocking.UserDetailSerializer
    http_method_names = ("post", "options")

    def post(self, request: Request, telegram_id: int) -> Response:
        blocking.require_manager(self.actor)
        self.parse(EmptyInput)
        blocking.unblock(self.actor, telegram_id)
        return Response(blocking.user_detail(self.actor, telegram_id))

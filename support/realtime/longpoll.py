"""``GET events/?after=<cursor>&timeout=<0..30>``: the long-poll transport.

Answers at once when events are waiting after the cursor; otherwise holds
until one commits or the timeout passes. Without ``after``, answers at once
with no events and the current cursor, to start from.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from support import events
from support.actors import Actor
from support.conf import support_settings
from support.cursors import format_cursor
from support.db import free_request_thread
from support.exceptions import CursorExpired, Invalid, NotAuthenticated
from support.plain_views import dumps, json_text_response, support_view
from support.realtime.hub import get_hub
from support.realtime.replay import (
    Chunk,
    LiveEvent,
    Reset,
    current_position_async,
    follow,
    is_private,
    replay,
)


def parse_timeout(raw: str | None) -> int:
    if raw is None or raw == "":
        return min(support_settings.LONGPOLL_DEFAULT_TIMEOUT, support_settings.LONGPOLL_MAX_TIMEOUT)
    limit = support_settings.LONGPOLL_MAX_TIMEOUT
    if not raw.isascii() or not raw.isdigit() or int(raw) > limit:
        raise Invalid.field("timeout", _("Whole seconds from 0 to %(limit)d.") % {"limit": limit})
    return int(raw)


@support_view
async def longpoll(request: HttpRequest, actor: Actor) -> HttpResponse:
    after = events.parse_cursor(request.GET.get("after"))
    timeout = parse_timeout(request.GET.get("timeout"))
    if after is None:
        position = await current_position_async()
        return json_text_response(dumps({"events": [], "cursor": format_cursor(position)}))

    hub = get_hub()
    batch: list[LiveEvent] = []
    if not hub.has_read_through(after):
        # A bot's poll never carries a managers-only event (a note): its cursor jumps over them.
        batch = await _first_batch(replay(after, private=is_private(actor.credential)))
    if not batch and timeout:
        free_request_thread()  # waiting costs memory, not a thread
        async with await hub.subscribe(actor) as subscriber:
            # Reads again: anything committed between the read above and the subscription.
            batch = await _first_batch(follow(subscriber, after, timeout=timeout))
            if not batch and subscriber.revoked:
                raise NotAuthenticated(_("The credential was revoked."))

    cursor = format_cursor(batch[-1].position if batch else after)
    body = '{"events":[' + ",".join(event.json for event in batch) + '],"cursor":' + dumps(cursor)
    return json_text_response(body + "}")


async def _first_batch(chunks: AsyncGenerator[Chunk, None]) -> list[LiveEvent]:
    """The first batch *chunks* yields (``[]`` if none); an expired cursor is a 410."""
    async with aclosing(chunks):
        async for chunk in chunks:
            if isinstance(chunk, Reset):
                raise CursorExpired()
            return chunk
    return []

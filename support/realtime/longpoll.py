"""``GET events/?after=<cursor>&timeout=<0..30>``: the long-poll transport.

Answers at once when events are waiting after the cursor; otherwise holds
until one commits or the timeout passes. Without ``after``, answers at once
with no events and the current cursor, to start from.
"""

from __future__ import annotations

import time

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from support import events
from support.actors import Actor
from support.conf import support_settings
from support.cursors import format_cursor
from support.exceptions import Invalid, NotAuthenticated
from support.realtime.http import dumps, json_text_response, support_view
from support.realtime.hub import BATCH, LiveEvent, current_position_async, get_hub, read_log_async


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

    batch: list[LiveEvent] = await read_log_async(after, BATCH)  # CursorExpired -> 410
    if not batch and timeout:
        async with await get_hub().subscribe(actor) as subscriber:
            # Anything committed between the read above and the subscription.
            batch = await read_log_async(after, BATCH)
            deadline = time.monotonic() + timeout
            while not batch:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                live = await subscriber.wait(remaining)
                if subscriber.revoked:
                    raise NotAuthenticated(_("The credential was revoked."))
                if subscriber.take_overflow():
                    batch = await read_log_async(after, BATCH)
                else:
                    batch = [event for event in live if event.position > after]

    cursor = format_cursor(batch[-1].position if batch else after)
    body = '{"events":[' + ",".join(event.json for event in batch) + '],"cursor":' + dumps(cursor)
    return json_text_response(body + "}")

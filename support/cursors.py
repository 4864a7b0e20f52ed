"""Cursors: the opaque strings that name a position in the event log.

A cursor reads ``support:<n>``. That is django-eventstream's own
``Last-Event-ID`` syntax for the channel ``support``, so the SSE ``id:`` it
writes, the WebSocket ``event_id`` and the long-poll ``cursor`` are the same
string, and a client can resume on any transport with the cursor another one
gave it. Clients must treat cursors as opaque.
"""

from __future__ import annotations

#: The django-eventstream channel that carries the event log.
CHANNEL = "support"
PREFIX = f"{CHANNEL}:"
_MAX_DIGITS = 19  # a BigAutoField


def format_cursor(position: int) -> str:
    return f"{PREFIX}{position}"


def parse_position(cursor: str) -> int | None:
    """The log position in *cursor*, or ``None`` if it is not one of ours.

    A bare number is accepted too: that is what a cursor is under the prefix,
    and refusing it would only make hand-written requests harder.
    """
    digits = cursor.removeprefix(PREFIX)
    if not digits.isascii() or not digits.isdigit() or len(digits) > _MAX_DIGITS:
        return None
    return int(digits)

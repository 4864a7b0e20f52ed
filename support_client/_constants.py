"""Every default of the SDK, in one place."""

from __future__ import annotations

import httpx

#: Environment variables read when an argument is not given.
ENV_BASE_URL = "SUPPORT_BASE_URL"
ENV_API_KEY = "SUPPORT_API_KEY"
ENV_TOKEN = "SUPPORT_TOKEN"

#: Where the server routes its WebSocket, on the base URL's host
#: (``SUPPORT_WEBSOCKET_PATHS`` on the server; the first is ``ws/support/``).
DEFAULT_WEBSOCKET_PATH = "/ws/support/"

#: Seconds: 10 to connect, 30 for the rest. Long-polls add their own hold time.
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
DEFAULT_MAX_RETRIES = 2

#: Full-jitter exponential backoff: a random delay in [0, min(MAX, INITIAL * 2**n)].
INITIAL_RETRY_DELAY = 0.5
MAX_RETRY_DELAY = 8.0
#: A server's Retry-After longer than this is not waited for; the error is raised.
MAX_RETRY_AFTER = 60.0

#: Streams: reconnect backoff bounds, in seconds.
STREAM_INITIAL_DELAY = 0.25
STREAM_MAX_DELAY = 10.0
#: A stream that shows no byte (event, keep-alive, padding) this long after
#: connecting is taken as buffered by a proxy; ``auto`` then moves down a transport.
STREAM_FIRST_BYTE_TIMEOUT = 5.0
#: A stream that ``auto`` moved off WebSocket tries it again this long after, and
#: twice as long after each try that is still refused, up to the maximum (seconds).
STREAM_WEBSOCKET_RETRY = 30.0
STREAM_WEBSOCKET_RETRY_MAX = 600.0
#: A connected stream silent this long is dead (the server sends a keep-alive every 20 s).
STREAM_IDLE_TIMEOUT = 45.0
#: Long-poll hold time asked of the server, in seconds.
LONGPOLL_TIMEOUT = 25
#: How many event ids a stream remembers to drop repeats.
SEEN_EVENT_IDS = 10_000

USER_AGENT = "support-client"
#: The header a staff bot's key acts for a linked manager with (``client.acting(id)``).
ACTING_HEADER = "X-Support-Acting-Telegram-Id"

"""Retries: which failures are retried, how long the SDK waits, what is never resent."""

from __future__ import annotations

import email.utils
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import respx

from support_client import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    InternalServerError,
    RateLimitError,
    _base_client,
)
from support_client import _constants as C
from support_client._base_client import Attempts, parse_retry_after, retry_delay
from tests.sdk.common import ERROR_BODY, NOT_RETRIED, TICKET, Api, Clock, body_of, last_request

# --- retries ------------------------------------------------------------------------------


async def test_429_with_retry_after_waits_that_long_and_retries_once(
    api: Api, mock: respx.MockRouter, clock: Clock
) -> None:
    route = mock.get("tickets/16/").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "2"}, json={"code": "rate_limited"}),
            httpx.Response(200, json=TICKET),
        ]
    )

    ticket = await api.run(lambda c: c.tickets.get(16))

    assert ticket.id == 16
    assert route.call_count == 2
    assert clock.waits == [2.0]


async def test_503_twice_then_200_succeeds_after_two_jittered_retries(
    api: Api, mock: respx.MockRouter, clock: Clock
) -> None:
    route = mock.get("tickets/16/").mock(
        side_effect=[httpx.Response(503), httpx.Response(503), httpx.Response(200, json=TICKET)]
    )

    ticket = await api.run(lambda c: c.tickets.get(16))

    assert ticket.id == 16
    assert route.call_count == 3
    assert len(clock.waits) == 2
    assert 0 <= clock.waits[0] <= C.INITIAL_RETRY_DELAY
    assert 0 <= clock.waits[1] <= C.INITIAL_RETRY_DELAY * 2


@pytest.mark.parametrize("max_retries", [0, 1, 2, 3])
async def test_exhausted_retries_raise_internal_server_error(
    make: Callable[..., Api], mock: respx.MockRouter, clock: Clock, max_retries: int
) -> None:
    route = mock.get("tickets/16/").mock(side_effect=lambda request: httpx.Response(503))

    with pytest.raises(InternalServerError):
        await make(max_retries=max_retries).run(lambda c: c.tickets.get(16))

    assert route.call_count == max_retries + 1
    assert len(clock.waits) == max_retries


async def test_default_max_retries_is_two(api: Api, mock: respx.MockRouter, clock: Clock) -> None:
    route = mock.get("tickets/16/").mock(side_effect=lambda request: httpx.Response(500))

    with pytest.raises(InternalServerError):
        await api.run(lambda c: c.tickets.get(16))

    assert route.call_count == C.DEFAULT_MAX_RETRIES + 1 == 3


async def test_connection_errors_are_retried_then_raise_api_connection_error(
    api: Api, mock: respx.MockRouter, clock: Clock
) -> None:
    route = mock.get("tickets/16/").mock(side_effect=httpx.ConnectError)

    with pytest.raises(APIConnectionError) as caught:
        await api.run(lambda c: c.tickets.get(16))

    assert not isinstance(caught.value, APITimeoutError)
    assert isinstance(caught.value.__cause__, httpx.ConnectError)
    assert caught.value.request is not None
    assert route.call_count == 3
    assert len(clock.waits) == 2


async def test_connection_error_then_success_returns_the_answer(
    api: Api, mock: respx.MockRouter, clock: Clock
) -> None:
    route = mock.get("tickets/16/").mock(
        side_effect=[httpx.ConnectError("refused"), httpx.Response(200, json=TICKET)]
    )

    ticket = await api.run(lambda c: c.tickets.get(16))

    assert ticket.id == 16
    assert route.call_count == 2
    assert len(clock.waits) == 1


async def test_read_timeouts_are_retried_then_raise_api_timeout_error(
    api: Api, mock: respx.MockRouter, clock: Clock
) -> None:
    route = mock.get("tickets/16/").mock(side_effect=httpx.ReadTimeout)

    with pytest.raises(APITimeoutError) as caught:
        await api.run(lambda c: c.tickets.get(16))

    assert isinstance(caught.value, APIConnectionError)
    assert route.call_count == 3


@pytest.mark.parametrize(
    "error",
    [httpx.ReadTimeout, httpx.WriteTimeout, httpx.ReadError, httpx.RemoteProtocolError],
)
async def test_tickets_create_is_not_retried_once_the_request_may_have_been_sent(
    api: Api, mock: respx.MockRouter, clock: Clock, error: type[httpx.TransportError]
) -> None:
    route = mock.post("tickets/").mock(
        side_effect=[error("sent?"), httpx.Response(201, json=TICKET)]
    )

    with pytest.raises(APIConnectionError):
        await api.run(lambda c: c.tickets.create(user_id=123, title="Bug"))

    assert route.call_count == 1
    assert clock.waits == []


async def test_tickets_create_after_read_timeout_raises_api_timeout_error(
    api: Api, mock: respx.MockRouter
) -> None:
    mock.post("tickets/").mock(side_effect=httpx.ReadTimeout)

    with pytest.raises(APITimeoutError):
        await api.run(lambda c: c.tickets.create(user_id=123, title="Bug"))


async def test_tickets_create_sends_the_idempotency_key(api: Api, mock: respx.MockRouter) -> None:
    route = mock.post("tickets/").respond(201, json=TICKET)

    await api.run(lambda c: c.tickets.create(user_id=123, title="Bug", idempotency_key="tg-1-2"))

    assert body_of(last_request(route)) == {
        "user_id": 123,
        "title": "Bug",
        "idempotency_key": "tg-1-2",
    }


@pytest.mark.parametrize(
    "failure",
    [httpx.ReadTimeout("sent?"), httpx.RemoteProtocolError("sent?"), httpx.Response(502)],
    ids=["read-timeout", "dropped", "502"],
)
async def test_tickets_create_with_a_key_is_resent_with_the_same_key(
    api: Api, mock: respx.MockRouter, clock: Clock, failure: Any
) -> None:
    # The server answers a replayed key with the ticket it opened (200).
    route = mock.post("tickets/").mock(side_effect=[failure, httpx.Response(200, json=TICKET)])

    ticket = await api.run(
        lambda c: c.tickets.create(user_id=123, title="Bug", idempotency_key="tg-1-2")
    )

    assert ticket.id == 16
    assert route.call_count == 2
    assert body_of(route.calls[0].request) == body_of(route.calls[1].request)
    assert body_of(route.calls[1].request)["idempotency_key"] == "tg-1-2"
    assert len(clock.waits) == 1


@pytest.mark.parametrize("error", [httpx.ConnectError, httpx.ConnectTimeout])
async def test_tickets_create_is_retried_when_nothing_was_sent(
    api: Api, mock: respx.MockRouter, clock: Clock, error: type[httpx.TransportError]
) -> None:
    route = mock.post("tickets/").mock(
        side_effect=[error("not connected"), httpx.Response(201, json=TICKET)]
    )

    ticket = await api.run(lambda c: c.tickets.create(user_id=123, title="Bug"))

    assert ticket.id == 16
    assert route.call_count == 2
    assert body_of(route.calls[0].request) == body_of(route.calls[1].request)


async def test_retry_after_above_the_maximum_is_not_waited_for(
    api: Api, mock: respx.MockRouter, clock: Clock
) -> None:
    route = mock.get("tickets/16/").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "120"}, json={"code": "rate_limited"}),
            httpx.Response(200, json=TICKET),
        ]
    )

    with pytest.raises(RateLimitError) as caught:
        await api.run(lambda c: c.tickets.get(16))

    assert caught.value.code == "rate_limited"
    assert route.call_count == 1
    assert clock.waits == []


async def test_retry_after_as_http_date_is_honoured(
    api: Api, mock: respx.MockRouter, clock: Clock
) -> None:
    at = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
    clock.now = at.timestamp() - 3
    route = mock.get("tickets/16/").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": email.utils.format_datetime(at, True)}),
            httpx.Response(200, json=TICKET),
        ]
    )

    await api.run(lambda c: c.tickets.get(16))

    assert route.call_count == 2
    assert clock.waits == [3.0]


async def test_retry_after_on_503_is_honoured(
    api: Api, mock: respx.MockRouter, clock: Clock
) -> None:
    mock.get("tickets/16/").mock(
        side_effect=[
            httpx.Response(503, headers={"Retry-After": "7"}),
            httpx.Response(200, json=TICKET),
        ]
    )

    await api.run(lambda c: c.tickets.get(16))

    assert clock.waits == [7.0]


@pytest.mark.parametrize(("status", "error_class"), NOT_RETRIED)
async def test_client_errors_other_than_429_are_never_retried(
    api: Api,
    mock: respx.MockRouter,
    clock: Clock,
    status: int,
    error_class: type[APIStatusError],
) -> None:
    route = mock.get("tickets/16/").mock(
        side_effect=[
            httpx.Response(status, json=ERROR_BODY, headers={"Retry-After": "1"}),
            httpx.Response(200, json=TICKET),
        ]
    )

    with pytest.raises(error_class):
        await api.run(lambda c: c.tickets.get(16))

    assert route.call_count == 1
    assert clock.waits == []


async def test_request_timeout_without_retries_raises_api_timeout_error(
    make: Callable[..., Api], mock: respx.MockRouter, clock: Clock
) -> None:
    route = mock.get("tickets/16/").mock(side_effect=httpx.ReadTimeout)

    with pytest.raises(APITimeoutError) as caught:
        await make(max_retries=0).run(lambda c: c.tickets.get(16))

    assert isinstance(caught.value.__cause__, httpx.ReadTimeout)
    assert route.call_count == 1
    assert clock.waits == []


@pytest.mark.parametrize(("status", "retried"), [(500, False), (502, False), (504, False),
                                                 (503, True), (429, True)])  # fmt: skip
async def test_tickets_create_is_resent_only_when_the_server_says_it_did_not_run(
    make: Callable[..., Api], mock: respx.MockRouter, status: int, retried: bool
) -> None:
    route = mock.post("tickets/")
    route.side_effect = [httpx.Response(status, json={"code": "x", "detail": "x"}),
                         httpx.Response(201, json=TICKET)]  # fmt: skip
    api = make(max_retries=1)
    if retried:
        await api.run(lambda c: c.tickets.create(user_id=1, title="t"))
        assert route.call_count == 2
    else:
        with pytest.raises(APIStatusError):
            await api.run(lambda c: c.tickets.create(user_id=1, title="t"))
        assert route.call_count == 1


# --- the policy both clients drive (Attempts) --------------------------------------------

REQUEST = httpx.Request("POST", "http://test/support/tickets/")


def outcome_of(name: int | str) -> httpx.Response | httpx.TransportError:
    if name == "read":
        return httpx.ReadTimeout("lost", request=REQUEST)
    if name == "connect":
        return httpx.ConnectError("refused", request=REQUEST)
    assert isinstance(name, int)
    return httpx.Response(name, request=REQUEST)


def step_after(attempts: Attempts, outcome: httpx.Response | httpx.TransportError) -> str:
    try:
        step = attempts.after(outcome)
    except APIConnectionError as error:
        same = error.__cause__ is outcome and error.request is REQUEST
        return "raise" if same else f"raise {error!r}"
    if step is outcome:
        return "answer"
    assert isinstance(step, float)
    assert 0 <= step <= C.MAX_RETRY_DELAY
    return "wait"


@pytest.mark.parametrize(
    ("idempotent", "outcomes", "steps"),
    [
        pytest.param(True, [200], ["answer"], id="success"),
        pytest.param(True, [503, 500, 200], ["wait", "wait", "answer"], id="5xx-then-success"),
        pytest.param(True, [503, 503, 503], ["wait", "wait", "answer"], id="exhausted"),
        pytest.param(True, [404], ["answer"], id="4xx"),
        pytest.param(False, [500], ["answer"], id="500-not-idempotent"),
        pytest.param(False, [429, 503, 200], ["wait", "wait", "answer"], id="did-not-run"),
        pytest.param(True, ["read", "connect", 200], ["wait", "wait", "answer"], id="errors"),
        pytest.param(True, ["read", "read", "read"], ["wait", "wait", "raise"], id="errors-out"),
        pytest.param(False, ["connect", "read"], ["wait", "raise"], id="maybe-sent"),
    ],
)
def test_attempts_answer_wait_or_raise_after_each_outcome(
    idempotent: bool, outcomes: list[int | str], steps: list[str]
) -> None:
    attempts = Attempts(REQUEST, max_retries=2, idempotent=idempotent)

    assert [step_after(attempts, outcome_of(name)) for name in outcomes] == steps


# --- retry_delay and parse_retry_after ----------------------------------------------------


@pytest.mark.parametrize(
    ("attempt", "ceiling"), [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 8.0), (6, 8.0), (20, 8.0)]
)
def test_retry_delay_is_full_jitter_under_the_exponential_ceiling(
    monkeypatch: pytest.MonkeyPatch, attempt: int, ceiling: float
) -> None:
    asked: list[tuple[float, float]] = []

    def uniform(low: float, high: float) -> float:
        asked.append((low, high))
        return high

    monkeypatch.setattr(_base_client, "random", SimpleNamespace(uniform=uniform))

    assert retry_delay(attempt, None) == ceiling
    assert asked == [(0, ceiling)]


@pytest.mark.parametrize("attempt", [1, 2, 3, 4, 5, 6])
def test_retry_delay_stays_within_bounds(attempt: int) -> None:
    ceiling = min(C.MAX_RETRY_DELAY, C.INITIAL_RETRY_DELAY * 2 ** (attempt - 1))

    delays = [retry_delay(attempt, None) for _ in range(200)]

    assert all(d is not None and 0 <= d <= ceiling for d in delays)
    assert len(set(delays)) > 1


@pytest.mark.parametrize(
    ("header", "expected"),
    [("2", 2.0), ("0", 0.0), ("1.5", 1.5), ("60", 60.0), ("61", None), ("3600", None)],
)
def test_retry_delay_honours_retry_after_up_to_the_maximum(
    header: str, expected: float | None
) -> None:
    response = httpx.Response(429, headers={"Retry-After": header})

    assert retry_delay(1, response) == expected


@pytest.mark.parametrize("headers", [{}, {"Retry-After": "soon"}, {"Retry-After": ""}])
def test_retry_delay_without_usable_retry_after_falls_back_to_jitter(
    headers: dict[str, str],
) -> None:
    response = httpx.Response(503, headers=headers)

    for _ in range(50):
        delay = retry_delay(1, response)
        assert delay is not None
        assert 0 <= delay <= C.INITIAL_RETRY_DELAY


@pytest.mark.parametrize(
    ("header", "expected"),
    [("2", 2.0), (" 5 ", 5.0), ("0.25", 0.25), ("-3", 0.0), ("soon", None), ("", None)],
)
def test_parse_retry_after_seconds(header: str, expected: float | None) -> None:
    assert parse_retry_after(header) == expected


def test_parse_retry_after_http_date_is_seconds_from_now(clock: Clock) -> None:
    at = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
    clock.now = at.timestamp() - 10

    assert parse_retry_after("Wed, 01 Jan 2025 12:00:00 GMT") == 10.0


def test_parse_retry_after_http_date_in_the_past_is_zero(clock: Clock) -> None:
    clock.now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC).timestamp()

    assert parse_retry_after("Wed, 01 Jan 2025 11:00:00 GMT") == 0.0


@contextmanager
def local_time_zone(tz: str) -> Iterator[None]:
    """The process's local time zone set to *tz* (a POSIX TZ string), then restored."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = tz
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        time.tzset()


ASCTIME_DATE = "Sun Nov  6 08:49:37 1994"  # RFC 9110's obsolete asctime form, always GMT


def test_parse_retry_after_asctime_date_on_a_utc_host(clock: Clock) -> None:
    clock.now = datetime(1994, 11, 6, 8, 49, 27, tzinfo=UTC).timestamp()

    with local_time_zone("UTC0"):
        assert parse_retry_after(ASCTIME_DATE) == 10.0


def test_parse_retry_after_asctime_date_is_gmt_whatever_the_local_time_zone(
    clock: Clock,
) -> None:
    clock.now = datetime(1994, 11, 6, 8, 49, 27, tzinfo=UTC).timestamp()

    with local_time_zone("JST-9"):
        assert parse_retry_after(ASCTIME_DATE) == 10.0

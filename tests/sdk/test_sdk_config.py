"""Client configuration: arguments and environment, timeouts, with_options, context managers."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
import respx

from support_client import AsyncSupportClient, InternalServerError, SupportClient, SupportError
from support_client import _constants as C
from tests.sdk.common import BASE, KEY, TICKET, Api, last_request

# --- configuration ------------------------------------------------------------------------


async def test_environment_supplies_base_url_and_api_key(
    make: Callable[..., Api], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SUPPORT_BASE_URL", "http://env.example/support/")
    monkeypatch.setenv("SUPPORT_API_KEY", "env-key")

    options = make(base_url=None, api_key=None).client.options

    assert options.base_url == "http://env.example/support/"
    assert options.auth_header == "Api-Key env-key"


async def test_environment_supplies_a_token(
    make: Callable[..., Api], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SUPPORT_TOKEN", "env-token")

    options = make(api_key=None).client.options

    assert options.auth_header == "Token env-token"
    assert options.api_key is None


async def test_environment_credentials_are_used_for_requests(
    make: Callable[..., Api], mock: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SUPPORT_BASE_URL", BASE)
    monkeypatch.setenv("SUPPORT_TOKEN", "env-token")
    route = mock.get("tickets/16/").respond(json=TICKET)

    await make(base_url=None, api_key=None).run(lambda c: c.tickets.get(16))

    assert last_request(route).headers["Authorization"] == "Token env-token"


async def test_arguments_win_over_the_environment(
    make: Callable[..., Api], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SUPPORT_BASE_URL", "http://env.example/support/")
    monkeypatch.setenv("SUPPORT_API_KEY", "env-key")
    monkeypatch.setenv("SUPPORT_TOKEN", "env-token")

    options = make(base_url="http://arg.example/support/", api_key=None, token="arg").client.options

    assert options.base_url == "http://arg.example/support/"
    assert options.auth_header == "Token arg"


async def test_api_key_argument_wins_over_environment_token(
    make: Callable[..., Api], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SUPPORT_TOKEN", "env-token")

    assert make(api_key="arg-key").client.options.auth_header == "Api-Key arg-key"


async def test_missing_base_url_raises_support_error(make: Callable[..., Api]) -> None:
    with pytest.raises(SupportError, match="base URL"):
        make(base_url=None)


async def test_missing_credential_raises_support_error(make: Callable[..., Api]) -> None:
    with pytest.raises(SupportError, match="credential"):
        make(api_key=None)


async def test_both_api_key_and_token_raise_support_error(make: Callable[..., Api]) -> None:
    with pytest.raises(SupportError, match="not both"):
        make(api_key="k", token="t")


async def test_base_url_without_trailing_slash_works(
    make: Callable[..., Api], mock: respx.MockRouter
) -> None:
    route = mock.get("tickets/16/").respond(json=TICKET)
    api = make(base_url="http://test/support")

    await api.run(lambda c: c.tickets.get(16))

    assert api.client.options.base_url == BASE
    assert last_request(route).url == "http://test/support/tickets/16/"


@pytest.mark.parametrize(
    ("base_url", "websocket_url"),
    [
        ("http://test/support/", "ws://test/ws/support/"),
        ("https://example.org/support/", "wss://example.org/ws/support/"),
        ("https://example.org/support", "wss://example.org/ws/support/"),
        ("http://localhost:8000/support/", "ws://localhost:8000/ws/support/"),
    ],
)
async def test_websocket_url_follows_the_base_url_scheme_and_host(
    make: Callable[..., Api], base_url: str, websocket_url: str
) -> None:
    assert make(base_url=base_url).client.options.websocket_url == websocket_url


async def test_timeouts_are_on_by_default(api: Api) -> None:
    timeout = api.client.options.timeout

    assert isinstance(timeout, httpx.Timeout)
    for value in (timeout.connect, timeout.read, timeout.write, timeout.pool):
        assert value is not None
        assert 0 < value < float("inf")


async def test_a_number_timeout_becomes_an_httpx_timeout(make: Callable[..., Api]) -> None:
    assert make(timeout=5).client.options.timeout == httpx.Timeout(5.0)


async def test_default_max_retries_option(api: Api) -> None:
    assert api.client.options.max_retries == C.DEFAULT_MAX_RETRIES


async def test_with_options_returns_a_client_with_those_options(api: Api) -> None:
    original = api.client

    clone = original.with_options(timeout=5.0, max_retries=0)

    assert type(clone) is type(original)
    assert clone is not original
    assert clone.options.timeout == httpx.Timeout(5.0)
    assert clone.options.max_retries == 0
    assert clone.options.base_url == original.options.base_url
    assert clone.options.auth_header == original.options.auth_header


async def test_with_options_shares_the_http_client(api: Api) -> None:
    clone = api.client.with_options(max_retries=0)

    assert clone._requester.http is api.client._requester.http


async def test_with_options_leaves_the_original_unchanged(api: Api) -> None:
    api.client.with_options(timeout=5.0, max_retries=0)

    assert api.client.options.timeout == C.DEFAULT_TIMEOUT
    assert api.client.options.max_retries == C.DEFAULT_MAX_RETRIES


async def test_with_options_without_arguments_keeps_the_options(api: Api) -> None:
    assert api.client.with_options().options == api.client.options


async def test_with_options_client_sends_with_its_timeout_and_retries(
    api: Api, mock: respx.MockRouter
) -> None:
    route = mock.get("tickets/16/").mock(side_effect=lambda request: httpx.Response(503))
    clone = Api(api.client.with_options(timeout=5.0, max_retries=0))

    with pytest.raises(InternalServerError):
        await clone.run(lambda c: c.tickets.get(16))

    assert route.call_count == 1
    assert last_request(route).extensions["timeout"] == httpx.Timeout(5.0).as_dict()


async def test_closing_a_with_options_client_keeps_the_shared_http_client_open(
    api: Api,
) -> None:
    clone = Api(api.client.with_options(max_retries=0))

    await clone.run(lambda c: c.close())

    assert not api.client._requester.http.is_closed


def test_sync_context_manager_closes_its_own_http_client() -> None:
    with SupportClient(BASE, api_key=KEY) as client:
        http = client._requester.http
        assert not http.is_closed

    assert http.is_closed


async def test_async_context_manager_closes_its_own_http_client() -> None:
    async with AsyncSupportClient(BASE, api_key=KEY) as client:
        http = client._requester.http
        assert not http.is_closed

    assert http.is_closed


def test_sync_context_manager_leaves_a_caller_http_client_open(mock: respx.MockRouter) -> None:
    route = mock.get("tickets/16/").respond(json=TICKET)
    with httpx.Client() as http:
        with SupportClient(BASE, api_key=KEY, http_client=http) as client:
            assert client.tickets.get(16).id == 16

        assert not http.is_closed
    assert route.call_count == 1


async def test_async_context_manager_leaves_a_caller_http_client_open(
    mock: respx.MockRouter,
) -> None:
    route = mock.get("tickets/16/").respond(json=TICKET)
    async with httpx.AsyncClient() as http:
        async with AsyncSupportClient(BASE, api_key=KEY, http_client=http) as client:
            assert (await client.tickets.get(16)).id == 16

        assert not http.is_closed
    assert route.call_count == 1


def test_a_base_url_loses_its_query_and_gains_its_slash() -> None:
    client = SupportClient("http://h/support?x=1", api_key=KEY)
    assert client.options.base_url == "http://h/support/"
    client.close()

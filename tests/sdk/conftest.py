"""Fixtures of the SDK unit tests (no server, no database): respx mocks, either client,
a fake clock. See ``common.py``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
import respx

from support_client import AsyncSupportClient, SupportClient, _base_client
from support_client import _constants as C
from tests.sdk.common import BASE, KEY, Api, Clock


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(_base_client, "time", SimpleNamespace(sleep=fake.sleep, time=fake.time))
    monkeypatch.setattr(_base_client, "asyncio", SimpleNamespace(sleep=fake.async_sleep))
    return fake


@pytest.fixture(autouse=True)
def _no_support_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (C.ENV_BASE_URL, C.ENV_API_KEY, C.ENV_TOKEN):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE) as router:
        yield router


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def make(kind: str) -> AsyncIterator[Callable[..., Api]]:
    """``make(**kwargs)``: a client of this test's kind (defaults: ``BASE`` and ``KEY``)."""
    made: list[SupportClient | AsyncSupportClient] = []

    def factory(**kwargs: Any) -> Api:
        kwargs = {"base_url": BASE, "api_key": KEY, **kwargs}
        client: SupportClient | AsyncSupportClient = (
            SupportClient(**kwargs) if kind == "sync" else AsyncSupportClient(**kwargs)
        )
        made.append(client)
        return Api(client)

    yield factory
    for client in made:
        if isinstance(client, AsyncSupportClient):
            await client.close()
        else:
            client.close()


@pytest.fixture
def api(make: Callable[..., Api]) -> Api:
    return make()

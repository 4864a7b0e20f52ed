"""Schemathesis against the live example server's OpenAPI schema.

Every operation of ``GET /support/schema/?format=json`` is fuzzed twice, as
a manager (``Authorization: Token …``) and as a bot (``Authorization:
Api-Key …``), with schema-valid and schema-invalid requests (schemathesis'
examples, coverage and fuzzing phases). Each response must be no server
error, carry a documented status code and content type, and match the
documented response schema and headers.

The run is bounded and reproducible: a fixed seed, ``deterministic``
generation (Hypothesis' ``derandomize``), no example database, no deadline,
``MAX_EXAMPLES`` fuzzed cases per operation.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.harness.server import Credentials, LiveServer, running_server
from tests.live_clients import auth

pytestmark = pytest.mark.live

SEED = 20250105
MAX_EXAMPLES = 40
#: Tickets opened before the run, so that ``{id}`` in 1..TICKETS names real objects.
TICKETS = 5
#: The checks every response goes through.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, Credentials]]:
    with running_server(tmp_path_factory.mktemp("fuzz-schema"), tickets=TICKETS) as live:
        yield live


def small_ids(
    _context: schemathesis.HookContext, path_parameters: dict[str, Any] | None
) -> dict[str, Any] | None:
    """Point integer ids at the tickets that exist (and a few just past them).

    Anything else (a string, ``null``, a float: the schema-invalid ids of
    negative testing) is sent as generated.
    """
    value = (path_parameters or {}).get("id")
    if path_parameters is not None and isinstance(value, int) and not isinstance(value, bool):
        path_parameters["id"] = value % (TICKETS + 3) + 1
    return path_parameters


def load_schema(server: LiveServer, authorization: dict[str, str]) -> schemathesis.BaseSchema:
    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "base-url": server.api,
            "headers": authorization,
            "request-timeout": 30,
            "generation": {
                "mode": "all",
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "database": "none",
            },
            "checks": {
                "enabled": False,
                **{check.__name__: {"enabled": True} for check in CHECKS},
            },
        }
    )
    schema = schemathesis.openapi.from_url(f"{server.api}schema/?format=json", config=config)
    schema.hook("map_path_parameters")(small_ids)
    return schema


@pytest.fixture(scope="module")
def manager_schema(live: tuple[LiveServer, Credentials]) -> schemathesis.BaseSchema:
    server, credentials = live
    return load_schema(server, auth(credentials.managers[0]))


@pytest.fixture(scope="module")
def bot_schema(live: tuple[LiveServer, Credentials]) -> schemathesis.BaseSchema:
    server, credentials = live
    return load_schema(server, auth(credentials.bot_key))


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with requests.Session() as http:
        yield http


@pytest.fixture(autouse=True)
def nodeid_compat(request: pytest.FixtureRequest) -> None:
    """schemathesis' pytest plugin reads and writes ``Node._nodeid``, gone in pytest 9.2."""
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


manager_api = schemathesis.pytest.from_fixture("manager_schema")
bot_api = schemathesis.pytest.from_fixture("bot_schema")


def validate(case: schemathesis.Case[Any], session: requests.Session) -> None:
    case.call_and_validate(session=session, checks=CHECKS)


@manager_api.parametrize()
def test_api_as_a_manager(case: schemathesis.Case[Any], session: requests.Session) -> None:
    validate(case, session)


@bot_api.parametrize()
def test_api_as_a_bot(case: schemathesis.Case[Any], session: requests.Session) -> None:
    validate(case, session)


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "tickets/"), ("PATCH", "tickets/1/"), ("POST", "tickets/1/messages/")],
)
@pytest.mark.parametrize(
    "body",
    ["[" * 5000, '{"text": ' + "[" * 5000 + "]" * 5000 + "}"],
    ids=["open-arrays", "nested-in-object"],
)
def test_deeply_nested_json_is_bad_json(
    live: tuple[LiveServer, Credentials], method: str, path: str, body: str
) -> None:
    """What the WebSocket fuzzing found, over REST: nesting deeper than Python's recursion limit."""
    server, credentials = live
    response = httpx.request(
        method,
        f"{server.api}{path}",
        content=body,
        headers={**auth(credentials.bot_key), "Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 400, response.text[:300]
    # Python 3.13's parser reads deep nesting that 3.11's refuses: then the value
    # is simply the wrong type for its field. Either way a 400 in the API's format.
    assert response.json()["code"] in {"bad_json", "invalid"}

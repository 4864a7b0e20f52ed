"""Schemathesis against the live example server's OpenAPI schema, with every check.

Every operation of ``GET /support/schema/?format=json`` is fuzzed twice, as
a manager (``Authorization: Token …``) and as a bot (``Authorization:
Api-Key …``), with schema-valid and schema-invalid requests (schemathesis'
examples, coverage and fuzzing phases), and every check schemathesis has
runs on each answer: no server error; a documented status, content type,
body and headers; and the request-side ones: a request the schema allows is
accepted (``positive_data_acceptance``), one it does not is refused
(``negative_data_rejection``), auth is not ignored, an undocumented method
is 405 with ``Allow``, and so on. The document itself must be valid OpenAPI 3
(``openapi-spec-validator``).

What a schema cannot know, and so what a schema-valid request may still be
refused with (:data:`ACCEPTED_REFUSALS`), is the desk's state and who asks:

* 404 ``not_found``: an id that names no ticket (ids are generated; only 1..5 exist);
* 409: the ticket's state (``assigned_to_other``, ``already_assigned``,
  ``ticket_resolved``), an ``idempotency_key`` already used (``idempotency_conflict``),
  or the message's (``edit_window_closed``; ``text_required``: an empty text is a
  caption, allowed only for a message with attachments);
* 403 ``permission_denied``: a bot's action by a manager (``POST tickets/``),
  a manager's by the bot (``assign``, ``unassign``), or a ``sender`` naming the
  other side (the credential decides who speaks).

Nothing else: not 400, so the schema may allow nothing the server refuses.
Two more rules of the multipart bodies are beyond JSON Schema, and
:func:`real_files` makes them true of schema-valid cases rather than let
them pass as refusals: a file's type is read from its bytes (random bytes
are 415, which the schema says in words), and ``kinds`` names one kind per
file (one list's length against another's).

The server is uvicorn, as docs/deployment.md recommends. Under daphne, Twisted
parses every multipart POST itself before the app sees it and answers a body
it cannot parse (an empty form, ``--boundary--``) with a bare 400, no JSON:
that is daphne's, not the app's, and the reason this test does not run on it.

The run is bounded and reproducible: a fixed seed, ``deterministic``
generation (Hypothesis' ``derandomize``), no example database, no deadline,
``MAX_EXAMPLES`` fuzzed cases per operation (about a minute and a half).
``FUZZ_SEED`` and ``FUZZ_EXAMPLES`` explore further, locally.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema_rs
import pytest
import requests
import schemathesis
from openapi_spec_validator import validate as validate_openapi
from schemathesis.config._checks import _BUILTIN_CHECK_NAMES
from schemathesis.core.failures import AcceptedNegativeData
from schemathesis.generation import GenerationMode
from schemathesis.transport.serialization import Binary

from tests import files
from tests.harness.server import Credentials, LiveServer, running_server
from tests.live_clients import auth

pytestmark = pytest.mark.live

#: CI's seed; ``FUZZ_SEED=<n>`` explores others (and ``FUZZ_EXAMPLES`` more cases) locally.
SEED = int(os.environ.get("FUZZ_SEED", "20250105"))
MAX_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "40"))
#: Tickets opened before the run, so that ``{id}`` in 1..TICKETS names real objects.
TICKETS = 5
INT64_MAX = 2**63 - 1
#: What a schema-valid request may be refused with: the desk's state and the caller's
#: side, which no schema can know (see the module's docstring). Not 400.
ACCEPTED_REFUSALS = ["403", "404", "409"]
#: What a schema-invalid request is refused with: 400 (the body, a query parameter),
#: 404 (a path's id that is not an id), 413 (a file over SUPPORT_MAX_ATTACHMENT_SIZE),
#: and, when one thing is wrong and another is refused first: 403 (a caller who may not
#: do this at all: a manager's ``POST tickets/`` with an empty file is refused as a
#: manager's), 415 (files are checked in order: random bytes, then an empty file).
REFUSALS = ["400", "403", "404", "413", "415"]
#: A generous bound for ``max_response_time`` (seconds): loaded CI machines are slow,
#: but a request that hangs is a bug.
SLOWEST = 10.0

CONFIG: dict[str, Any] = {
    "seed": SEED,
    "request-timeout": 30,
    "generation": {
        "mode": "all",
        "max-examples": MAX_EXAMPLES,
        "deterministic": True,
        "database": "none",
    },
    "checks": {
        "enabled": True,
        "max_response_time": SLOWEST,
        "positive_data_acceptance": {
            "expected-statuses": ["200", "201", "204", *ACCEPTED_REFUSALS]
        },
        "negative_data_rejection": {"expected-statuses": REFUSALS},
    },
}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, Credentials]]:
    workdir = tmp_path_factory.mktemp("fuzz-schema")
    # Rate limits off: a run sends more than the 600 requests a minute a manager may
    # (tests/test_ratelimit.py tests them; a 429 here would hide what the run checks).
    rates = json.dumps({"bot": None, "manager": None})
    with running_server(
        workdir, tickets=TICKETS, program="uvicorn", SUPPORT_THROTTLE_RATES=rates
    ) as live:
        yield live


def small_ids(
    _context: schemathesis.HookContext, path_parameters: dict[str, Any] | None
) -> dict[str, Any] | None:
    """Point ids at the tickets that exist (and a few just past them).

    Only ids the schema allows (1..2**63-1); the others (0, negative, past
    int64, a string, ``null``: negative testing) are sent as generated.
    """
    value = (path_parameters or {}).get("id")
    if path_parameters is not None and isinstance(value, int) and 1 <= value <= INT64_MAX:
        path_parameters["id"] = value % (TICKETS + 3) + 1
    return path_parameters


#: A file of each kind (bytes the server reads as a type the kind may be).
SAMPLES = {
    "photo": files.png(),
    "sticker": files.webp(),
    "animation": files.gif(),
    "voice": files.ogg(),
    "audio": files.ogg(),
    "video": b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 20,
    "document": files.pdf(),
}
UNNAMED = [files.png(), files.pdf(), b"plain text, a document\n"]


def real_files(_context: schemathesis.HookContext, case: schemathesis.Case[Any]) -> Any:
    """A schema-valid multipart case, with files whose bytes are what their kinds say.

    The two rules JSON Schema cannot state (a type read from the bytes, one
    kind per file) made true; everything else as generated. Negative cases
    are left alone: they must be refused whatever their files are.
    """
    body: Any = case.body
    if (
        case.meta is None
        or case.meta.generation.mode is not GenerationMode.POSITIVE
        or not (case.media_type or "").startswith("multipart/")
        or not isinstance(body, dict)
    ):
        return case
    uploads = body.get("files") or []
    kinds = list(body.get("kinds") or [])
    if kinds:
        kinds = (kinds + ["document"] * len(uploads))[: len(uploads)]
        body["kinds"] = kinds
    elif "kinds" in body:
        body["kinds"] = []
    if uploads:
        body["files"] = [
            Binary(SAMPLES[kinds[index]] if kinds else UNNAMED[index % len(UNNAMED)])
            for index in range(len(uploads))
        ]
    return case


def inline(document: dict[str, Any], schema: Any) -> Any:
    """*schema* with every ``$ref`` into the document's components replaced by its target."""
    if isinstance(schema, list):
        return [inline(document, item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        return inline(document, document["components"]["schemas"][name])
    return {key: inline(document, value) for key, value in schema.items()}


def files_judged_by_size(document: dict[str, Any]) -> Any:
    """A ``filter_failure`` hook: "schema-violating request accepted" only if it violates.

    Schemathesis validates its negative bodies with each file taken for ``""``, so
    a multipart body it meant to break elsewhere, but did not (``*`` appended to a
    string that the pattern still matches), looks broken all the same: ``""``
    breaks the files' ``minLength: 1``. This judges the body as sent, a file by
    its size, and keeps the failure only if the body really breaks the schema.
    """

    def keep(
        _context: schemathesis.HookContext,
        failure: Any,
        case: schemathesis.Case[Any],
        _response: Any,
    ) -> bool:
        media_type = case.media_type or ""
        if not isinstance(failure, AcceptedNegativeData) or not media_type.startswith("multipart/"):
            return True
        if not isinstance(case.body, dict):
            return True
        operation = document["paths"][case.operation.path][case.method.lower()]
        schema = inline(document, operation["requestBody"]["content"][media_type]["schema"])

        def as_sent(value: Any) -> Any:
            if isinstance(value, Binary):
                return "x" * len(value.data)
            if isinstance(value, list):
                return [as_sent(item) for item in value]
            return value

        body = {key: as_sent(value) for key, value in case.body.items()}
        return not jsonschema_rs.validator_for(schema).is_valid(body)

    return keep


def load_schema(server: LiveServer, authorization: dict[str, str]) -> schemathesis.BaseSchema:
    config = schemathesis.Config.from_dict(
        {**CONFIG, "base-url": server.api, "headers": authorization}
    )
    url = f"{server.api}schema/?format=json"
    schema = schemathesis.openapi.from_url(url, config=config)
    schema.hook("map_path_parameters")(small_ids)
    schema.hook("map_case")(real_files)
    schema.hook("filter_failure")(files_judged_by_size(httpx.get(url, timeout=10).json()))
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
    case.call_and_validate(session=session)  # every check the configuration enables: all


@manager_api.parametrize()
def test_api_as_a_manager(case: schemathesis.Case[Any], session: requests.Session) -> None:
    validate(case, session)


@bot_api.parametrize()
def test_api_as_a_bot(case: schemathesis.Case[Any], session: requests.Session) -> None:
    validate(case, session)


def test_every_check_is_on(manager_schema: schemathesis.BaseSchema) -> None:
    """The run above is the whole of schemathesis, not a chosen few of its checks."""
    checks = manager_schema.config.checks
    for name in sorted(_BUILTIN_CHECK_NAMES):
        assert checks.get_by_name(name=name).enabled, name


def test_the_served_schema_is_valid_openapi_3(live: tuple[LiveServer, Credentials]) -> None:
    server, _credentials = live
    response = httpx.get(f"{server.api}schema/?format=json", timeout=10)
    assert response.status_code == 200
    document = response.json()
    validate_openapi(document)
    assert document["openapi"].startswith("3.0")
    # YAML, the default, is the same document.
    yaml = httpx.get(f"{server.api}schema/", timeout=10)
    assert yaml.status_code == 200
    assert "application/vnd.oai.openapi" in yaml.headers["content-type"]


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


def test_what_the_fuzzing_found_is_refused_with_400(live: tuple[LiveServer, Credentials]) -> None:
    """Integers past 64 bits and ``null`` bodies, which reached the database or were taken
    for ``{}``; a ``limit`` of thousands of digits, which was a 500."""
    server, credentials = live
    headers = {**auth(credentials.bot_key), "Content-Type": "application/json"}
    with httpx.Client(base_url=server.api, headers=headers, timeout=10) as http:
        for method, path, body in [
            ("POST", "tickets/1/messages/viewed/", {"up_to": 2**63}),
            ("POST", "tickets/1/messages/viewed/", None),
            ("PATCH", "tickets/1/", None),
            ("POST", "tickets/1/resolve/", None),
            ("GET", "tickets/?limit=" + "9" * 5000, ...),
            ("GET", "tickets/?offset=9223372036854775808", ...),
        ]:
            content = None if body is ... else json.dumps(body)
            response = http.request(method, path, content=content)
            assert response.status_code == 400, (method, path, response.text[:300])
            assert response.json()["code"] == "invalid"

"""The OpenAPI schema states the server's own rules, from the definitions it validates with.

The live side (schemathesis sending what the schema allows and what it
refuses) is tests/test_fuzz_schema.py; this checks the document itself, in
process: valid OpenAPI 3, strict bodies, 64-bit integers, the string rule
as one pattern that Python's ``re`` and ECMA-262 (through jsonschema-rs, a
Rust engine) read as the server does, and limits that follow the settings.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import jsonschema_rs
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from openapi_spec_validator import validate

from support import inputs
from support.api.schema import string_schema

pytestmark = pytest.mark.django_db


def schema_document(client: Any) -> dict[str, Any]:
    response = client.get("/support/schema/?format=json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


@pytest.fixture
def document(anon_client) -> dict[str, Any]:
    return schema_document(anon_client)


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def operations(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield f"{method.upper()} {path}", operation


def request_bodies(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for name, operation in operations(document):
        for media_type, content in operation.get("requestBody", {}).get("content", {}).items():
            yield name, media_type, resolve(document, content["schema"])


def subschemas(document: dict[str, Any], schema: Any) -> Iterator[dict[str, Any]]:
    """*schema* and every schema inside it, references followed."""
    if not isinstance(schema, dict):
        return
    schema = resolve(document, schema)
    yield schema
    for key in ("items", "additionalProperties"):
        yield from subschemas(document, schema.get(key))
    for child in schema.get("properties", {}).values():
        yield from subschemas(document, child)
    for key in ("allOf", "anyOf", "oneOf"):
        for child in schema.get(key, []):
            yield from subschemas(document, child)


def request_schemas(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema a request is judged by: bodies, and path and query parameters."""
    for name, _media_type, body in request_bodies(document):
        for schema in subschemas(document, body):
            yield name, schema
    for name, operation in operations(document):
        for parameter in operation.get("parameters", []):
            for schema in subschemas(document, parameter["schema"]):
                yield f"{name} ?{parameter['name']}", schema


# -- the document --------------------------------------------------------------------


def test_the_schema_is_valid_openapi_3(document):
    validate(document)  # raises on anything OpenAPI 3.0 does not allow
    assert document["openapi"].startswith("3.0")


def test_every_request_body_refuses_unknown_fields(document):
    bodies = list(request_bodies(document))
    # 4 actions, PATCH, viewed, 2 x (JSON and multipart), the link code, its
    # confirmation, the topic, a saved reply's POST and PATCH, a note, a message's edit,
    # block and unblock, a rating's POST and PATCH
    assert len(bodies) == 21
    for name, media_type, schema in bodies:
        assert schema["type"] == "object", (name, media_type)
        assert schema["additionalProperties"] is False, (name, media_type)


def test_integers_are_64_bit_and_nothing_is_a_float(document):
    integers = 0
    for name, schema in request_schemas(document):
        assert schema.get("type") != "number", name
        if schema.get("type") == "integer":
            integers += 1
            if (schema["minimum"], schema["maximum"]) == (inputs.RATING_MIN, inputs.RATING_MAX):
                continue  # a rating's score: its range is the rule
            assert schema["format"] == "int64", name
            assert schema["minimum"] >= inputs.INT64_MIN, name
            assert schema["maximum"] == inputs.INT64_MAX, name
    assert integers >= 18  # ids in every path, user_id, up_to, limit, offset, the id filters


def test_every_string_states_its_rule(document):
    strings = [
        (name, schema)
        for name, schema in request_schemas(document)
        if schema.get("type") == "string" and "enum" not in schema
    ]
    assert strings
    for name, schema in strings:
        assert "maxLength" in schema, name
        assert (
            schema.get("format") == "binary"
            or "pattern" in schema
            or schema.get("anyOf") == CAPTION_BRANCHES
        ), name


def test_the_bodies_state_the_server_rules(document):
    components = document["components"]["schemas"]
    create = components["TicketCreateInput"]
    assert create["required"] == ["title", "user_id"]
    assert create["properties"]["title"]["pattern"] == inputs.NON_BLANK_PATTERN
    assert create["properties"]["title"]["maxLength"] == 256
    assert create["properties"]["text"]["maxLength"] == 4096
    assert create["properties"]["idempotency_key"]["maxLength"] == 128
    message = components["MessageCreateInput"]
    assert message["required"] == ["text"]
    assert resolve(document, message["properties"]["sender"]["allOf"][0])["enum"] == [
        "user",
        "supp",
    ]
    update = components["PatchedTicketUpdateInput"]
    assert "required" not in update
    assert resolve(document, update["properties"]["viewed"]["allOf"][0]) == {
        "type": "boolean",
        "enum": [True],
    }


@pytest.mark.parametrize(
    ("form", "caption_required"), [("TicketCreateForm", False), ("MessageCreateForm", True)]
)
def test_the_multipart_forms_state_attachments_and_the_caption(document, form, caption_required):
    schema = document["components"]["schemas"][form]
    files = schema["properties"]["files"]
    assert files["maxItems"] == 10
    assert files["items"]["format"] == "binary"
    assert files["items"]["minLength"] == 1
    assert files["items"]["maxLength"] == 20 * 1024 * 1024
    kinds = schema["properties"]["kinds"]
    assert kinds["maxItems"] == 10
    assert resolve(document, kinds["items"])["enum"] == [
        "photo", "video", "voice", "audio", "animation", "sticker", "document",
    ]  # fmt: skip
    # With files the caption may be empty; without, the JSON body's rule.
    assert schema["properties"]["text"]["anyOf"] == CAPTION_BRANCHES
    assert "text" not in schema.get("required", [])
    with_files, without_files = schema["anyOf"]
    assert with_files == {"required": ["files"], "properties": {"files": {"minItems": 1}}}
    assert without_files["properties"] == {"text": {"minLength": 1}}
    assert ("text" in without_files.get("required", [])) is caption_required


def test_the_query_parameters_state_what_the_filters_accept(document):
    parameters = {p["name"]: p for p in document["paths"]["/tickets/"]["get"]["parameters"]}
    assert set(parameters) == {
        *("user_id", "resolved", "manager", "manager__isnull", "search", "ordering"),
        *("limit", "offset"),
    }
    assert all(p["allowEmptyValue"] for p in parameters.values())  # empty: not given
    assert parameters["resolved"]["schema"] == {
        "type": "string",
        "enum": ["0", "1", "False", "True", "false", "true"],
    }
    assert parameters["search"]["schema"]["maxLength"] == inputs.SEARCH_MAX_LENGTH
    assert parameters["search"]["schema"]["pattern"] == inputs.ANY_TEXT_PATTERN
    assert parameters["ordering"]["explode"] is False  # ?ordering=created_at,-id
    assert parameters["ordering"]["schema"]["items"]["enum"] == [
        "-created_at", "-id", "created_at", "id",
    ]  # fmt: skip
    assert parameters["limit"]["schema"]["minimum"] == 1
    assert parameters["offset"]["schema"]["minimum"] == 0


def test_limits_follow_the_settings(anon_client, settings):
    settings.SUPPORT_MAX_TEXT_LENGTH = 100
    settings.SUPPORT_MAX_TITLE_LENGTH = 50
    settings.SUPPORT_MAX_ATTACHMENTS_PER_MESSAGE = 3
    settings.SUPPORT_MAX_ATTACHMENT_SIZE = 1000
    components = schema_document(anon_client)["components"]["schemas"]
    assert components["MessageCreateInput"]["properties"]["text"]["maxLength"] == 100
    assert components["TicketCreateInput"]["properties"]["title"]["maxLength"] == 50
    files = components["MessageCreateForm"]["properties"]["files"]
    assert files["maxItems"] == 3
    assert files["items"]["maxLength"] == 1000
    assert components["MessageCreateForm"]["properties"]["kinds"]["maxItems"] == 3


# -- the string rule: one pattern, read alike by the server and by ECMA-262 ----------


def test_blank_is_exactly_pythons_whitespace():
    everything = "".join(chr(code) for code in range(sys.maxunicode + 1))
    blank = set(re.findall(f"[{inputs.BLANK}]", everything))
    assert blank == {char for char in everything if char.isspace()}


ECMA = {
    pattern: jsonschema_rs.validator_for({"type": "string", "pattern": pattern})
    for pattern in (inputs.NON_BLANK_PATTERN, inputs.CAPTION_PATTERN, inputs.ANY_TEXT_PATTERN)
}
#: How the schema states a string that may be empty (a caption): see string_schema.
CAPTION_BRANCHES = [{"maxLength": 0}, {"pattern": inputs.NON_BLANK_PATTERN}]
#: The schema of each rule, as published, read by a Rust validator (ECMA-262 patterns)
#: and by Python's jsonschema (``re.search``: ``$`` also matches before a final newline).
PUBLISHED = {
    allow_empty: (
        jsonschema_rs.validator_for(schema),
        jsonschema.Draft202012Validator(schema),
    )
    for allow_empty in (False, True)
    for schema in [string_schema(inputs.StringField(limit=100, allow_empty=allow_empty))]
}
#: Strings of the characters the rule is about (every blank, NUL, near-blanks such as
#: U+200B and U+FEFF, which are not whitespace), and of anything else; no surrogates,
#: which no portable pattern names (support.inputs.SURROGATES).
edgy = st.text(
    st.sampled_from(
        [chr(c) for c in (*range(0x21), 0x85, 0xA0, 0x1680, 0x200A, 0x200B, 0x2028, 0x3000)]
        + ["\ufeff", "\u180e", "a", "é", "😀"]
    )
    | st.characters(codec="utf-8"),
    max_size=12,
)


@given(edgy)
@example("")
@example(" ")
@example("\x00")
@example(" a\x00")
@example("a\n")
@example("\n")
@example("\u3000\u2028")
def test_the_pattern_is_the_servers_rule_in_python_and_in_ecma(text):
    for pattern, allow_empty in (
        (inputs.NON_BLANK_PATTERN, False),
        (inputs.CAPTION_PATTERN, True),
    ):
        accepted = inputs.string_problem(text, limit=100, allow_empty=allow_empty) is None
        assert (re.fullmatch(pattern, text) is not None) is accepted, (pattern, text)
        assert ECMA[pattern].is_valid(text) is accepted, (pattern, text)
        for validator in PUBLISHED[allow_empty]:
            assert validator.is_valid(text) is accepted, (validator, text)
    assert ECMA[inputs.ANY_TEXT_PATTERN].is_valid(text) is ("\x00" not in text)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("hi", None),
        (" hi ", None),
        ("", "May not be blank."),
        (" \n\u3000", "May not be blank."),
        ("a\x00", "Null characters are not allowed."),
        ("\x00", "Null characters are not allowed."),
        ("a\ud800", "Surrogate characters are not allowed."),
        ("x" * 6, "Ensure this field has no more than 5 characters."),
    ],
)
def test_string_problem(text, problem):
    assert inputs.string_problem(text, limit=5) == problem


def test_a_caption_may_be_empty_not_blank():
    assert inputs.string_problem("", limit=5, allow_empty=True) is None
    assert inputs.string_problem(" ", limit=5, allow_empty=True) == "May not be blank."

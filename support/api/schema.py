"""The OpenAPI schema: the API's three credentials, and request schemas that state the
server's own rules (:class:`SupportAutoSchema`)."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import append_meta

from support import inputs


class SupportAuthenticationScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    """Bot key, manager token (when ``authtoken`` is installed) or session: any one of them."""

    target_class = "support.api.authentication.SupportAuthentication"
    name = ["botKey", "tokenAuth", "cookieAuth"]

    def __init__(self, target: Any) -> None:
        super().__init__(target)  # type: ignore[no-untyped-call]
        if not apps.is_installed("rest_framework.authtoken"):
            self.name = ["botKey", "cookieAuth"]

    def get_security_definition(self, auto_schema: Any) -> list[dict[str, str]]:
        definitions = {
            "botKey": {
                "type": "apiKey",
                "in": "header",
                "name": "Authorization",
                "description": (
                    "A bot's service key: `Authorization: Api-Key <key>`. A staff bot's key "
                    "acts for a linked manager with `X-Support-Acting-Telegram-Id: <telegram "
                    "id>` on a REST request (not on streams; never with a manager's credential)."
                ),
            },
            "tokenAuth": {
                "type": "apiKey",
                "in": "header",
                "name": "Authorization",
                "description": "A manager's token: `Authorization: Token <key>`.",
            },
            "cookieAuth": {"type": "apiKey", "in": "cookie", "name": settings.SESSION_COOKIE_NAME},
        }
        return [definitions[name] for name in self.name]

    def get_security_requirement(self, auto_schema: Any) -> list[dict[str, list[Any]]]:
        return [{name: []} for name in self.name]


# -- the request schemas: from the input definitions the server validates with -----


class SupportAutoSchema(AutoSchema):
    """drf-spectacular's schema of a view, stating the server's own rules for requests.

    Each rule comes from the definition the server validates with
    (:mod:`support.inputs`): a :class:`~support.inputs.StringField`'s pattern
    and length, a strict integer's 64-bit range, ``viewed``'s only value,
    the attachments of a multipart form; a
    :class:`~support.inputs.StrictSerializer` refuses unknown keys, so its
    schema says ``additionalProperties: false``; an
    :class:`~support.inputs.AttachmentForm` without files follows its JSON
    body's rule for the caption, so its schema says that as an ``anyOf``.
    """

    def _map_serializer_field(
        self, field: Any, direction: str, bypass_extensions: bool = False
    ) -> Any:
        if isinstance(field, inputs.StringField):
            meta = self._get_serializer_field_meta(field, direction)  # type: ignore[no-untyped-call]
            meta.pop("minLength", None)  # a host's ENFORCE_NON_BLANK_FIELDS: the rule says it
            meta["description"] = " ".join(
                str(text) for text in (field.help_text, STRING_RULE) if text
            )
            return append_meta(string_schema(field), meta)
        if isinstance(field, inputs.TrueField):
            meta = self._get_serializer_field_meta(field, direction)  # type: ignore[no-untyped-call]
            return append_meta({"type": "boolean", "enum": [True]}, meta)
        if isinstance(field, inputs.UploadField):
            meta = self._get_serializer_field_meta(field, direction)  # type: ignore[no-untyped-call]
            return append_meta(upload_schema(), meta)
        schema = super()._map_serializer_field(  # type: ignore[no-untyped-call]
            field, direction, bypass_extensions
        )
        if isinstance(field, inputs.BoundedListField) and isinstance(schema, dict):
            schema["maxItems"] = field.max_length_now
        return schema

    def _insert_field_validators(self, field: Any, schema: dict[str, Any]) -> None:
        if not isinstance(field, inputs.StringField):  # its schema states its whole rule
            super()._insert_field_validators(field, schema)  # type: ignore[no-untyped-call]

    def _map_serializer(
        self, serializer: Any, direction: str, bypass_extensions: bool = False
    ) -> Any:
        schema = super()._map_serializer(  # type: ignore[no-untyped-call]
            serializer, direction, bypass_extensions
        )
        if isinstance(serializer, inputs.StrictSerializer) and direction == "request":
            schema["additionalProperties"] = False
        if isinstance(serializer, inputs.AttachmentForm) and direction == "request":
            schema["anyOf"] = caption_rule(serializer)
        return schema

    def _get_request_for_media_type(self, serializer: Any, direction: str = "request") -> Any:
        schema, required = super()._get_request_for_media_type(  # type: ignore[no-untyped-call]
            serializer, direction
        )
        if isinstance(serializer, type):
            serializer = serializer()
        if isinstance(serializer, inputs.AttachmentForm) and serializer.caption_required:
            required = True  # without files, the caption: some body is required
        return schema, required

    def _get_parameters(self) -> list[dict[str, Any]]:
        parameters: list[dict[str, Any]] = super()._get_parameters()
        for parameter in parameters:
            if parameter["in"] == "path" and parameter["schema"].get("type") == "integer":
                # Ids in paths (`<int:pk>`): anything else is a 404.
                parameter["schema"].update(ID_SCHEMA)
            if parameter["in"] == "query":
                # Every query parameter of the API reads an empty value as not given
                # (django-filter's empty values, the pagination's parameters).
                parameter["allowEmptyValue"] = True
        return parameters


#: What a string's pattern cannot say portably (see support.inputs.SURROGATES).
STRING_RULE = _(
    "Not blank, no NUL character (the pattern), no lone surrogate (\\ud800-\\udfff in JSON)."
)

#: An object's id in a path.
ID_SCHEMA = {"format": "int64", "minimum": 1, "maximum": inputs.INT64_MAX}


def string_schema(field: inputs.StringField) -> dict[str, Any]:
    """The schema of :func:`support.inputs.string_problem` for *field*."""
    schema: dict[str, Any] = {"type": "string"}
    if not field.allow_empty:
        schema["minLength"] = 1  # the pattern says so too; for generators that read no patterns
    schema["maxLength"] = field.max_length_now
    if field.pattern == inputs.CAPTION_PATTERN:
        # "Empty or not blank" as two branches, not CAPTION_PATTERN: Python's
        # validators search with ``re.search``, whose ``$`` also matches before a
        # final newline, so they (and Hypothesis, generating from them) took "\n"
        # for an empty caption, which the server refuses as blank.
        schema["anyOf"] = [{"maxLength": 0}, {"pattern": inputs.NON_BLANK_PATTERN}]
    else:
        schema["pattern"] = field.pattern
    return schema


def upload_schema() -> dict[str, Any]:
    return {
        "type": "string",
        "format": "binary",
        "minLength": 1,  # an empty file is `empty_file`
        "maxLength": inputs.attachment_size(),  # a larger one is 413 `too_large`
        "description": str(
            _(
                "Its type is read from its bytes: one of SUPPORT_ATTACHMENT_CONTENT_TYPES "
                "(else 415 unsupported_type)."
            )
        ),
    }


def caption_rule(form: inputs.AttachmentForm) -> list[dict[str, Any]]:
    """With at least one file, anything the fields allow; without, a caption that is not
    empty (and, if the JSON body requires it, given)."""
    without_files: dict[str, Any] = {"properties": {inputs.CAPTION_FIELD: {"minLength": 1}}}
    if form.caption_required:
        without_files["required"] = [inputs.CAPTION_FIELD]
    return [
        {"required": [inputs.FILES_FIELD], "properties": {inputs.FILES_FIELD: {"minItems": 1}}},
        without_files,
    ]

"""Request inputs: what a client may send, the one definition the server and its schema share.

REST (JSON bodies and their multipart forms) and the WebSocket commands
validate with these; the OpenAPI schema is generated from them
(:mod:`support.api.schema` reads each field's rule), so the two cannot drift.

DRF's fields coerce (``"12"`` becomes 12, ``12`` becomes ``"12"``); a client
that sends the wrong JSON type has a bug worth hearing about, so these
fields refuse anything but the exact type, and unknown keys are refused too.
Integers are 64-bit (what every id column holds); strings follow
:func:`string_problem`, which the service layer applies to every other
caller (the admin, bot code in-process) too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any, NoReturn, cast

from django.core.files import File
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from support.conf import support_settings
from support.models import AttachmentKind, Side

#: The range of a 64-bit id column: every integer a client sends must fit it.
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

# -- strings: one rule for every string a client sends -------------------------------
#
# The rule is a regular expression built from two character classes, written in
# the subset that Python's ``re`` and ECMA-262 (JSON Schema's dialect) read alike:
# the server matches it (``re.fullmatch``) and the schema publishes it as ``pattern``.

#: Blank characters: exactly Python's whitespace (``str.isspace``, what ``str.strip``
#: removes), spelled out because ``\s`` means something else in ECMA-262.
BLANK = r"\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
#: Characters no string may carry: NUL (PostgreSQL cannot store it in text).
FORBIDDEN = r"\x00"
_NON_BLANK_BODY = rf"[{BLANK}]*[^{BLANK}{FORBIDDEN}][^{FORBIDDEN}]*"
#: Something besides blanks, and nothing forbidden (unambiguous, so matching is linear).
NON_BLANK_PATTERN = rf"^{_NON_BLANK_BODY}$"
#: The same, or empty: a caption of attachments.
CAPTION_PATTERN = rf"^(?:{_NON_BLANK_BODY})?$"
#: Nothing forbidden; blank or empty is fine (a search term).
ANY_TEXT_PATTERN = rf"^[^{FORBIDDEN}]*$"
#: Lone surrogates (half of a UTF-16 pair, which JSON's ``\ud800`` can spell) are not
#: characters: UTF-8, hence no database, can carry them. No regular expression can say
#: so portably (Rust's and Go's engines refuse the range), so the schema says it in words.
SURROGATES = r"\ud800-\udfff"

_NON_BLANK = re.compile(NON_BLANK_PATTERN)
_CAPTION = re.compile(CAPTION_PATTERN)
_ANY_TEXT = re.compile(ANY_TEXT_PATTERN)
_SURROGATE = re.compile(f"[{SURROGATES}]")

#: The longest idempotency key (they are unique per ticket, indexed).
IDEMPOTENCY_KEY_MAX_LENGTH = 128
#: The longest ``search`` term of ``tickets/``.
SEARCH_MAX_LENGTH = 256


def string_problem(text: str, *, limit: int, allow_empty: bool = False) -> str | None:
    """What is wrong with *text* as a client's string, or ``None``: the one rule.

    Not blank (only whitespace; empty too, unless *allow_empty*: a caption),
    no NUL, no lone surrogate, at most *limit* characters (as sent: a title is
    stored stripped, but its limit counts what the client sent).
    """
    if (_CAPTION if allow_empty else _NON_BLANK).fullmatch(text) is None:
        if _ANY_TEXT.fullmatch(text) is None:
            return str(_("Null characters are not allowed."))
        return str(_("May not be blank."))
    if _SURROGATE.search(text):
        return str(_("Surrogate characters are not allowed."))
    if len(text) > limit:
        return str(_("Ensure this field has no more than %(limit)d characters.") % {"limit": limit})
    return None


def text_length() -> int:
    return support_settings.MAX_TEXT_LENGTH


def title_length() -> int:
    return support_settings.MAX_TITLE_LENGTH


def attachments_per_message() -> int:
    return support_settings.MAX_ATTACHMENTS_PER_MESSAGE


def attachment_size() -> int:
    return support_settings.MAX_ATTACHMENT_SIZE


# -- fields --------------------------------------------------------------------------


class StrictCharField(serializers.CharField):
    default_error_messages = {"invalid": _("Must be a string.")}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


class StringField(StrictCharField):
    """A client's string under :func:`string_problem`, kept exactly as sent.

    *limit* is a number or a function of the settings (read on each use, so the
    schema of a running server states its own limits); *allow_empty* lets ``""``
    through (a caption).
    """

    def __init__(
        self, *, limit: int | Callable[[], int], allow_empty: bool = False, **kwargs: Any
    ) -> None:
        # Not CharField's blank rule (run_validation skips it): string_problem's.
        super().__init__(trim_whitespace=False, **kwargs)
        self.limit = limit
        self.allow_empty = allow_empty

    @property
    def max_length_now(self) -> int:
        return self.limit() if callable(self.limit) else self.limit

    @property
    def pattern(self) -> str:
        """What :func:`string_problem` matches, as the schema's ``pattern``."""
        return CAPTION_PATTERN if self.allow_empty else NON_BLANK_PATTERN

    def run_validation(self, data: Any = serializers.empty) -> Any:
        # CharField's own answers ``""`` before to_internal_value runs; the rule judges it here.
        return serializers.Field.run_validation(self, data)

    def to_internal_value(self, data: Any) -> str:
        text = super().to_internal_value(data)
        problem = string_problem(text, limit=self.max_length_now, allow_empty=self.allow_empty)
        if problem is not None:
            raise serializers.ValidationError(problem, code="invalid")
        return text


class StrictIntegerField(serializers.IntegerField):
    """An integer, not a string or a boolean; 64-bit unless told a narrower range."""

    default_error_messages = {"invalid": _("Must be an integer.")}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", INT64_MIN)
        kwargs.setdefault("max_value", INT64_MAX)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return int(super().to_internal_value(data))


class StrictBooleanField(serializers.BooleanField):
    default_error_messages = {"invalid": _("Must be true or false.")}

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class TrueField(StrictBooleanField):
    """A flag that can only be raised: ``true``, never ``false``."""

    default_error_messages = {
        "invalid": _("Must be true or false."),
        "not_true": _("Only true: viewed messages cannot be made unread again."),
    }

    def to_internal_value(self, data: Any) -> bool:
        if super().to_internal_value(data) is not True:
            self.fail("not_true")
        return True


class UploadField(serializers.Field[Any, Any, Any, Any]):
    """One uploaded file (a ``files`` part); its bytes are the service layer's to judge."""

    default_error_messages = {"invalid": _("Files go in file parts, not text fields.")}

    def to_internal_value(self, data: Any) -> File[Any]:
        if not isinstance(data, File):
            self.fail("invalid")
        return data

    def to_representation(self, value: Any) -> Any:
        return value


class BoundedListField(serializers.ListField):
    """A list of at most *limit()* items, the limit read from the settings on each use."""

    def __init__(self, *, limit: Callable[[], int], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.limit = limit

    @property
    def max_length_now(self) -> int:
        return self.limit()

    def to_internal_value(self, data: Any) -> list[Any]:
        items: list[Any] = super().to_internal_value(data)
        if len(items) > self.max_length_now:
            raise serializers.ValidationError(
                str(_("At most %(n)d items.") % {"n": self.max_length_now}), code="invalid"
            )
        return items


# -- bodies --------------------------------------------------------------------------


class StrictSerializer(serializers.Serializer[Any]):
    """Refuses keys it does not declare, and bodies that are not JSON objects.

    Its schema says ``additionalProperties: false`` (:mod:`support.api.schema`).
    """

    def validate_empty_values(self, data: Any) -> tuple[bool, Any]:
        if data is None:  # a JSON `null` body
            self._not_an_object()
        return super().validate_empty_values(data)

    def _not_an_object(self) -> NoReturn:
        raise serializers.ValidationError(
            {"non_field_errors": [_("Expected a JSON object.")]}, code="invalid"
        )

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, Mapping):
            self._not_an_object()
        unknown = sorted(set(data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError(
                {key: [_("Unknown field.")] for key in unknown}, code="invalid"
            )
        return super().to_internal_value(data)


def _text(**kwargs: Any) -> StringField:
    return StringField(limit=text_length, **kwargs)


def _idempotency_key(help_text: Any) -> StringField:
    return StringField(limit=IDEMPOTENCY_KEY_MAX_LENGTH, required=False, help_text=help_text)


# -- profiles: what a bot tells of the user with a post --------------------------------

#: A profile's fields and their longest values (Telegram's own limits).
PROFILE_LIMITS = {"first_name": 64, "last_name": 64, "username": 32, "language_code": 35}
#: A Telegram username as the API takes it (empty: the user has none).
USERNAME_PATTERN = r"^[A-Za-z0-9_]{0,32}$"
#: A saved reply's shortcut: what a manager types after ``/`` in the reply box.
SHORTCUT_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,31}$"
SHORTCUT_MAX_LENGTH = 32


class PatternStringField(StringField):
    """A :class:`StringField` that also matches *regex* (published as its ``pattern``)."""

    default_error_messages = {
        **StringField.default_error_messages,
        "pattern": _("Does not match the pattern %(pattern)s."),
    }

    def __init__(self, *, regex: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.regex = regex
        self._compiled = re.compile(regex)

    @property
    def pattern(self) -> str:
        return self.regex

    def to_internal_value(self, data: Any) -> str:
        text = super().to_internal_value(data)
        if self._compiled.fullmatch(text) is None:
            self.fail("pattern", pattern=self.regex)
        return text


class ProfileInput(StrictSerializer):
    """A bot's ``profile`` of the ticket's user (``POST tickets/``, ``POST tickets/{id}/messages/``;
    a multipart form's ``profile`` part holds it as JSON). Every field optional; ``""``
    when the user has none (a last name removed); a changed field updates the
    stored profile and appends ``user.updated``."""

    first_name = StringField(limit=PROFILE_LIMITS["first_name"], allow_empty=True, required=False)
    last_name = StringField(limit=PROFILE_LIMITS["last_name"], allow_empty=True, required=False)
    username = PatternStringField(
        regex=USERNAME_PATTERN,
        limit=PROFILE_LIMITS["username"],
        allow_empty=True,
        required=False,
        help_text=_("Without the @."),
    )
    language_code = StringField(
        limit=PROFILE_LIMITS["language_code"],
        allow_empty=True,
        required=False,
        help_text=_("The IETF language tag Telegram gives (en, pt-br)."),
    )


def _profile() -> ProfileInput:
    return ProfileInput(
        required=False,
        help_text=_("Bots only: the Telegram profile of the user (from_user), kept by the desk."),
    )


class TicketCreateInput(StrictSerializer):
    """``POST tickets/``: a bot opens a ticket for a Telegram user (and its first message)."""

    user_id = StrictIntegerField(help_text=_("The Telegram user's telegram_id."))
    title = StringField(limit=title_length, help_text=_("Stored without surrounding whitespace."))
    text = _text(required=False, help_text=_("The first message, if any."))
    idempotency_key = _idempotency_key(
        _("Optional; a repeated key from the same bot key returns the ticket it opened (200).")
    )
    profile = _profile()


class TicketUpdateInput(StrictSerializer):
    """``PATCH tickets/{id}/``."""

    title = StringField(
        limit=title_length, required=False, help_text=_("Stored without surrounding whitespace.")
    )
    resolved = StrictBooleanField(required=False)
    viewed = TrueField(
        required=False,
        help_text=_(
            "Only true (1.2.0's manager page sends it when a ticket is opened): "
            "the other side's messages are marked viewed."
        ),
    )


class MessageInput(StrictSerializer):
    """A message's body; the WebSocket's ``ticket.message.new`` takes exactly this."""

    text = _text()
    idempotency_key = _idempotency_key(_("Optional; a repeated key returns the first message."))


class MessageCreateInput(MessageInput):
    """``POST tickets/{id}/messages/``."""

    sender = serializers.ChoiceField(
        choices=Side.choices,
        required=False,
        help_text=_("Optional; must match the credential's side (bot: user, manager: supp)."),
    )
    profile = _profile()


class MarkViewedInput(StrictSerializer):
    """``POST tickets/{id}/messages/viewed/``."""

    up_to = StrictIntegerField(required=False, help_text=_("Mark messages up to this id."))


class NoteInput(StrictSerializer):
    """``POST tickets/{id}/notes/``: a manager's private note (managers only)."""

    text = _text(help_text=_("The note; managers read it, a bot never does."))


class MessageEditInput(StrictSerializer):
    """``PATCH tickets/{id}/messages/{message_id}/``: a message's new text
    (:mod:`support.edits`). Nothing given changes nothing, as any ``PATCH``."""

    text = _text(
        allow_empty=True,
        required=False,
        help_text=_(
            "The new text, under the rule of posting; empty only for a message with "
            "attachments (their caption), else 409 text_required. The same text as now "
            "changes nothing."
        ),
    )


#: The periods ``GET stats/?days=`` covers, in days (today included).
STATS_DAYS = (7, 30)


class StatsQuery(serializers.Serializer[Any]):
    """``GET stats/``'s query (not strict: other parameters, a cache buster, are ignored)."""

    days = serializers.ChoiceField(
        choices=[str(days) for days in STATS_DAYS],
        required=False,
        default=str(STATS_DAYS[0]),
        help_text=_("The last 7 or 30 days, today included (7 when not given)."),
    )


class EmptyInput(StrictSerializer):
    """Actions such as assign take no body (an empty object is fine)."""


#: The longest link code a client may send (eight characters, a dash, some spaces).
LINK_CODE_MAX_LENGTH = 32


class TelegramLinkConfirmInput(StrictSerializer):
    """``POST telegram/link/confirm/``: a staff bot confirms a manager's ``/link CODE``."""

    code = StringField(
        limit=LINK_CODE_MAX_LENGTH,
        help_text=_(
            "The code the manager sent, as shown (K7QM-2XPA) or without the dash, in any case; "
            "wrong, used or expired: 400 invalid_link_code."
        ),
    )
    telegram_id = StrictIntegerField(
        min_value=1, help_text=_("The Telegram user id of the private chat it came from.")
    )


class TelegramTopicInput(StrictSerializer):
    """``PUT tickets/{id}/telegram-topic/``: a staff bot stores the ticket's forum topic."""

    chat_id = StrictIntegerField(help_text=_("The staff group's chat id (negative)."))
    topic_id = StrictIntegerField(min_value=1, help_text=_("The topic's message_thread_id."))
    replaces = StrictIntegerField(
        required=False,
        allow_null=True,
        help_text=_(
            "The stored topic id this one replaces (the old topic was deleted); "
            "otherwise a stored topic stays."
        ),
    )


# -- blocking and ratings (support.blocking, support.ratings) -------------------------

#: The longest reason for a block (the profile's column).
BLOCK_REASON_MAX_LENGTH = 500
#: The longest comment on a rating.
RATING_COMMENT_MAX_LENGTH = 1000
#: The scores a rating may give.
RATING_MIN, RATING_MAX = 1, 5


class BlockInput(StrictSerializer):
    """``POST users/{telegram_id}/block/`` (managers)."""

    reason = StringField(
        limit=BLOCK_REASON_MAX_LENGTH,
        help_text=_(
            "Why: managers read it, and a note on each of the user's open tickets says it "
            "(the user never does). A user already blocked keeps the first reason."
        ),
    )


class RatingInput(StrictSerializer):
    """``POST tickets/{id}/rating/`` (bots): the user's rating of the help, once per ticket."""

    score = StrictIntegerField(min_value=RATING_MIN, max_value=RATING_MAX, help_text=_("1 to 5."))
    comment = StringField(
        limit=RATING_COMMENT_MAX_LENGTH,
        allow_empty=True,
        required=False,
        help_text=_("Optional; may be empty (none), not blank."),
    )


class RatingCommentInput(StrictSerializer):
    """``PATCH tickets/{id}/rating/`` (bots): the comment the user sent after their score.
    Nothing given changes nothing, as any ``PATCH``."""

    comment = StringField(
        limit=RATING_COMMENT_MAX_LENGTH,
        required=False,
        help_text=_("Added to a rating without one; a rating that has one keeps it."),
    )


# -- saved replies -------------------------------------------------------------------


def _shortcut(**kwargs: Any) -> PatternStringField:
    return PatternStringField(
        regex=SHORTCUT_PATTERN,
        limit=SHORTCUT_MAX_LENGTH,
        help_text=_(
            "What a manager types after / in the reply box: lower-case letters, digits, "
            "- and _; unique (else 409 shortcut_taken)."
        ),
        **kwargs,
    )


_REPLY_TEXT_HELP = _(
    "{first_name} (the user's) and {manager} (the manager's name) are filled in by the "
    "console when inserted, not by the server."
)


class SavedReplyInput(StrictSerializer):
    """``POST saved-replies/`` (managers)."""

    shortcut = _shortcut()
    text = _text(help_text=_REPLY_TEXT_HELP)


class SavedReplyUpdateInput(StrictSerializer):
    """``PATCH saved-replies/{id}/`` (managers): the fields given change."""

    shortcut = _shortcut(required=False)
    text = _text(required=False, help_text=_REPLY_TEXT_HELP)


# -- multipart forms: a body with attachments ----------------------------------------

#: The multipart field that carries attachments (repeated, one part a file).
FILES_FIELD = "files"
#: The multipart field that names each file's kind, in the same order (optional).
KINDS_FIELD = "kinds"
#: The field that is the files' caption.
CAPTION_FIELD = "text"


class AttachmentForm(StrictSerializer):
    """A JSON body's ``multipart/form-data`` twin: its fields as text parts, plus the files.

    Made by :func:`form_for`. With files, the caption (``text``) may be empty
    (not blank) or left out; without, it follows the JSON body's rule.
    ``kinds``, when given, names each file's kind, one per file in order.
    """

    #: Whether the JSON body requires the caption field (then so does a form without files).
    caption_required = False

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        files = attrs.get(FILES_FIELD) or []
        kinds = attrs.get(KINDS_FIELD) or []
        if not files:
            if CAPTION_FIELD not in attrs and self.caption_required:
                raise serializers.ValidationError(
                    {CAPTION_FIELD: [_("This field is required.")]}, code="required"
                )
            if attrs.get(CAPTION_FIELD) == "":
                raise serializers.ValidationError(
                    {CAPTION_FIELD: [_("May not be blank.")]}, code="invalid"
                )
        if kinds and len(kinds) != len(files):
            raise serializers.ValidationError(
                {KINDS_FIELD: [_("Give one kind per file, or none.")]}, code="invalid"
            )
        attrs[FILES_FIELD] = files
        attrs[KINDS_FIELD] = kinds or None
        return attrs


CAPTION_REQUIRED_HELP = _(
    "The files' caption: may be empty, or left out, when files are sent; "
    "without files it is required and not empty."
)
CAPTION_OPTIONAL_HELP = _(
    "The files' caption: may be empty when files are sent; without files, optional but not empty."
)


@cache
def form_for(json_input: type[StrictSerializer]) -> type[AttachmentForm]:
    """The multipart form of *json_input*: the same fields, a caption that may be empty with
    files, and the ``files`` and ``kinds`` parts (at most
    ``SUPPORT_MAX_ATTACHMENTS_PER_MESSAGE`` each)."""
    caption = json_input._declared_fields[CAPTION_FIELD]
    assert isinstance(caption, StringField)
    fields: dict[str, Any] = {
        CAPTION_FIELD: StringField(
            limit=caption.limit,
            allow_empty=True,
            required=False,
            help_text=CAPTION_REQUIRED_HELP if caption.required else CAPTION_OPTIONAL_HELP,
        ),
        FILES_FIELD: BoundedListField(
            child=UploadField(),
            limit=attachments_per_message,
            required=False,
            help_text=_("The attachments, one part a file, in order."),
        ),
        KINDS_FIELD: BoundedListField(
            child=serializers.ChoiceField(choices=AttachmentKind.choices),
            limit=attachments_per_message,
            required=False,
            help_text=_(
                "What each file is to Telegram, one part per file in the same order, or none "
                "(then each kind follows the file's type). A kind the file cannot be is 400."
            ),
        ),
    }
    name = json_input.__name__.removesuffix("Input") + "Form"
    # DRF's metaclass, which collects the declared fields of the bases and of these.
    form = serializers.SerializerMetaclass(
        name,
        (AttachmentForm, json_input),
        {
            **fields,
            "__doc__": f"{json_input.__doc__}\n\nAs multipart/form-data, with attachments.",
            "__module__": __name__,
            "caption_required": caption.required,
        },
    )
    return cast("type[AttachmentForm]", form)

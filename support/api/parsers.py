"""Request bodies: JSON (nesting too deep is bad JSON), and multipart with attachments."""

from __future__ import annotations

from typing import Any

from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser, MultiPartParser

from support.conf import support_settings
from support.exceptions import BadMultipart, Invalid, TooLarge, TooManyFiles
from support.inputs import FILES_FIELD


class SafeJSONParser(JSONParser):
    """DRF's parser catches ``ValueError`` only; ``[[[[…]]]]`` raises ``RecursionError``."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(_("JSON parse error - nested too deeply.")) from None


class AttachmentUploadHandler(TemporaryFileUploadHandler):
    """Every uploaded file straight to a temporary file, refused as soon as it breaks a limit.

    Django's default handlers keep files under 2.5 MB in memory; ten of them
    per request, many requests at once, add up. This one writes each part to
    disk as it arrives, and stops reading when a file passes
    ``SUPPORT_MAX_ATTACHMENT_SIZE`` or the count passes
    ``SUPPORT_MAX_ATTACHMENTS_PER_MESSAGE``, so a client cannot make the
    server take in more than one file over the limit. The service layer
    checks the same limits again, for its other callers.
    """

    def __init__(self, request: Any = None) -> None:
        super().__init__(request)
        self.files_seen = 0
        self.received = 0

    def new_file(self, field_name: str, *args: Any, **kwargs: Any) -> None:
        if field_name != FILES_FIELD:
            raise Invalid.field(field_name, _("Unknown field; files go in %r parts.") % FILES_FIELD)
        self.files_seen += 1
        if self.files_seen > support_settings.MAX_ATTACHMENTS_PER_MESSAGE:
            raise TooManyFiles.over_the_limit()
        self.received = 0
        super().new_file(field_name, *args, **kwargs)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.received += len(raw_data)
        limit = support_settings.MAX_ATTACHMENT_SIZE
        if self.received > limit:
            self.upload_interrupted()  # closes and removes the partial temporary file
            raise TooLarge(_("A file is larger than %(limit)d bytes.") % {"limit": limit})
        result: bytes | None = super().receive_data_chunk(raw_data, start)
        return result


class AttachmentMultiPartParser(MultiPartParser):
    """``multipart/form-data`` with ``files`` parts; a malformed body is ``bad_multipart``."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except ParseError as error:
            raise BadMultipart() from error

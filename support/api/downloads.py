"""``GET attachments/{id}/`` (and ``…/thumbnail/``): a file, to managers and bots only.

Files are never served from a public ``MEDIA_URL`` (anyone who guessed the
name could read them); they come through here, with the same credentials
as the API. The response is made to be safe whatever the file holds: its
type is the one detected from its bytes, ``nosniff`` keeps the browser from
guessing another, a sandboxing ``Content-Security-Policy`` keeps anything
that renders from running, and only allow-listed images, audio and video
are shown inline; everything else is a download. It streams from the
storage in chunks (an async iterator, read in a thread), answers a single
``Range`` (voice and video seek), and validates with an ``ETag``.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.utils.http import content_disposition_header, parse_etags
from django.utils.translation import gettext as _

from support import attachments, ratelimit, sniff
from support.actors import Actor
from support.db import pooled
from support.exceptions import NotFound
from support.models import Attachment
from support.plain_views import acting_view

#: Bytes read from the storage per chunk sent.
CHUNK = 256 * 1024
#: Shown inline (in an <img>, <audio> or <video>); every other type is a download.
INLINE = {
    *sniff.IMAGES,
    *(sniff.OGG, sniff.MP3, sniff.M4A, sniff.WAV, sniff.FLAC),
    *(sniff.MP4, sniff.QUICKTIME, sniff.WEBM),
}
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cache-Control": "private, max-age=3600",
}
#: One range of bytes; 18 digits bound it far beyond any file.
_RANGE = re.compile(r"bytes=(\d{0,18})-(\d{0,18})")


#: A download spends the credential's request budget, as every REST request does.
_spend = pooled(ratelimit.spend)


@pooled
def _attachment(attachment_id: int) -> Attachment:
    try:
        return Attachment.objects.get(pk=attachment_id)
    except Attachment.DoesNotExist:
        raise NotFound(_("Attachment %(id)s does not exist.") % {"id": attachment_id}) from None


@acting_view
async def download(request: HttpRequest, actor: Actor, pk: int) -> HttpResponseBase:
    await _spend(actor)
    attachment = await _attachment(pk)
    return await _serve(request, attachment, attachment.stored_name, attachment.content_type)


@acting_view
async def thumbnail(request: HttpRequest, actor: Actor, pk: int) -> HttpResponseBase:
    await _spend(actor)
    attachment = await _attachment(pk)
    if not attachment.thumbnail_name:
        raise NotFound(_("This attachment has no thumbnail."))
    return await _serve(request, attachment, attachment.thumbnail_name, sniff.WEBP)


async def _serve(
    request: HttpRequest, attachment: Attachment, name: str, content_type: str
) -> HttpResponseBase:
    is_thumbnail = name != attachment.stored_name
    etag = f'"{attachment.sha256[:32]}{"-t" if is_thumbnail else ""}"'
    headers = {**SECURITY_HEADERS, "ETag": etag, "Accept-Ranges": "bytes"}
    headers["Content-Disposition"] = (
        content_disposition_header(content_type not in INLINE, attachment.filename) or ""
    )
    known = parse_etags(request.headers.get("If-None-Match", ""))
    if "*" in known or etag in {tag.removeprefix("W/") for tag in known}:
        return HttpResponse(status=304, headers=headers)
    storage = attachments.storage()
    try:
        size = await asyncio.to_thread(storage.size, name)
    except OSError:
        raise NotFound(_("The file of this attachment is missing from the storage.")) from None
    start, end = 0, size - 1
    status = 200
    wanted = request.headers.get("Range")
    if wanted and request.headers.get("If-Range", etag) == etag:
        bounds = _range(wanted, size)
        if bounds is None:
            headers["Content-Range"] = f"bytes */{size}"
            return HttpResponse(status=416, headers=headers)
        if bounds != (0, size - 1):
            start, end = bounds
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    headers["Content-Length"] = str(end - start + 1)
    if request.method == "HEAD":
        return HttpResponse(status=status, headers=headers, content_type=content_type)
    response = StreamingHttpResponse(
        _chunks(storage, name, start, end), status=status, content_type=content_type
    )
    for key, value in headers.items():
        response[key] = value
    return response


def _range(header: str, size: int) -> tuple[int, int] | None:
    """A single ``bytes=a-b`` range within *size*; the whole file for one we do not serve
    (several ranges, other units, an invalid one such as ``5-3``, which RFC 9110 says
    to ignore); ``None`` when it cannot be satisfied (416)."""
    match = _RANGE.fullmatch(header.strip())
    if match is None:
        return (0, size - 1)
    first, last = match.groups()
    if not first and not last:
        return (0, size - 1)
    if not first:  # the last N bytes
        length = int(last)
        if length == 0:
            return None
        return (max(0, size - length), size - 1)
    start = int(first)
    if last and int(last) < start:
        return (0, size - 1)
    if start >= size:
        return None
    return (start, min(int(last), size - 1) if last else size - 1)


async def _chunks(storage: Any, name: str, start: int, end: int) -> AsyncIterator[bytes]:
    """The bytes *start*..*end* of the stored file, read in a thread a chunk at a time."""
    file = await asyncio.to_thread(storage.open, name, "rb")
    try:
        await asyncio.to_thread(file.seek, start)
        remaining = end - start + 1
        while remaining > 0:
            chunk = await asyncio.to_thread(file.read, min(CHUNK, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk
    finally:
        await asyncio.to_thread(file.close)

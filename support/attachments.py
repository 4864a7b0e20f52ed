"""Files of messages: checked, described, stored and removed, for the service layer.

:func:`prepare` reads each uploaded file once: its size, its type from its
bytes (:mod:`support.sniff`), its SHA-256, an image's size and a small
thumbnail, and the *kind* it is to Telegram. It refuses what breaks a limit
before anything is stored. :func:`written` then writes the files to the
storage ``SUPPORT_ATTACHMENT_STORAGE`` names, under unguessable names, and
removes them again if the block it guards fails: the service layer writes
the files first and the rows after, so there is never a row without its
file, and a refused or failed request leaves no file behind (a crash
between the two can; ``manage.py support_clean_attachments`` removes such
orphans).
"""

from __future__ import annotations

import hashlib
import io
import mimetypes
import re
import secrets
import unicodedata
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

from support import sniff
from support.conf import support_settings
from support.exceptions import (
    EmptyFile,
    Invalid,
    SupportError,
    TooLarge,
    TooManyFiles,
    UnsupportedType,
)
from support.models import Attachment, AttachmentKind, Message
from support.serializers import ATTACHMENTS_ATTR

#: Where attachments go in their storage; thumbnails below, in ``thumbnails/``.
PREFIX = "support/attachments/"
THUMBNAILS = PREFIX + "thumbnails/"
#: A thumbnail fits this square (pixels), for the queue and long conversations.
THUMBNAIL_SIZE = 320
FILENAME_LIMIT = 255

#: The types each kind may be (a photo is an image, a voice message is audio…).
KIND_TYPES: dict[str, tuple[str, ...] | None] = {
    AttachmentKind.PHOTO: (sniff.JPEG, sniff.PNG, sniff.WEBP),
    AttachmentKind.STICKER: (sniff.WEBP, sniff.PNG, sniff.GZIP, sniff.WEBM),
    AttachmentKind.ANIMATION: (sniff.GIF, sniff.MP4, sniff.WEBM),
    AttachmentKind.VOICE: (sniff.OGG, sniff.MP3, sniff.M4A),
    AttachmentKind.AUDIO: (sniff.OGG, sniff.MP3, sniff.M4A, sniff.WAV, sniff.FLAC),
    AttachmentKind.VIDEO: (sniff.MP4, sniff.QUICKTIME, sniff.WEBM, sniff.MATROSKA),
    AttachmentKind.DOCUMENT: None,  # anything allowed
}

# Characters a file name may not keep: controls, and the bidirectional
# overrides that make "gpj.exe" read as "exe.jpg".
_UNSAFE = re.compile("[\x00-\x1f\x7f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def storage() -> Storage:
    """The attachments' storage, looked up on each use (so ``override_settings`` works)."""
    return storages[support_settings.ATTACHMENT_STORAGE]


def clean_filename(name: str | None, content_type: str) -> str:
    """The sender's file name, safe to show and to send: no path, no control or bidi
    characters, at most 255 characters (the extension kept); ``file.<ext>`` if none is left."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = _UNSAFE.sub("", unicodedata.normalize("NFC", base)).strip().strip(".")
    if not base:
        base = "file" + (extension(content_type) or "")
    if len(base) > FILENAME_LIMIT:
        stem, dot, ext = base.rpartition(".")
        suffix = f".{ext}" if dot and stem and len(ext) <= 16 else ""
        base = base[: len(base) - len(suffix)][: FILENAME_LIMIT - len(suffix)] + suffix
    return base


def extension(content_type: str) -> str:
    return {sniff.JPEG: ".jpg", sniff.TEXT: ".txt", sniff.OGG: ".ogg"}.get(content_type) or (
        mimetypes.guess_extension(content_type) or ""
    )


def default_kind(content_type: str) -> str:
    """What Telegram would call a file of this type, when the sender does not say."""
    if content_type == sniff.GIF:
        return AttachmentKind.ANIMATION
    if content_type in sniff.IMAGES:
        return AttachmentKind.PHOTO
    if content_type == sniff.OGG:
        return AttachmentKind.VOICE
    if content_type.startswith("audio/"):
        return AttachmentKind.AUDIO
    if content_type.startswith("video/"):
        return AttachmentKind.VIDEO
    return AttachmentKind.DOCUMENT


@dataclass
class Prepared:
    """An uploaded file, checked and described; not stored yet."""

    file: File[Any]
    filename: str
    content_type: str
    kind: str
    size: int
    sha256: str
    width: int | None = None
    height: int | None = None
    thumbnail: bytes | None = None


def prepare(files: Sequence[File[Any]], kinds: Sequence[str] | None = None) -> list[Prepared]:
    """Check and describe *files*, in order; raise the first limit one breaks.

    *kinds*, when given, names each file's kind (one per file): the bot knows
    a voice message from a music file; otherwise the kind follows the type.
    """
    limit = support_settings.MAX_ATTACHMENTS_PER_MESSAGE
    if len(files) > limit:
        raise TooManyFiles(
            _("A message may carry at most %(n)d attachments.") % {"n": limit},
            errors={"files": [_("At most %(n)d files.") % {"n": limit}]},
        )
    if kinds is not None and len(kinds) != len(files):
        raise Invalid.field("kinds", _("Give one kind per file, or none."))
    prepared = []
    for index, file in enumerate(files):
        try:
            prepared.append(_prepare_one(file, None if kinds is None else kinds[index]))
        except SupportError as error:
            # Which file it was, by its position: ``files.2`` (``kinds.2`` for its kind).
            found = error.errors or {"files": [error.detail]}
            error.errors = {f"{field}.{index}": texts for field, texts in found.items()}
            raise
    return prepared


def _prepare_one(file: File[Any], kind: str | None) -> Prepared:
    name = getattr(file, "name", None) or ""
    size = _size(file)
    if size == 0:
        raise EmptyFile(_("The file %(name)r is empty.") % {"name": name[:100]})
    limit = support_settings.MAX_ATTACHMENT_SIZE
    if size > limit:
        raise TooLarge(
            _("The file %(name)r is larger than %(limit)d bytes.")
            % {"name": name[:100], "limit": limit}
        )
    readable = _readable(file)
    content_type = sniff.detect(readable, name)
    if content_type is None or content_type not in support_settings.ATTACHMENT_CONTENT_TYPES:
        raise UnsupportedType(
            _("The file %(name)r is of a type the desk does not accept.") % {"name": name[:100]}
        )
    if kind is None:
        kind = default_kind(content_type)
    allowed = KIND_TYPES.get(kind, ())
    if allowed is not None and content_type not in allowed:
        raise Invalid.field(
            "kinds",
            _("A %(kind)s cannot be a file of type %(type)s.")
            % {"kind": kind, "type": content_type},
        )
    prepared = Prepared(
        file=file,
        filename=clean_filename(name, content_type),
        content_type=content_type,
        kind=kind,
        size=size,
        sha256=_sha256(readable),
    )
    if content_type in sniff.IMAGES:
        _describe_image(prepared, readable)
    readable.seek(0)
    return prepared


def _size(file: File[Any]) -> int:
    size = getattr(file, "size", None)
    if isinstance(size, int):
        return size
    readable = _readable(file)
    readable.seek(0, io.SEEK_END)
    end = readable.tell()
    readable.seek(0)
    return int(end)


def _readable(file: File[Any]) -> Any:
    """The file object to read (an UploadedFile wraps a temporary file or bytes)."""
    inner = getattr(file, "file", file)
    inner.seek(0)
    return inner


def _sha256(readable: Any) -> str:
    digest = hashlib.sha256()
    readable.seek(0)
    while chunk := readable.read(1024 * 1024):
        digest.update(chunk)
    readable.seek(0)
    return digest.hexdigest()


def _describe_image(prepared: Prepared, readable: Any) -> None:
    """Width, height (as shown, EXIF orientation applied) and a thumbnail, by Pillow."""
    readable.seek(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(readable) as image:
                image.load()
                oriented = _oriented(image)
                prepared.width, prepared.height = oriented.size
                prepared.thumbnail = _thumbnail(oriented)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise TooLarge(_("The image has too many pixels.")) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise UnsupportedType(_("The file looks like an image but cannot be read.")) from None


def _oriented(image: Image.Image) -> Image.Image:
    from PIL import ImageOps

    return ImageOps.exif_transpose(image) or image


def _thumbnail(image: Image.Image) -> bytes:
    small = image.copy()
    small.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE))
    if small.mode not in ("RGB", "RGBA"):
        small = small.convert("RGBA" if "A" in small.getbands() or small.mode == "P" else "RGB")
    out = io.BytesIO()
    small.save(out, format="WEBP", quality=80)
    return out.getvalue()


class Written:
    """The files of one change in the storage: written, then attached to its message.

    Every name goes into :attr:`names` as soon as its file exists, so that a
    failure half-way can still :meth:`discard` all of it.
    """

    def __init__(self, prepared: list[Prepared]) -> None:
        self.prepared = prepared
        #: Every storage name written, thumbnails too.
        self.names: list[str] = []
        #: ``(file name, thumbnail name or "")`` per prepared file, in order.
        self.stored: list[tuple[str, str]] = []

    def write(self) -> None:
        """Each file (and its thumbnail) to the storage, under an unguessable name."""
        target = storage()
        for item in self.prepared:
            token = secrets.token_urlsafe(24)
            name = target.save(f"{PREFIX}{token}{extension(item.content_type)}", item.file)
            self.names.append(name)
            thumbnail_name = ""
            if item.thumbnail is not None:
                thumbnail = ContentFile(item.thumbnail)
                thumbnail_name = target.save(f"{THUMBNAILS}{token}.webp", thumbnail)
                self.names.append(thumbnail_name)
            self.stored.append((name, thumbnail_name))

    def attach_to(self, message: Message) -> None:
        """The rows of the written files, on *message* (also as its representation's list)."""
        rows = Attachment.objects.bulk_create(
            Attachment(
                message=message,
                position=position,
                kind=item.kind,
                filename=item.filename,
                content_type=item.content_type,
                size=item.size,
                width=item.width,
                height=item.height,
                sha256=item.sha256,
                stored_name=name,
                thumbnail_name=thumbnail,
            )
            for position, (item, (name, thumbnail)) in enumerate(
                zip(self.prepared, self.stored, strict=True)
            )
        )
        setattr(message, ATTACHMENTS_ATTR, rows)  # no query to list what was just written

    def discard(self) -> None:
        """Remove what was written (the transaction failed, or the request was a repeat)."""
        target = storage()
        for name in self.names:
            target.delete(name)
        self.names.clear()


@contextmanager
def written(prepared: list[Prepared]) -> Iterator[Written]:
    """*prepared* written to the storage now, and removed again if the block raises.

    ``with written(files) as files, transaction.atomic(): ...; files.attach_to(message)``:
    the files are written before the transaction opens, so no database lock
    is held while megabytes go to the storage.
    """
    files = Written(prepared)
    try:
        files.write()
        yield files
    except BaseException:
        files.discard()
        raise

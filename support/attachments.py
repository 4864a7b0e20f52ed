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
import logging
import mimetypes
import re
import secrets
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages
from django.db import transaction
from django.utils.translation import gettext as _
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

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

logger = logging.getLogger(__name__)

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

#: Unicode categories a file name may not keep: controls, format characters (the
#: bidirectional overrides that make "gpj.exe" read as "exe.jpg", zero widths),
#: line and paragraph separators, and lone surrogates (no database stores them).
_UNSAFE_CATEGORIES = frozenset(("Cc", "Cf", "Zl", "Zp", "Cs"))
#: An image larger than this (pixels) is refused: decoding it would take
#: hundreds of megabytes, whatever few bytes it was sent in.
MAX_IMAGE_PIXELS = 40_000_000


def storage() -> Storage:
    """The attachments' storage, looked up on each use (so ``override_settings`` works)."""
    return storages[support_settings.ATTACHMENT_STORAGE]


def clean_filename(name: str | None, content_type: str) -> str:
    """The sender's file name, safe to show and to send: no path, no control or bidi
    characters, at most 255 characters (the extension kept); ``file.<ext>`` if none is left."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = "".join(
        char
        for char in unicodedata.normalize("NFC", base)
        if unicodedata.category(char) not in _UNSAFE_CATEGORIES
    )
    base = base.strip().rstrip(".").strip()
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


def default_kind(content_type: str, *, opus: bool = False) -> str:
    """What Telegram would call a file of this type, when the sender does not say.

    Ogg is a voice message when it is Opus (*opus*), music otherwise; Telegram
    plays video as MP4 only, so other video (Matroska) is a document.
    """
    if content_type == sniff.GIF:
        return AttachmentKind.ANIMATION
    if content_type in sniff.IMAGES:
        return AttachmentKind.PHOTO
    if content_type == sniff.OGG and opus:
        return AttachmentKind.VOICE
    if content_type.startswith("audio/"):
        return AttachmentKind.AUDIO
    if content_type in (sniff.MP4, sniff.QUICKTIME, sniff.WEBM):
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
    if len(files) > support_settings.MAX_ATTACHMENTS_PER_MESSAGE:
        raise TooManyFiles.over_the_limit()
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
        kind = default_kind(
            content_type, opus=content_type == sniff.OGG and sniff.is_opus(readable)
        )
    if kind not in KIND_TYPES:
        raise Invalid.field(
            "kinds",
            _("Unknown kind %(kind)r; one of: %(kinds)s.")
            % {"kind": kind[:32], "kinds": ", ".join(KIND_TYPES)},
        )
    allowed = KIND_TYPES[kind]
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
    readable.seek(0)
    digest = hashlib.file_digest(readable, "sha256").hexdigest()
    readable.seek(0)
    return digest


def _describe_image(prepared: Prepared, readable: Any) -> None:
    """Width, height (as shown, EXIF orientation applied) and a thumbnail, by Pillow.

    The size comes from the header, so an image too large to decode is refused
    before any pixel is; the thumbnail is made in place from a draft (a JPEG
    decodes at a fraction of its size), and only the small image is turned
    upright: no full-size copy is ever made.
    """
    readable.seek(0)
    try:
        with Image.open(readable) as image:
            width, height = image.size
            if width * height > MAX_IMAGE_PIXELS:
                raise TooLarge(
                    _("The image has too many pixels (at most %(n)d).") % {"n": MAX_IMAGE_PIXELS}
                )
            if image.getexif().get(ExifTags.Base.Orientation, 1) in (5, 6, 7, 8):
                width, height = height, width  # turned a quarter
            prepared.width, prepared.height = width, height
            image.draft("RGB", (THUMBNAIL_SIZE * 2, THUMBNAIL_SIZE * 2))
            image.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE))
            prepared.thumbnail = _webp(ImageOps.exif_transpose(image) or image)
    except Image.DecompressionBombError:
        raise TooLarge(_("The image has too many pixels.")) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise UnsupportedType(_("The file looks like an image but cannot be read.")) from None


def _webp(small: Image.Image) -> bytes:
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

    def attach_to(self, message: Message) -> list[Attachment]:
        """The rows of the written files, for *message*; returned in order."""
        return Attachment.objects.bulk_create(
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

    def discard(self) -> None:
        """Remove what was written (the transaction failed, or the request was a repeat).

        Each file on its own: one that cannot be removed is logged (the orphan
        command finds it later) and the others are still removed.
        """
        delete_stored(self.names)
        self.names.clear()


def delete_stored(names: Sequence[str]) -> None:
    """Remove these files from the storage, each on its own; log the ones that fail."""
    target = storage()
    for name in names:
        try:
            target.delete(name)
        except Exception:
            logger.warning("Could not remove %s from the attachments' storage", name, exc_info=True)


def remove_files_of(sender: type[Attachment], instance: Attachment, **kwargs: Any) -> None:
    """``post_delete`` of an attachment (its message or ticket deleted): its files go too,
    once the deletion commits (a rolled-back delete keeps them)."""
    names = [name for name in (instance.stored_name, instance.thumbnail_name) if name]
    transaction.on_commit(lambda: delete_stored(names))


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

"""What a file is, read from its bytes: the client's word for it is never taken.

A browser or a bot says what it uploads in the part's ``Content-Type`` and
the file's name; both are whatever the sender wants them to be. An HTML page
called ``invoice.pdf`` and sent as ``application/pdf`` must not come back
from the desk as a page a browser runs. So :func:`detect` looks at the
signature bytes (and, for ZIP files, at what the archive holds) and answers
one of :data:`DETECTABLE`, or ``None``; text is text when it is UTF-8 with no
control characters beyond the usual whitespace, whatever markup it holds.

A leaf: it imports nothing of ``support``, so the settings can name its types.
"""

from __future__ import annotations

import codecs
import re
import zipfile
from collections.abc import Callable
from typing import BinaryIO

#: Bytes read to tell a type by its signature.
HEAD = 4096
#: Bytes read at a time when checking that a text file is text.
CHUNK = 64 * 1024

JPEG, PNG, GIF, WEBP = "image/jpeg", "image/png", "image/gif", "image/webp"
PDF, TEXT = "application/pdf", "text/plain"
ZIP, SEVEN_ZIP, RAR, GZIP = (
    "application/zip",
    "application/x-7z-compressed",
    "application/vnd.rar",
    "application/gzip",
)
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
ODT = "application/vnd.oasis.opendocument.text"
ODS = "application/vnd.oasis.opendocument.spreadsheet"
ODP = "application/vnd.oasis.opendocument.presentation"
DOC, XLS, PPT = "application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint"
OGG, MP3, M4A, WAV, FLAC = "audio/ogg", "audio/mpeg", "audio/mp4", "audio/wav", "audio/flac"
MP4, QUICKTIME, WEBM, MATROSKA = "video/mp4", "video/quicktime", "video/webm", "video/x-matroska"
#: Photos from phones as files (not images a browser shows everywhere: kept as documents).
HEIC, AVIF = "image/heic", "image/avif"

#: Every type :func:`detect` can answer, so the allow-list can name no other.
DETECTABLE = (
    JPEG, PNG, GIF, WEBP, PDF, TEXT, ZIP, SEVEN_ZIP, RAR, GZIP,
    DOCX, XLSX, PPTX, ODT, ODS, ODP, DOC, XLS, PPT,
    OGG, MP3, M4A, WAV, FLAC, MP4, QUICKTIME, WEBM, MATROSKA, HEIC, AVIF,
)  # fmt: skip

#: Images a browser shows (and Pillow reads) without running anything.
IMAGES = (JPEG, PNG, GIF, WEBP)

#: Extensions that tell the legacy Office formats apart (all are OLE2 files).
_OLE_BY_EXTENSION = {".doc": DOC, ".xls": XLS, ".ppt": PPT}
_OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_OOXML_PARTS = {"word/": DOCX, "xl/": XLSX, "ppt/": PPTX}
_ODF_TYPES = (ODT, ODS, ODP)
#: An OpenDocument's ``mimetype`` member is its type name: a few dozen bytes.
_MIMETYPE_LIMIT = 100
#: ISO base media brands (``ftyp``) of audio-only files; others are video.
_AUDIO_BRANDS = (b"M4A ", b"M4B ", b"F4A ")
_QUICKTIME_BRANDS = (b"qt  ",)
#: ISO base media brands of still images (HEIF), not of video.
_HEIC_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1")
_AVIF_BRANDS = (b"avif", b"avis")


def is_opus(file: BinaryIO) -> bool:
    """Whether an Ogg file is Opus (what Telegram's voice messages are), not Vorbis music."""
    file.seek(0)
    head = file.read(HEAD)
    file.seek(0)
    return b"OpusHead" in head


def detect(file: BinaryIO, filename: str = "") -> str | None:
    """The content type of *file* (read from its start, left at its start), or ``None``."""
    file.seek(0)
    head = file.read(HEAD)
    try:
        for test in _SIGNATURES:
            found = test(head, file, filename)
            if found is not None:
                return found
        return TEXT if _is_text(head, file) else None
    finally:
        file.seek(0)


def _image(head: bytes, file: BinaryIO, filename: str) -> str | None:
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    return None


def _document(head: bytes, file: BinaryIO, filename: str) -> str | None:
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(_OLE_SIGNATURE):
        extension = filename[filename.rfind(".") :].lower() if "." in filename else ""
        return _OLE_BY_EXTENSION.get(extension)
    if head.startswith(b"PK\x03\x04"):
        return _zip_kind(file)
    return None


def _zip_kind(file: BinaryIO) -> str | None:
    """A ZIP archive, or the Office / OpenDocument file it is."""
    file.seek(0)
    try:
        with zipfile.ZipFile(file) as archive:
            names = archive.namelist()
            if "mimetype" in names:
                info = archive.getinfo("mimetype")
                if info.file_size <= _MIMETYPE_LIMIT:  # never unpack what a bomb declares
                    with archive.open(info) as member:
                        declared = member.read(_MIMETYPE_LIMIT).decode("ascii", "replace")
                    if declared.strip() in _ODF_TYPES:
                        return declared.strip()
            if "[Content_Types].xml" in names:
                for prefix, kind in _OOXML_PARTS.items():
                    if any(name.startswith(prefix) for name in names):
                        return kind
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, KeyError):
        return None
    return ZIP


def _archive(head: bytes, file: BinaryIO, filename: str) -> str | None:
    if head.startswith(b"7z\xbc\xaf\x27\x1c"):
        return SEVEN_ZIP
    if head.startswith((b"Rar!\x1a\x07\x00", b"Rar!\x1a\x07\x01\x00")):
        return RAR
    if head.startswith(b"\x1f\x8b"):
        return GZIP  # Telegram's animated stickers (.tgs) are gzipped too
    return None


def _media(head: bytes, file: BinaryIO, filename: str) -> str | None:
    if head.startswith(b"OggS"):
        return OGG
    if head.startswith(b"ID3") or _mp3_frame(head):
        return MP3
    if head.startswith(b"fLaC"):
        return FLAC
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return WAV
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _HEIC_BRANDS:
            return HEIC
        if brand in _AVIF_BRANDS:
            return AVIF
        if brand in _AUDIO_BRANDS:
            return M4A
        return QUICKTIME if brand in _QUICKTIME_BRANDS else MP4
    if head.startswith(b"\x1a\x45\xdf\xa3"):  # EBML: WebM or Matroska, by its DocType
        return WEBM if b"webm" in head[:64] else MATROSKA
    return None


def _mp3_frame(head: bytes) -> bool:
    """An MPEG layer III frame header: sync bits, layer 3, a real bitrate and sample rate."""
    if len(head) < 3 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    layer_three = head[1] & 0x06 == 0x02
    bitrate, sample_rate = head[2] >> 4, (head[2] >> 2) & 0x03
    return layer_three and bitrate not in (0, 15) and sample_rate != 3


_SIGNATURES: tuple[Callable[[bytes, BinaryIO, str], str | None], ...] = (
    _image,
    _document,
    _archive,
    _media,
)

#: Control characters text may not hold (tab, line feed, form feed and carriage return it may).
_NOT_TEXT = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f]")


def _is_text(head: bytes, file: BinaryIO) -> bool:
    """UTF-8 throughout, with no control characters but whitespace (and no NUL)."""
    if not head:
        return False
    decoder = codecs.getincrementaldecoder("utf-8")()
    file.seek(0)
    while chunk := file.read(CHUNK):
        try:
            text = decoder.decode(chunk)
        except UnicodeDecodeError:
            return False
        if _NOT_TEXT.search(text):
            return False
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True

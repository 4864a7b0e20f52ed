"""Files to attach, and the ``multipart/form-data`` body that carries them.

A file is given as a path (``str`` or ``os.PathLike``), bytes, or a binary
file object, alone or as ``(filename, content)`` / ``(filename, content,
content_type)``, or as an :class:`Upload`. Nothing is read when the call is
made, only when the request is sent: a path is opened then, a file object is
rewound to its start (as httpx does), and one that cannot seek (a pipe) is
first copied to a temporary file. Every attempt of a request sends the same
bytes: a retry rewinds each file again. The body has a ``Content-Length``
(the server needs one) and is streamed: a file is never read whole into memory,
and on the async client every read happens in a worker thread.
"""

from __future__ import annotations

import asyncio
import io
import json
import mimetypes
import os
import re
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import PurePath
from typing import IO, Any, TypeAlias

import httpx

from support_client._exceptions import SupportError

#: The multipart field that carries attachments (one part a file), and the one
#: that names each file's kind, in the same order.
FILES_FIELD = "files"
KINDS_FIELD = "kinds"
#: Bytes read from a file per chunk sent.
CHUNK = 256 * 1024
#: A stream that cannot seek is copied to a temporary file, in memory up to this size.
SPOOL_IN_MEMORY = 1024 * 1024

#: What a file's bytes may be given as: a path, bytes, or a binary file object.
FileContent: TypeAlias = str | os.PathLike[str] | bytes | bytearray | memoryview | IO[bytes]
_BYTES = (bytes, bytearray, memoryview)


@dataclass(frozen=True)
class Upload:
    """A file to attach: its bytes (a path, bytes or a binary file), and optionally its
    name and type (by default: the path's or the file's name, and the type that name
    suggests; the server detects the real type from the bytes anyway)."""

    content: FileContent
    filename: str | None = None
    content_type: str | None = None

    def __post_init__(self) -> None:
        content = self.content
        if isinstance(content, io.TextIOBase):
            raise TypeError("open the file in binary mode ('rb') to attach it")
        if not isinstance(content, (str, os.PathLike, *_BYTES)) and not callable(
            getattr(content, "read", None)
        ):
            raise TypeError(
                "a file to attach is a path, bytes or a binary file object, "
                f"not {type(content).__name__}"
            )

    @classmethod
    def of(cls, value: FileInput) -> Upload:
        """*value* as an :class:`Upload` (see :data:`FileInput`); a clear ``TypeError`` if not."""
        if isinstance(value, Upload):
            return value
        if isinstance(value, tuple):
            if len(value) not in (2, 3):
                raise TypeError(
                    "a file tuple is (filename, content) or (filename, content, content_type)"
                )
            filename, content, *rest = value
            if filename is not None and not isinstance(filename, str):
                raise TypeError(f"a file's name is a str, not {type(filename).__name__}")
            return cls(content, filename, rest[0] if rest else None)
        return cls(value)

    @property
    def name(self) -> str:
        """The name sent: given, else the path's or the file object's, else ``file``."""
        if self.filename:
            return self.filename
        source = self.content
        if isinstance(source, str | os.PathLike):
            return PurePath(os.fspath(source)).name or "file"
        own = getattr(source, "name", None)
        if isinstance(own, str) and PurePath(own).name:
            return PurePath(own).name
        guessed = mimetypes.guess_extension(self.content_type) if self.content_type else None
        return "file" + (guessed or "")

    @property
    def type(self) -> str:
        """The type sent: given, else the one the name suggests, else
        ``application/octet-stream`` (the server goes by the bytes anyway)."""
        guessed, _ = mimetypes.guess_type(self.name, strict=False)
        return self.content_type or guessed or "application/octet-stream"


#: One file, as ``messages.send(files=[…])`` and ``tickets.create(files=[…])`` take it.
FileInput: TypeAlias = (
    Upload
    | FileContent
    | tuple[str | None, FileContent]
    | tuple[str | None, FileContent, str | None]
)


def uploads(files: Sequence[FileInput], kinds: Sequence[str] | None) -> tuple[Upload, ...]:
    """Check what a call was given before anything is sent."""
    one_tuple = (
        isinstance(files, tuple)
        and len(files) in (2, 3)
        and (files[0] is None or isinstance(files[0], str))
        and not isinstance(files[1], str | os.PathLike)
    )
    if one_tuple or isinstance(files, (str, os.PathLike, Upload, *_BYTES)):
        raise TypeError("files= is a list of files, e.g. files=[path] or files=[(name, data)]")
    if not isinstance(files, Sequence):
        raise TypeError(f"files= is a list of files, not {type(files).__name__}")
    made = tuple(Upload.of(file) for file in files)
    if kinds is not None:
        if isinstance(kinds, str):
            raise TypeError('kinds= is a list, one kind per file, e.g. kinds=["photo"]')
        if len(kinds) != len(made):
            raise ValueError(f"give one kind per file: {len(made)} files, {len(kinds)} kinds")
    return made


def form_fields(body: Mapping[str, Any]) -> list[tuple[str, str]]:
    """A JSON body's fields as form fields: ``None`` left out, numbers as digits,
    a list as one field per item (``kinds``), an object as its JSON (``profile``)."""
    fields: list[tuple[str, str]] = []
    for name, value in body.items():
        if isinstance(value, Mapping):
            fields.append((name, json.dumps(value, ensure_ascii=False)))
            continue
        values = value if isinstance(value, list | tuple) else [value]
        for item in values:
            if item is None:
                continue
            if isinstance(item, bool):
                item = "true" if item else "false"
            fields.append((name, str(item)))
    return fields


def _quoted(value: str) -> str:
    """A ``Content-Disposition`` parameter value: quotes and backslashes escaped (as
    Django and the ``email`` package read them), control characters left out."""
    value = re.sub(r"[\x00-\x1f\x7f]", "", value)
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _part_head(boundary: str, name: str, filename: str | None, content_type: str | None) -> bytes:
    disposition = f'form-data; name="{_quoted(name)}"'
    if filename is not None:
        disposition += f'; filename="{_quoted(filename)}"'
    head = f"--{boundary}\r\nContent-Disposition: {disposition}\r\n"
    if content_type is not None:
        head += f"Content-Type: {content_type}\r\n"
    return (head + "\r\n").encode()


class _Source:
    """One file's bytes, opened for a request: where to read them and how many there are."""

    def __init__(self, upload: Upload, stack: ExitStack) -> None:
        content = upload.content
        self.data: bytes | None = None
        self.file: IO[bytes] | None = None
        if isinstance(content, _BYTES):
            self.data = bytes(content)
            self.size = len(self.data)
            return
        if isinstance(content, str | os.PathLike):
            self.file = stack.enter_context(open(content, "rb"))  # noqa: SIM115 - closed by the stack
        elif _seekable(content):
            self.file = content
        else:  # a pipe or a socket: copied once, so that it has a length and can be resent
            spool = stack.enter_context(tempfile.SpooledTemporaryFile(SPOOL_IN_MEMORY))  # noqa: SIM115
            shutil.copyfileobj(content, spool, CHUNK)
            self.file = spool
        self.file.seek(0, io.SEEK_END)
        self.size = self.file.tell()

    def rewind(self) -> None:
        if self.file is not None:
            self.file.seek(0)

    def read(self, remaining: int) -> bytes:
        assert self.file is not None
        chunk = self.file.read(min(CHUNK, remaining))
        if not isinstance(chunk, bytes):
            raise TypeError("a file to attach must be opened in binary mode ('rb')")
        if not chunk:
            raise SupportError("a file to attach got shorter while it was being sent")
        return chunk


def _seekable(file: Any) -> bool:
    check = getattr(file, "seekable", None)
    if callable(check):
        try:
            return bool(check())
        except (OSError, ValueError):
            return False
    return callable(getattr(file, "seek", None)) and callable(getattr(file, "tell", None))


class Multipart(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A ``multipart/form-data`` body of text fields and files; each iteration (each
    attempt of the request) sends it from the start again.

    :meth:`open` (blocking; the async client runs it in a thread) opens the files
    and measures them; :meth:`close` closes those it opened (never the caller's).
    """

    def __init__(self, fields: Sequence[tuple[str, str]], files: Sequence[Upload]) -> None:
        self.boundary = os.urandom(16).hex()
        self.fields = list(fields)
        self.files = list(files)
        self._stack = ExitStack()
        self._sources: list[_Source] = []

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def open(self) -> Multipart:
        try:
            self._sources = [_Source(upload, self._stack) for upload in self.files]
        except BaseException:
            self._stack.close()
            raise
        return self

    def close(self) -> None:
        self._stack.close()

    def _heads(self) -> list[bytes]:
        fields = [
            _part_head(self.boundary, name, None, None) + value.encode() + b"\r\n"
            for name, value in self.fields
        ]
        return fields + [
            _part_head(self.boundary, FILES_FIELD, upload.name, upload.type)
            for upload in self.files
        ]

    @property
    def length(self) -> int:
        heads = self._heads()
        files = sum(source.size + 2 for source in self._sources)  # each ends with \r\n
        return sum(map(len, heads)) + files + len(self._end)

    @property
    def _end(self) -> bytes:
        return f"--{self.boundary}--\r\n".encode()

    def _plan(self) -> Iterator[bytes | _Source]:
        """The body in order: bytes as they are, a file for its bytes to be read."""
        heads = self._heads()
        yield b"".join(heads[: len(self.fields)])
        for head, source in zip(heads[len(self.fields) :], self._sources, strict=True):
            yield head
            yield source.data if source.data is not None else source
            yield b"\r\n"
        yield self._end

    def __iter__(self) -> Iterator[bytes]:
        for piece in self._plan():
            if isinstance(piece, bytes):
                yield piece
                continue
            piece.rewind()
            remaining = piece.size
            while remaining:
                chunk = piece.read(remaining)
                remaining -= len(chunk)
                yield chunk

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self._plan():
            if isinstance(piece, bytes):
                yield piece
                continue
            await asyncio.to_thread(piece.rewind)
            remaining = piece.size
            while remaining:
                chunk = await asyncio.to_thread(piece.read, remaining)
                remaining -= len(chunk)
                yield chunk

    async def aopen(self) -> Multipart:
        return await asyncio.to_thread(self.open)

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)

"""Where a download's bytes go (a :class:`Sink`), and how a broken download resumes.

A download is streamed into its sink a chunk at a time, never held whole
(but for :class:`BytesSink`, whose point is the bytes). If the connection
breaks off, the retry asks for the rest only (``Range`` from the bytes
received, ``If-Range`` the ``ETag``); a server that answers with the whole
file instead makes the sink start over. A download to a path is written to a
temporary file beside it and renamed into place once complete: the path never
holds half a file.
"""

from __future__ import annotations

import asyncio
import io
import os
import re
import tempfile
from pathlib import Path
from typing import IO, Any, Protocol, TypeVar

import httpx

from support_client._exceptions import APIResponseValidationError, SupportError

R_co = TypeVar("R_co", covariant=True)

_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


class Sink(Protocol[R_co]):
    """What the bytes of a download are written to; its result is the call's."""

    #: Whether its methods block (touch files): the async client then runs them in a thread.
    blocking: bool

    def start(self) -> None: ...
    def write(self, chunk: bytes) -> None: ...
    def restart(self) -> None:
        """Forget what was written: the server sends the whole file again."""

    def finish(self) -> R_co: ...
    def abort(self) -> None:
        """The download failed: undo what can be undone."""


class BytesSink:
    """The bytes, in memory: ``attachments.read()``."""

    blocking = False

    def __init__(self) -> None:
        self._data = bytearray()

    def start(self) -> None:
        pass

    def write(self, chunk: bytes) -> None:
        self._data += chunk

    def restart(self) -> None:
        self._data.clear()

    def finish(self) -> bytes:
        return bytes(self._data)

    def abort(self) -> None:
        self._data.clear()


class PathSink:
    """A file at a path, complete or not at all (a temporary beside it, renamed at the end);
    the result is the number of bytes written."""

    blocking = True

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._file: IO[bytes] | None = None
        self._written = 0

    def start(self) -> None:
        if self.path.is_dir():
            raise IsADirectoryError(f"{self.path} is a directory: give the path of the file")
        fd, name = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent or ".")
        self._file = os.fdopen(fd, "wb")
        self._temporary = name

    def write(self, chunk: bytes) -> None:
        assert self._file is not None
        self._file.write(chunk)
        self._written += len(chunk)

    def restart(self) -> None:
        assert self._file is not None
        self._file.seek(0)
        self._file.truncate()
        self._written = 0

    def finish(self) -> int:
        assert self._file is not None
        self._file.close()
        os.replace(self._temporary, self.path)
        return self._written

    def abort(self) -> None:
        if self._file is not None:
            self._file.close()
            Path(self._temporary).unlink(missing_ok=True)


class FileSink:
    """A binary file object the caller opened (and closes); the result is the bytes written.

    Writing starts where the file stands; starting over needs a file that can seek."""

    blocking = True

    def __init__(self, file: IO[bytes]) -> None:
        if isinstance(file, io.TextIOBase):
            raise TypeError("open the file in binary mode ('wb') to download into it")
        if not callable(getattr(file, "write", None)):
            raise TypeError(
                f"to= is a path or a binary file open for writing, not {type(file).__name__}"
            )
        self.file = file
        self._start: int | None = None
        self._written = 0

    def start(self) -> None:
        try:
            self._start = self.file.tell() if self.file.seekable() else None
        except (AttributeError, OSError, ValueError):
            self._start = None

    def write(self, chunk: bytes) -> None:
        self.file.write(chunk)
        self._written += len(chunk)

    def restart(self) -> None:
        if self._start is None:
            raise SupportError(
                "the download must start over, and the file it goes to cannot seek back"
            )
        self.file.seek(self._start)
        self.file.truncate()
        self._written = 0

    def finish(self) -> int:
        flush = getattr(self.file, "flush", None)
        if callable(flush):
            flush()
        return self._written

    def abort(self) -> None:
        pass


def sink_for(to: str | os.PathLike[str] | IO[bytes]) -> PathSink | FileSink:
    """``to=``: a path, or a binary file object."""
    if isinstance(to, str | os.PathLike):
        return PathSink(to)
    return FileSink(to)


class Resume:
    """The state of one download across attempts: what was received, how to ask for the rest.

    The requester asks :meth:`headers` before each attempt, hands :meth:`accept`
    each successful response before its body, and counts the bytes with :meth:`got`.
    """

    def __init__(self) -> None:
        self.received = 0
        self.etag: str | None = None

    def headers(self) -> dict[str, str]:
        headers = {"Accept": "*/*", "Accept-Encoding": "identity"}
        if self.received and self.etag:
            headers["Range"] = f"bytes={self.received}-"
            headers["If-Range"] = self.etag
        return headers

    def accept(self, response: httpx.Response) -> bool:
        """Whether the sink must start over before this response's body (a whole file
        after a part); a range that does not continue the part is an error."""
        etag = response.headers.get("ETag")
        if response.status_code == 206:
            match = _CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", ""))
            if match is None or int(match.group(1)) != self.received or not self.received:
                raise APIResponseValidationError(
                    f"206 with a range that does not continue the download at {self.received}: "
                    f"{response.headers.get('Content-Range')!r}",
                    request=response.request,
                )
            return False
        self.etag = etag
        start_over = self.received > 0
        self.received = 0
        return start_over

    def got(self, chunk: bytes) -> None:
        self.received += len(chunk)


async def in_thread_if(blocking: bool, function: Any, *args: Any) -> Any:
    """Call *function*; in a worker thread when it blocks (files, on the async client)."""
    if blocking:
        return await asyncio.to_thread(function, *args)
    return function(*args)

"""``client.attachments``: a message's files, streamed to a path or a file, or read as bytes."""

from __future__ import annotations

import os
from typing import IO

from support_client._base_client import Download, RequesterT
from support_client._downloads import BytesSink, sink_for
from support_client._resource import Resource, streamed
from support_client.types.tickets import Attachment


def _url(attachment: Attachment | str) -> str:
    if isinstance(attachment, Attachment):
        return attachment.url
    if isinstance(attachment, str) and attachment:
        return attachment
    raise TypeError(f"an attachment is an Attachment or its url, not {type(attachment).__name__}")


class Attachments(Resource[RequesterT]):
    @streamed(int)
    def download(
        self, attachment: Attachment | str, *, to: str | os.PathLike[str] | IO[bytes]
    ) -> Download[int]:
        """Stream a file to ``to`` (a path, or a binary file open for writing); the bytes written.

        ``attachment`` is an :class:`Attachment` (``message.attachments[0]``) or a
        URL the server gave (``attachment.thumbnail_url``). A path is written to a
        temporary file beside it and renamed once complete, so it never holds
        half a file. A download that breaks off is resumed where it stopped.
        """
        sink = sink_for(to)  # a bad ``to`` is refused now, before any request
        return Download(_url(attachment), lambda: sink)

    @streamed(bytes)
    def read(self, attachment: Attachment | str) -> Download[bytes]:
        """A file's bytes, in memory (for small files; :meth:`download` streams to disk)."""
        return Download(_url(attachment), BytesSink)

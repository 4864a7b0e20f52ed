"""Attachments in the SDK: files sent as multipart (every way of giving one), retried only
as the policy says and with the same bytes; the ``Attachment`` model; downloads streamed
to a path, a file or bytes, resumed where they broke off."""

from __future__ import annotations

import io
import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from support_client import (
    APIConnectionError,
    Attachment,
    Message,
    MessageNew,
    NotFoundError,
    PermissionDeniedError,
    RequestTooLargeError,
    Ticket,
    UnsupportedMediaTypeError,
    Upload,
)
from support_client._uploads import Multipart
from support_client.types import parse_event
from tests.sdk.common import (
    KEY,
    MESSAGE,
    TICKET,
    Api,
    Clock,
    fields_of,
    files_of,
    last_request,
)

OCTETS = "application/octet-stream"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
PDF = b"%PDF-1.4\n" + b"0123456789" * 500 + b"\n%%EOF\n"
ATTACHMENT: dict[str, Any] = {
    "id": 12,
    "kind": "photo",
    "filename": "screen.png",
    "content_type": "image/png",
    "size": len(PNG),
    "width": 64,
    "height": 32,
    "url": "/support/attachments/12/",
    "thumbnail_url": "/support/attachments/12/thumbnail/",
}
WITH_FILE: dict[str, Any] = {**MESSAGE, "text": "", "attachments": [ATTACHMENT]}


class _Pipe(io.RawIOBase):
    """A stream that cannot seek (a pipe, a socket): readable once."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        chunk = self._data.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def pipe(data: bytes) -> io.BufferedReader:
    """What ``open()`` gives for a pipe: buffered, not seekable."""
    return io.BufferedReader(_Pipe(data))


#: Files a test opened, closed after it (the SDK never closes the caller's files).
_OPENED: list[Any] = []


def opened(path: Path, mode: str = "rb") -> Any:
    _OPENED.append(path.open(mode))
    return _OPENED[-1]


@pytest.fixture(autouse=True)
def _close_opened() -> Iterator[None]:
    yield
    while _OPENED:
        _OPENED.pop().close()


@pytest.fixture
def png(tmp_path: Path) -> Path:
    path = tmp_path / "screen.png"
    path.write_bytes(PNG)
    return path


# --- uploads: what is sent ------------------------------------------------------------------

INPUTS: list[tuple[str, Callable[[Path], Any], tuple[str, str, bytes]]] = [
    ("path-str", lambda p: str(p), ("screen.png", "image/png", PNG)),
    ("path", lambda p: p, ("screen.png", "image/png", PNG)),
    ("bytes", lambda p: PNG, ("file", OCTETS, PNG)),
    ("bytearray", lambda p: bytearray(PNG), ("file", OCTETS, PNG)),
    ("open-file", lambda p: opened(p), ("screen.png", "image/png", PNG)),
    ("bytesio-at-end", lambda p: at_end(io.BytesIO(PNG)), ("file", OCTETS, PNG)),
    ("pipe", lambda p: pipe(PDF), ("file", OCTETS, PDF)),
    ("name-and-bytes", lambda p: ("a.pdf", PDF), ("a.pdf", "application/pdf", PDF)),
    ("name-path-type", lambda p: ("shot", p, "image/png"), ("shot", "image/png", PNG)),
    ("no-name-path", lambda p: (None, p), ("screen.png", "image/png", PNG)),
    ("upload", lambda p: Upload(PDF, "invoice.pdf"), ("invoice.pdf", "application/pdf", PDF)),
    ("typed", lambda p: Upload(PNG, content_type="image/png"), ("file.png", "image/png", PNG)),
    ("unicode-name", lambda p: ("счёт 1.pdf", PDF), ("счёт 1.pdf", "application/pdf", PDF)),
    ("quote-in-name", lambda p: ('a"b.pdf', PDF), ('a"b.pdf', "application/pdf", PDF)),
]  # fmt: skip


def at_end(file: io.BytesIO) -> io.BytesIO:
    file.seek(0, io.SEEK_END)  # just written, as after Image.save(file): sent whole anyway
    return file


@pytest.mark.parametrize(
    ("given", "sent"), [(i[1], i[2]) for i in INPUTS], ids=[i[0] for i in INPUTS]
)
async def test_messages_send_takes_a_file_in_every_form(
    api: Api, mock: respx.MockRouter, png: Path, given: Callable[[Path], Any],
    sent: tuple[str, str, bytes],
) -> None:  # fmt: skip
    route = mock.post("tickets/16/messages/").respond(201, json=WITH_FILE)

    message = await api.run(lambda c: c.messages.send(16, "look", files=[given(png)]))

    assert isinstance(message.attachments[0], Attachment)
    request = last_request(route)
    assert request.headers["Authorization"] == f"Api-Key {KEY}"
    assert files_of(request) == [sent]
    assert dict(fields_of(request))["text"] == "look"


async def test_messages_send_with_files_sends_the_fields_kinds_in_order_and_the_key(
    api: Api, mock: respx.MockRouter, png: Path
) -> None:
    route = mock.post("tickets/16/messages/").respond(201, json=WITH_FILE)

    await api.run(
        lambda c: c.messages.send(
            16,
            files=[png, ("voice.ogg", b"OggS-voice"), ("a.pdf", PDF)],
            kinds=["photo", "voice", "document"],
            idempotency_key="tg-5-7",
        )
    )

    request = last_request(route)
    assert fields_of(request) == [
        ("text", ""),
        ("idempotency_key", "tg-5-7"),
        ("kinds", "photo"),
        ("kinds", "voice"),
        ("kinds", "document"),
    ]
    assert [name for name, _type, _data in files_of(request)] == [
        "screen.png",
        "voice.ogg",
        "a.pdf",
    ]


async def test_messages_send_without_a_key_makes_one_for_the_multipart_body_too(
    api: Api, mock: respx.MockRouter
) -> None:
    route = mock.post("tickets/16/messages/").respond(201, json=WITH_FILE)

    await api.run(lambda c: c.messages.send(16, files=[PNG]))

    assert dict(fields_of(last_request(route)))["idempotency_key"].startswith("sdk-")


async def test_tickets_create_with_files_sends_the_user_id_as_digits(
    api: Api, mock: respx.MockRouter, png: Path
) -> None:
    route = mock.post("tickets/").respond(
        201, json={**TICKET, "last_message": {**WITH_FILE, "sender": "user"}}
    )

    ticket = await api.run(
        lambda c: c.tickets.create(
            user_id=123, title="Screenshot", files=[png], kinds=["photo"], idempotency_key="k1"
        )
    )

    assert isinstance(ticket, Ticket)
    assert ticket.last_message is not None
    assert ticket.last_message.attachments[0].url == "/support/attachments/12/"
    request = last_request(route)
    assert fields_of(request) == [
        ("user_id", "123"),
        ("title", "Screenshot"),
        ("idempotency_key", "k1"),
        ("kinds", "photo"),
    ]
    assert files_of(request) == [("screen.png", "image/png", PNG)]


async def test_without_files_the_body_stays_json(api: Api, mock: respx.MockRouter) -> None:
    route = mock.post("tickets/16/messages/").respond(201, json=MESSAGE)

    await api.run(lambda c: c.messages.send(16, "hi", files=[], idempotency_key="k"))

    assert last_request(route).headers["Content-Type"] == "application/json"


async def test_the_callers_file_objects_stay_open_and_the_sdks_own_are_closed(
    api: Api, mock: respx.MockRouter, png: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mock.post("tickets/16/messages/").respond(201, json=WITH_FILE)
    opened: list[Any] = []
    real_open = open

    def spy(*args: Any, **kwargs: Any) -> Any:
        opened.append(real_open(*args, **kwargs))
        return opened[-1]

    monkeypatch.setattr("builtins.open", spy)
    mine = io.BytesIO(PDF)

    await api.run(lambda c: c.messages.send(16, files=[mine, png]))

    assert not mine.closed
    assert [file.closed for file in opened] == [True]


BAD_FILES: list[tuple[str, Callable[[Path], dict[str, Any]], type[Exception], str]] = [
    ("text-file", lambda p: {"files": [opened(p, "r")]}, TypeError, "binary mode"),
    ("stringio", lambda p: {"files": [io.StringIO("hi")]}, TypeError, "binary mode"),
    ("number", lambda p: {"files": [42]}, TypeError, "not int"),
    ("one-path", lambda p: {"files": str(p)}, TypeError, "files= is a list"),
    ("one-tuple", lambda p: {"files": ("a.pdf", PDF)}, TypeError, "files= is a list"),
    ("bytes-alone", lambda p: {"files": PDF}, TypeError, "files= is a list"),
    ("long-tuple", lambda p: {"files": [("a", PDF, "x", {})]}, TypeError, "a file tuple is"),
    ("name-not-str", lambda p: {"files": [(b"a", PDF)]}, TypeError, "name is a str"),
    ("kinds-count", lambda p: {"files": [PDF], "kinds": ["photo", "voice"]}, ValueError,
     "one kind per file"),
    ("kinds-str", lambda p: {"files": [PDF], "kinds": "photo"}, TypeError, "kinds= is a list"),
    ("kinds-alone", lambda p: {"kinds": ["photo"]}, ValueError, "one kind per file"),
    ("missing-path", lambda p: {"files": [p.parent / "nope.png"]}, FileNotFoundError, "nope.png"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("arguments", "error", "words"), [b[1:] for b in BAD_FILES], ids=[b[0] for b in BAD_FILES]
)
async def test_bad_files_are_refused_before_anything_is_sent(
    api: Api, mock: respx.MockRouter, tmp_path: Path,
    arguments: Callable[[Path], dict[str, Any]], error: type[Exception], words: str,
) -> None:  # fmt: skip
    (tmp_path / "note.txt").write_text("hi")

    with pytest.raises(error, match=words):  # no route: respx would refuse any request
        await api.run(lambda c: c.messages.send(16, "x", **arguments(tmp_path / "note.txt")))


@pytest.mark.parametrize(
    ("status", "code", "error"),
    [
        (413, "too_large", RequestTooLargeError),
        (415, "unsupported_type", UnsupportedMediaTypeError),
    ],
)
async def test_refused_files_raise_their_class(
    api: Api, mock: respx.MockRouter, status: int, code: str, error: type[Exception]
) -> None:
    mock.post("tickets/16/messages/").respond(status, json={"code": code, "detail": "no"})

    with pytest.raises(error) as caught:
        await api.run(lambda c: c.messages.send(16, files=[PDF]))

    assert getattr(caught.value, "code", None) == code


# --- uploads: retries -------------------------------------------------------------------------

SOURCES: list[tuple[str, Callable[[Path], Any]]] = [
    ("path", lambda p: p),
    ("open-file", lambda p: opened(p)),
    ("pipe", lambda p: pipe(PNG)),
]


@pytest.mark.parametrize("source", [s[1] for s in SOURCES], ids=[s[0] for s in SOURCES])
@pytest.mark.parametrize(
    "failure",
    [httpx.Response(503), httpx.ReadTimeout("sent?"), httpx.RemoteProtocolError("dropped")],
    ids=["503", "read-timeout", "dropped"],
)
async def test_a_retried_send_sends_the_same_bytes_again(
    api: Api, mock: respx.MockRouter, clock: Clock, png: Path,
    source: Callable[[Path], Any], failure: Any,
) -> None:  # fmt: skip
    route = mock.post("tickets/16/messages/").mock(
        side_effect=[failure, httpx.Response(201, json=WITH_FILE)]
    )

    await api.run(lambda c: c.messages.send(16, "again", files=[source(png)]))

    assert route.call_count == 2
    first, second = (call.request for call in route.calls)
    assert files_of(first)[0][2] == files_of(second)[0][2] == PNG
    assert fields_of(first) == fields_of(second)  # the same idempotency key


async def test_tickets_create_with_files_and_no_key_is_not_resent(
    api: Api, mock: respx.MockRouter, clock: Clock
) -> None:
    route = mock.post("tickets/").mock(
        side_effect=[httpx.ReadTimeout("sent?"), httpx.Response(201, json=TICKET)]
    )

    with pytest.raises(APIConnectionError):
        await api.run(lambda c: c.tickets.create(user_id=1, title="t", files=[PNG]))

    assert route.call_count == 1


async def test_tickets_create_with_files_and_a_key_is_resent(
    api: Api, mock: respx.MockRouter, clock: Clock, png: Path
) -> None:
    route = mock.post("tickets/").mock(
        side_effect=[httpx.ReadTimeout("sent?"), httpx.Response(200, json=TICKET)]
    )

    await api.run(
        lambda c: c.tickets.create(user_id=1, title="t", files=[png], idempotency_key="k")
    )

    assert [files_of(call.request) for call in route.calls] == [
        [("screen.png", "image/png", PNG)]
    ] * 2


def test_the_body_can_be_read_again_from_the_start_sync_and_async(png: Path) -> None:
    body = Multipart([("text", "hi")], [Upload(png), Upload(pipe(PDF))]).open()
    try:
        first = b"".join(body)
        assert b"".join(body) == first
        assert len(first) == body.length

        async def collect() -> bytes:
            return b"".join([chunk async for chunk in body])

        import asyncio

        assert asyncio.run(collect()) == first
    finally:
        body.close()


def test_a_file_that_shrinks_while_being_sent_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "log.txt"
    path.write_bytes(b"x" * 1000)
    body = Multipart([], [Upload(path)]).open()
    try:
        path.write_bytes(b"x" * 10)
        with pytest.raises(Exception, match="got shorter"):
            b"".join(body)
    finally:
        body.close()


# --- the model ----------------------------------------------------------------------------------


def test_a_message_without_attachments_has_an_empty_list() -> None:
    assert Message.model_validate(MESSAGE).attachments == []


def test_an_attachment_parses_and_keeps_unknown_fields() -> None:
    message = Message.model_validate(
        {**WITH_FILE, "attachments": [{**ATTACHMENT, "duration": 3}, {**ATTACHMENT, "id": 13,
         "kind": "hologram", "width": None, "height": None, "thumbnail_url": None}]}
    )  # fmt: skip

    first, second = message.attachments
    assert (first.id, first.kind, first.width, first.height) == (12, "photo", 64, 32)
    assert first.model_extra == {"duration": 3}
    assert (second.kind, second.thumbnail_url) == ("hologram", None)  # a newer kind: kept


def test_a_message_new_event_carries_its_attachments() -> None:
    event = parse_event(
        {"type": "ticket.message.new", "event_id": "support:9", "message": WITH_FILE}
    )

    assert isinstance(event, MessageNew)
    assert event.message.attachments[0].filename == "screen.png"


# --- downloads ------------------------------------------------------------------------------------

FILE_URL = "http://test/support/attachments/12/"


def served(data: bytes, **headers: str) -> httpx.Response:
    return httpx.Response(
        200,
        content=data,
        headers={"Content-Type": "image/png", "ETag": '"abc"', **headers},
    )


class Broken(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A body that breaks off after *data*."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __iter__(self) -> Iterator[bytes]:
        yield self.data
        raise httpx.ReadError("connection reset")

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.data
        raise httpx.ReadError("connection reset")


def broken(data: bytes) -> httpx.Response:
    return httpx.Response(200, headers={"ETag": '"abc"'}, stream=Broken(data))


async def test_read_returns_the_bytes_with_the_credential(api: Api, mock: respx.MockRouter) -> None:
    route = mock.get(FILE_URL).mock(return_value=served(PNG))

    data = await api.run(lambda c: c.attachments.read(Attachment.model_validate(ATTACHMENT)))

    assert data == PNG
    request = last_request(route)
    assert request.headers["Authorization"] == f"Api-Key {KEY}"
    assert request.headers["Accept-Encoding"] == "identity"
    assert "Range" not in request.headers


async def test_download_to_a_path_writes_the_file_whole(
    api: Api, mock: respx.MockRouter, tmp_path: Path
) -> None:
    mock.get(FILE_URL).mock(return_value=served(PNG))
    target = tmp_path / "out.png"

    written = await api.run(
        lambda c: c.attachments.download(Attachment.model_validate(ATTACHMENT), to=target)
    )

    assert (written, target.read_bytes()) == (len(PNG), PNG)
    assert os.listdir(tmp_path) == ["out.png"]  # no temporary left


async def test_download_to_a_binary_file_writes_where_it_stands(
    api: Api, mock: respx.MockRouter
) -> None:
    mock.get(FILE_URL).mock(return_value=served(PNG))
    out = io.BytesIO(b"head:")
    out.seek(0, io.SEEK_END)

    assert await api.run(lambda c: c.attachments.download(ATTACHMENT["url"], to=out)) == len(PNG)

    assert out.getvalue() == b"head:" + PNG


async def test_a_thumbnail_url_downloads_too(api: Api, mock: respx.MockRouter) -> None:
    mock.get(FILE_URL + "thumbnail/").mock(return_value=served(b"RIFF-webp"))

    assert await api.run(lambda c: c.attachments.read(ATTACHMENT["thumbnail_url"])) == b"RIFF-webp"


@pytest.mark.parametrize(
    "url", ["https://files.example/a/12", "https://test/support/attachments/12/"],
    ids=["another-host", "another-scheme"],
)  # fmt: skip
async def test_a_url_off_the_desk_gets_no_credential(
    api: Api, mock: respx.MockRouter, url: str
) -> None:
    route = mock.get(url).mock(return_value=served(PNG))

    await api.run(lambda c: c.attachments.read(url))

    assert "Authorization" not in last_request(route).headers


async def test_a_redirect_to_storage_is_followed_without_the_credential(
    api: Api, mock: respx.MockRouter
) -> None:
    mock.get(FILE_URL).respond(302, headers={"Location": "https://s3.example/b/k?sig=1"})
    storage = mock.get("https://s3.example/b/k").mock(return_value=served(PNG))

    assert await api.run(lambda c: c.attachments.read(ATTACHMENT["url"])) == PNG
    assert "Authorization" not in last_request(storage).headers


@pytest.mark.parametrize(("status", "error"), [(404, NotFoundError), (403, PermissionDeniedError)])
async def test_a_refused_download_raises_and_leaves_no_file(
    api: Api, mock: respx.MockRouter, tmp_path: Path, status: int, error: type[Exception]
) -> None:
    route = mock.get(FILE_URL).respond(status, json={"code": "x", "detail": "no"})

    with pytest.raises(error):
        await api.run(lambda c: c.attachments.download(ATTACHMENT["url"], to=tmp_path / "o.png"))

    assert route.call_count == 1
    assert os.listdir(tmp_path) == []


async def test_a_503_is_retried(api: Api, mock: respx.MockRouter, clock: Clock) -> None:
    route = mock.get(FILE_URL).mock(side_effect=[httpx.Response(503), served(PNG)])

    assert await api.run(lambda c: c.attachments.read(ATTACHMENT["url"])) == PNG
    assert route.call_count == 2


async def test_a_download_that_breaks_off_resumes_where_it_stopped(
    api: Api, mock: respx.MockRouter, clock: Clock, tmp_path: Path
) -> None:
    half = len(PNG) // 2
    rest = httpx.Response(
        206,
        content=PNG[half:],
        headers={"ETag": '"abc"', "Content-Range": f"bytes {half}-{len(PNG) - 1}/{len(PNG)}"},
    )
    route = mock.get(FILE_URL).mock(side_effect=[broken(PNG[:half]), rest])
    target = tmp_path / "out.png"

    await api.run(lambda c: c.attachments.download(ATTACHMENT["url"], to=target))

    assert target.read_bytes() == PNG
    retry = route.calls[1].request
    assert (retry.headers["Range"], retry.headers["If-Range"]) == (f"bytes={half}-", '"abc"')


@pytest.mark.parametrize("to", ["path", "file", "bytes"])
async def test_a_whole_file_after_a_break_starts_over(
    api: Api, mock: respx.MockRouter, clock: Clock, tmp_path: Path, to: str
) -> None:
    mock.get(FILE_URL).mock(side_effect=[broken(PNG[:100]), served(PNG)])
    out = io.BytesIO()
    target = tmp_path / "out.png"

    if to == "bytes":
        assert await api.run(lambda c: c.attachments.read(ATTACHMENT["url"])) == PNG
        return
    await api.run(
        lambda c: c.attachments.download(ATTACHMENT["url"], to=target if to == "path" else out)
    )

    assert (target.read_bytes() if to == "path" else out.getvalue()) == PNG


async def test_a_download_broken_every_time_raises_and_leaves_no_file(
    api: Api, mock: respx.MockRouter, clock: Clock, tmp_path: Path
) -> None:
    route = mock.get(FILE_URL).mock(side_effect=lambda request: broken(b""))

    with pytest.raises(APIConnectionError):
        await api.run(lambda c: c.attachments.download(ATTACHMENT["url"], to=tmp_path / "o"))

    assert route.call_count == 3  # the default two retries
    assert os.listdir(tmp_path) == []


async def test_a_range_that_does_not_continue_is_an_error(
    api: Api, mock: respx.MockRouter, clock: Clock
) -> None:
    wrong = httpx.Response(206, content=b"x", headers={"Content-Range": "bytes 0-0/10"})
    mock.get(FILE_URL).mock(side_effect=[broken(b"abc"), wrong])

    with pytest.raises(Exception, match="does not continue"):
        await api.run(lambda c: c.attachments.read(ATTACHMENT["url"]))


BAD_TARGETS: list[tuple[str, Callable[[Path], Any], type[Exception], str]] = [
    ("directory", lambda p: p, IsADirectoryError, "is a directory"),
    ("text-file", lambda p: opened(p / "t.txt", "w"), TypeError, "binary mode"),
    ("not-a-file", lambda p: 42, TypeError, "to= is a path or a binary file"),
]


@pytest.mark.parametrize(
    ("target", "error", "words"), [b[1:] for b in BAD_TARGETS], ids=[b[0] for b in BAD_TARGETS]
)
async def test_a_bad_target_is_refused_before_anything_is_fetched(
    api: Api, mock: respx.MockRouter, tmp_path: Path,
    target: Callable[[Path], Any], error: type[Exception], words: str,
) -> None:  # fmt: skip
    with pytest.raises(error, match=words):  # no route: respx would refuse any request
        await api.run(lambda c: c.attachments.download(ATTACHMENT["url"], to=target(tmp_path)))


@pytest.mark.parametrize("attachment", [None, "", 12])
async def test_an_attachment_is_a_model_or_its_url(api: Api, attachment: Any) -> None:
    with pytest.raises(TypeError, match="an attachment is an Attachment or its url"):
        await api.run(lambda c: c.attachments.read(attachment))

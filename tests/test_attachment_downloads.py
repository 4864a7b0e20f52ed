"""``GET attachments/{id}/``: who may download, the headers that keep a browser safe, ranges.

The view streams through an async iterator, so it is driven by Django's
``AsyncClient`` (the sync client would warn that it must buffer the stream).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.core.files.uploadedfile import SimpleUploadedFile

from support import services
from support.actors import Actor
from support.models import BotKey
from tests import files
from tests.test_realtime_http import Client
from tests.test_realtime_websocket import setup_world

pytestmark = pytest.mark.django_db(transaction=True)

PHOTO = files.png(120, 80)
PAGE = b"<html><body><script>alert(document.cookie)</script></body></html>"
SVG = b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'><circle r='4'/></svg>"
SCRIPT = b"fetch('/support/tickets/').then(r => r.text()).then(alert)\n"


@pytest.fixture
async def world(stop_hub: None, settings: Any, tmp_path: Path) -> dict[str, Any]:
    settings.MEDIA_ROOT = str(tmp_path)
    world: dict[str, Any] = await setup_world()

    @sync_to_async
    def attach() -> dict[str, int]:
        bot = Actor.for_bot(BotKey.objects.get())
        uploads = [
            SimpleUploadedFile("photo.png", PHOTO, "image/png"),
            SimpleUploadedFile("invoice.pdf", files.pdf(), "application/pdf"),
            SimpleUploadedFile("page.html", PAGE, "text/html"),
            SimpleUploadedFile("drawing.svg", SVG, "image/svg+xml"),
            SimpleUploadedFile("app.js", SCRIPT, "text/javascript"),
            SimpleUploadedFile("voice.ogg", files.ogg(), "audio/ogg"),
        ]
        message = services.post_message(bot, world["queued"], text="", files=uploads).message
        ids = list(message.attachments.order_by("position").values_list("id", flat=True))
        return dict(zip(("photo", "pdf", "html", "svg", "js", "voice"), ids, strict=True))

    world["files"] = await attach()
    return world


def url(world: dict[str, Any], name: str, suffix: str = "") -> str:
    return f"/support/attachments/{world['files'][name]}/{suffix}"


@pytest.mark.parametrize(
    ("caller", "status", "code"),
    [
        ("anonymous", 401, "not_authenticated"),
        ("non-manager", 403, "permission_denied"),
        ("manager", 200, None),
        ("bot", 200, None),
    ],
)
async def test_only_managers_and_bots_download(world, caller, status, code):
    credentials = {
        "anonymous": None,
        "non-manager": f"Token {world['eve']}",
        "manager": f"Token {world['alice']}",
        "bot": f"Api-Key {world['bot_key']}",
    }
    response = await Client(credentials[caller]).get(url(world, "pdf"))
    assert response.status_code == status
    if code is None:
        assert b"".join([chunk async for chunk in response.streaming_content]) == files.pdf()
    else:
        assert response.json()["code"] == code


@pytest.mark.parametrize("path", ["/support/attachments/999999/", "/support/attachments/0/"])
async def test_an_unknown_attachment_is_a_json_404(world, path):
    response = await Client(f"Token {world['alice']}").get(path)
    assert (response.status_code, response.json()["code"]) == (404, "not_found")


async def test_a_write_method_is_refused(world):
    response = await Client(f"Token {world['alice']}").post(url(world, "pdf"))
    assert (response.status_code, response.json()["code"]) == (405, "method_not_allowed")


@pytest.mark.parametrize(
    ("name", "content_type", "disposition"),
    [
        ("photo", "image/png", 'inline; filename="photo.png"'),
        ("voice", "audio/ogg", 'inline; filename="voice.ogg"'),
        ("pdf", "application/pdf", 'attachment; filename="invoice.pdf"'),
        # What a browser would run, served as text to download, never as a page.
        ("html", "text/plain", 'attachment; filename="page.html"'),
        ("svg", "text/plain", 'attachment; filename="drawing.svg"'),
        ("js", "text/plain", 'attachment; filename="app.js"'),
    ],
)
async def test_the_headers_keep_a_browser_from_running_anything(
    world, name, content_type, disposition
):
    response = await Client(f"Token {world['alice']}").get(url(world, name))
    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    assert response["Content-Disposition"] == disposition
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    assert "default-src 'none'" in response["Content-Security-Policy"]
    assert response["Cache-Control"].startswith("private")
    assert response["ETag"]
    assert response["Accept-Ranges"] == "bytes"


async def test_a_range_request_gets_those_bytes(world):
    client = Client(f"Api-Key {world['bot_key']}", Range="bytes=10-19")
    response = await client.get(url(world, "photo"))
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes 10-19/{len(PHOTO)}"
    assert response["Content-Length"] == "10"
    assert b"".join([chunk async for chunk in response.streaming_content]) == PHOTO[10:20]


@pytest.mark.parametrize(
    ("header", "status", "expected"),
    [
        ("bytes=-5", 206, lambda b: b[-5:]),
        ("bytes=100-", 206, lambda b: b[100:]),
        ("bytes=0-", 200, lambda b: b),
        ("bytes=0-4,10-14", 200, lambda b: b),  # several ranges: the whole file
        ("items=0-4", 200, lambda b: b),
        ("bytes=999999-", 416, None),
        ("bytes=-0", 416, None),
    ],
)
async def test_ranges(world, header, status, expected):
    response = await Client(f"Api-Key {world['bot_key']}", Range=header).get(url(world, "photo"))
    assert response.status_code == status
    if expected is None:
        assert response["Content-Range"] == f"bytes */{len(PHOTO)}"
    else:
        assert b"".join([chunk async for chunk in response.streaming_content]) == expected(PHOTO)


async def test_a_known_etag_is_not_sent_again(world):
    first = await Client(f"Token {world['alice']}").get(url(world, "pdf"))
    again = await Client(f"Token {world['alice']}", **{"If-None-Match": first["ETag"]}).get(
        url(world, "pdf")
    )
    assert again.status_code == 304
    assert again.content == b""


async def test_a_photo_has_a_small_thumbnail(world):
    import io

    from PIL import Image

    response = await Client(f"Token {world['alice']}").get(url(world, "photo", "thumbnail/"))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/webp"
    image = Image.open(io.BytesIO(b"".join([c async for c in response.streaming_content])))
    assert max(image.size) <= 320
    none = await Client(f"Token {world['alice']}").get(url(world, "pdf", "thumbnail/"))
    assert (none.status_code, none.json()["code"]) == (404, "not_found")

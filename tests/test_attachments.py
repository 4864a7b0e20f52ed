"""Attachments through the REST API: uploads, what is recorded, and every refusal.

Every refusal must answer its status and ``code`` and leave the database and
the storage as they were (the files under ``MEDIA_ROOT`` are counted).
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from rest_framework.test import APIClient

from support import attachments, services, sniff
from support.models import Attachment, Event
from tests import files
from tests.conftest import Desk, snapshot, stored_files

pytestmark = pytest.mark.usefixtures("media")


def upload(name: str, data: bytes, content_type: str = "application/octet-stream") -> Any:
    return SimpleUploadedFile(name, data, content_type)


def post_files(client: APIClient, url: str, **fields: Any) -> Any:
    return client.post(url, fields, format="multipart")


# -- uploads --------------------------------------------------------------------------


def test_a_bots_photo_and_document_are_stored_described_and_sent_as_an_event(
    bot_client, desk: Desk, media
):
    photo, pdf = files.png(40, 30), files.pdf()
    response = post_files(
        bot_client,
        f"/support/tickets/{desk.open.pk}/messages/",
        text="",
        files=[upload("screen.png", photo, "text/html"), upload("invoice.pdf", pdf)],
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["text"] == ""
    first, second = body["attachments"]
    assert first == {
        "id": first["id"],
        "kind": "photo",
        "filename": "screen.png",
        "content_type": "image/png",  # from the bytes, not the part's text/html
        "size": len(photo),
        "width": 40,
        "height": 30,
        "url": f"/support/attachments/{first['id']}/",
        "thumbnail_url": f"/support/attachments/{first['id']}/thumbnail/",
    }
    assert second["kind"] == "document"
    assert second["content_type"] == "application/pdf"
    assert second["thumbnail_url"] is None
    row = Attachment.objects.get(pk=first["id"])
    assert row.sha256 == hashlib.sha256(photo).hexdigest()
    with attachments.storage().open(row.stored_name) as kept:
        assert kept.read() == photo
    assert len(stored_files(media)) == 3  # two files and the photo's thumbnail
    event = Event.objects.filter(type="ticket.message.new").latest("id")
    assert event.data["message"]["attachments"] == body["attachments"]
    listed = bot_client.get(f"/support/tickets/{desk.open.pk}/").json()["last_message"]
    assert listed["attachments"] == body["attachments"]


def test_a_ticket_opens_with_an_attachment_only_first_message(bot_client, db, media):
    response = post_files(
        bot_client,
        "/support/tickets/",
        user_id="4242",
        title="Screenshot",
        files=[upload("s.jpg", files.jpeg())],
        kinds=["photo"],
    )
    assert response.status_code == 201, response.content
    message = response.json()["last_message"]
    assert message["text"] == ""
    assert [a["kind"] for a in message["attachments"]] == ["photo"]


def test_a_manager_sends_files_too(manager_client, desk: Desk):
    response = post_files(
        manager_client,
        f"/support/tickets/{desk.mine.pk}/messages/",
        text="Here is the invoice",
        files=[upload("inv.pdf", files.pdf()), upload("voice.ogg", files.ogg())],
        kinds=["document", "voice"],
    )
    assert response.status_code == 201, response.content
    assert [(a["kind"], a["content_type"]) for a in response.json()["attachments"]] == [
        ("document", "application/pdf"),
        ("voice", "audio/ogg"),
    ]


def test_json_bodies_keep_working_and_carry_an_empty_list(bot_client, desk: Desk):
    response = bot_client.post(
        f"/support/tickets/{desk.open.pk}/messages/", {"text": "plain"}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["attachments"] == []


def test_a_repeated_key_with_files_returns_the_first_message_and_stores_nothing(
    bot_client, desk: Desk, media
):
    url = f"/support/tickets/{desk.open.pk}/messages/"
    first = post_files(
        bot_client, url, idempotency_key="tg-1-7", files=[upload("a.png", files.png())]
    )
    assert first.status_code == 201
    before, held = snapshot(), stored_files(media)
    again = post_files(
        bot_client, url, idempotency_key="tg-1-7", files=[upload("b.png", files.png(9, 9))]
    )
    assert again.status_code == 200
    assert again.json() == first.json()
    assert snapshot() == before
    assert stored_files(media) == held


def test_the_service_removes_what_it_wrote_when_the_transaction_fails(
    bot_actor, desk: Desk, media, monkeypatch
):
    def fail(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr("support.events.append", fail)
    with pytest.raises(RuntimeError):
        services.post_message(
            bot_actor, desk.open.pk, text="x", files=[upload("a.png", files.png())]
        )
    assert stored_files(media) == []
    assert not Attachment.objects.exists()


# -- refusals -------------------------------------------------------------------------

OPEN = "/support/tickets/{open}/messages/"
RESOLVED = "/support/tickets/{resolved}/messages/"
OTHERS = "/support/tickets/{others}/messages/"
CREATE = "/support/tickets/"
PNG, PDF = files.png(), files.pdf()

REFUSALS = [
    pytest.param("bot", OPEN, {"files": [upload("a.png", b"")]}, {}, 400, "empty_file",
                 id="an empty file"),
    pytest.param("bot", OPEN, {"files": [upload("a.png", PNG)]},
                 {"SUPPORT_MAX_ATTACHMENT_SIZE": len(PNG) - 1}, 413, "too_large",
                 id="a file over the size limit"),
    pytest.param("bot", OPEN, {"files": [upload(f"{n}.png", PNG) for n in range(3)]},
                 {"SUPPORT_MAX_ATTACHMENTS_PER_MESSAGE": 2}, 400, "too_many_files",
                 id="more files than a message may carry"),
    pytest.param("bot", OPEN, {"files": [upload("run.exe", b"MZ\x90\x00" + b"\x00" * 60)]}, {},
                 415, "unsupported_type", id="a Windows program"),
    pytest.param("bot", OPEN, {"files": [upload("a.png", PNG), upload("b.bin", b"\x00\x01\x02")]},
                 {}, 415, "unsupported_type", id="one good file, one of no known type"),
    pytest.param("bot", OPEN, {"files": [upload("a.pdf", PDF)]},
                 {"SUPPORT_ATTACHMENT_CONTENT_TYPES": ["image/png"]}, 415, "unsupported_type",
                 id="a type the allow-list leaves out"),
    pytest.param("bot", OPEN, {"files": [upload("a.png", PNG[:40])]}, {}, 415,
                 "unsupported_type", id="a truncated image"),
    pytest.param("bot", OPEN, {"files": [upload("a.png", PNG)], "kinds": ["voice"]}, {}, 400,
                 "invalid", id="a kind the file cannot be"),
    pytest.param("bot", OPEN, {"files": [upload("a.png", PNG)], "kinds": ["photo", "photo"]},
                 {}, 400, "invalid", id="more kinds than files"),
    pytest.param("bot", OPEN, {"files": [upload("a.png", PNG)], "kinds": ["selfie"]}, {}, 400,
                 "invalid", id="an unknown kind"),
    pytest.param("bot", OPEN, {"text": "", "files": "not a file"}, {}, 400, "invalid",
                 id="files as a text field"),
    pytest.param("bot", OPEN, {"text": "hi", "photo": upload("a.png", PNG)}, {}, 400, "invalid",
                 id="a file part with another name"),
    pytest.param("bot", OPEN, {"text": ["one", "two"]}, {}, 400, "invalid",
                 id="a field given twice"),
    pytest.param("bot", OPEN, {"text": ""}, {}, 400, "invalid",
                 id="an empty text and no files"),
    pytest.param("bot", OPEN, {"text": " ", "files": [upload("a.png", PNG)]}, {}, 400, "invalid",
                 id="a blank caption"),
    pytest.param("bot", OPEN, {"text": "x" * 4097, "files": [upload("a.png", PNG)]}, {}, 400,
                 "invalid", id="a caption over the text limit"),
    pytest.param("bot", OPEN, {"text": "a\x00b", "files": [upload("a.png", PNG)]}, {}, 400,
                 "invalid", id="a NUL in the caption"),
    pytest.param("bot", RESOLVED, {"files": [upload("a.png", PNG)]}, {}, 409, "ticket_resolved",
                 id="a resolved ticket"),
    pytest.param("manager", OTHERS, {"files": [upload("a.png", PNG)]}, {}, 409,
                 "assigned_to_other", id="another manager's ticket"),
    pytest.param("anon", OPEN, {"files": [upload("a.png", PNG)]}, {}, 401, "not_authenticated",
                 id="anonymous"),
    pytest.param("bot", "/support/tickets/999999/messages/", {"files": [upload("a.png", PNG)]},
                 {}, 404, "not_found", id="an unknown ticket"),
    pytest.param("bot", CREATE, {"user_id": "12a", "title": "t", "files": [upload("a.png", PNG)]},
                 {}, 400, "invalid", id="create: a user id that is not a number"),
    pytest.param("bot", CREATE, {"user_id": "5", "files": [upload("a.png", PNG)]}, {}, 400,
                 "invalid", id="create: no title"),
    pytest.param("bot", CREATE, {"user_id": "5", "title": "t", "files": [upload("a", b"")]}, {},
                 400, "empty_file", id="create: an empty file"),
    pytest.param("manager", CREATE, {"user_id": "5", "title": "t", "files": [upload("a.png", PNG)]},
                 {}, 403, "permission_denied", id="create: a manager"),
]  # fmt: skip


@pytest.mark.parametrize(("caller", "path", "fields", "limits", "status", "code"), REFUSALS)
def test_a_refused_upload_stores_nothing(
    caller, path, fields, limits, status, code, desk: Desk, bot_client, manager_client, media
):
    clients = {"bot": bot_client, "manager": manager_client, "anon": APIClient()}
    url = path.format(open=desk.open.pk, resolved=desk.resolved.pk, others=desk.others.pk)
    before = snapshot()
    with override_settings(**limits):
        response = post_files(clients[caller], url, **fields)
    assert (response.status_code, response.json()["code"]) == (status, code), response.content
    assert response.json()["detail"]
    assert snapshot() == before
    assert stored_files(media) == []


def test_a_refusal_names_the_file_by_its_position(bot_client, desk: Desk):
    response = post_files(
        bot_client,
        f"/support/tickets/{desk.open.pk}/messages/",
        files=[upload("a.png", PNG), upload("b.pdf", PDF), upload("c.bin", b"\x00\x01")],
        kinds=["photo", "voice", "document"],
    )
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["kinds.1"]
    unsupported = post_files(
        bot_client,
        f"/support/tickets/{desk.open.pk}/messages/",
        files=[upload("a.png", PNG), upload("c.bin", b"\x00\x01")],
    )
    assert unsupported.status_code == 415
    assert list(unsupported.json()["errors"]) == ["files.1"]
    assert "c.bin" in unsupported.json()["errors"]["files.1"][0]


def test_a_malformed_multipart_body_is_bad_multipart(bot_client, desk: Desk, media):
    before = snapshot()
    response = bot_client.generic(
        "POST",
        f"/support/tickets/{desk.open.pk}/messages/",
        b'--x\r\nContent-Disposition: form-data; name="files"; filename="a.png"\r\n\r\nabc',
        content_type="multipart/form-data; boundary=",
    )
    assert (response.status_code, response.json()["code"]) == (400, "bad_multipart")
    assert snapshot() == before
    assert stored_files(media) == []


# -- what is recorded -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("../../etc/passwd.txt", "passwd.txt"),
        ("C:\\Users\\me\\report.pdf", "report.pdf"),
        ("invoice\u202efdp.exe", "invoicefdp.exe"),  # a bidi override that hid ".exe"
        ("tab\there\x00.txt", "tabhere.txt"),
        ("", "file.png"),
        ("...", "file.png"),
        ("x" * 300 + ".png", "x" * 251 + ".png"),
        ("Счёт №5.png", "Счёт №5.png"),
    ],
)
def test_a_file_name_is_cleaned(sent, kept):
    assert attachments.clean_filename(sent, "image/png") == kept


@pytest.mark.parametrize(
    ("data", "name", "expected"),
    [
        (files.png(), "", sniff.PNG),
        (files.jpeg(), "", sniff.JPEG),
        (files.gif(), "", sniff.GIF),
        (files.webp(), "", sniff.WEBP),
        (files.pdf(), "", sniff.PDF),
        (files.ogg(), "", sniff.OGG),
        (files.docx(), "letter.docx", sniff.DOCX),
        (files.zip_of(a=b"1"), "", sniff.ZIP),
        (b"\x1f\x8b\x08\x00" + b"\x00" * 20, "sticker.tgs", sniff.GZIP),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 40, "old.doc", sniff.DOC),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 40, "old.bin", None),
        (b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 20, "", sniff.MP4),
        (b"\x00\x00\x00\x18ftypM4A " + b"\x00" * 20, "", sniff.M4A),
        (b"\x1a\x45\xdf\xa3\x01\x00\x00\x00webm", "", sniff.WEBM),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", "", sniff.WAV),
        (b"\xff\xfb\x90\x64" + b"\x00" * 40, "", sniff.MP3),  # a layer III frame
        (b"ID3\x04\x00" + b"\x00" * 40, "", sniff.MP3),
        ("Привет, мир\n".encode(), "", sniff.TEXT),
        (b"<html><script>alert(1)</script></html>", "page.html", sniff.TEXT),
        (b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>", "a.svg", sniff.TEXT),
        (b"text with a \x00 NUL", "", None),
        (b"\xff\xfe\x00\x00", "", None),
        (b"MZ\x90\x00", "a.exe", None),
        (b"", "", None),
    ],
)
def test_a_type_is_read_from_the_bytes(data, name, expected):
    import io

    assert sniff.detect(io.BytesIO(data), name) == expected


def test_every_type_the_app_detects_is_allowed_by_default():
    from support.conf import support_settings

    assert set(support_settings.ATTACHMENT_CONTENT_TYPES) == set(sniff.DETECTABLE)


def test_orphaned_files_are_found_and_removed(bot_client, desk: Desk, media):
    import os
    import time
    from io import StringIO

    from django.core.management import call_command

    response = post_files(
        bot_client, f"/support/tickets/{desk.open.pk}/messages/", files=[upload("a.png", PNG)]
    )
    assert response.status_code == 201
    kept = stored_files(media)
    orphan = media / attachments.PREFIX / "left-by-a-crash.pdf"
    orphan.write_bytes(PDF)
    young = media / attachments.THUMBNAILS / "still-committing.webp"
    young.write_bytes(b"x")
    an_hour_ago = time.time() - 2 * 3600
    for path in [*kept, orphan]:
        os.utime(path, (an_hour_ago, an_hour_ago))

    out = StringIO()
    call_command("support_clean_attachments", "--dry-run", stdout=out)
    assert "Would remove 1 orphaned file(s)." in out.getvalue()
    assert orphan.exists()
    call_command("support_clean_attachments", stdout=out)
    assert not orphan.exists()
    assert stored_files(media) == sorted([*kept, young])

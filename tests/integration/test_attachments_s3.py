"""Attachments on S3: two workers sharing one bucket on a real S3 HTTP API (moto's server).

What a project gets by setting ``STORAGES`` to django-storages' S3 backend and
nothing else: a file uploaded through one worker is downloaded, byte for byte,
through the other, and only through the app's view, with its credentials.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests import files
from tests.harness.s3 import S3Server
from tests.harness.server import LiveServer
from tests.integration.conftest import Stack

BUCKET = "support-attachments"


@pytest.fixture(scope="module")
def s3_workers(stack: Stack) -> Iterator[tuple[S3Server, list[LiveServer]]]:
    """Two more workers of the stack (its PostgreSQL and Redis), keeping files on S3."""
    s3 = S3Server(stack.workdir).start()
    s3.create_bucket(BUCKET)
    env = {**stack.workers[0].env, **s3.settings_env(BUCKET)}
    workers = [LiveServer(stack.workdir, env).start(), LiveServer(stack.workdir, env).start()]
    try:
        yield s3, workers
    finally:
        for worker in workers:
            worker.stop()
        s3.stop()


def test_a_file_uploaded_through_one_worker_downloads_through_the_other(
    stack: Stack, s3_workers: tuple[S3Server, list[LiveServer]]
) -> None:
    s3, (first, second) = s3_workers
    bot = {"Authorization": f"Api-Key {stack.credentials.bot_key}"}
    manager = {"Authorization": f"Token {stack.credentials.managers[0]}"}
    photo, pdf = files.png(200, 100), files.pdf()
    opened = httpx.post(
        f"{first.api}tickets/",
        data={"user_id": "7301", "title": "On S3", "text": "two files"},
        files=[("files", ("shot.png", photo, "image/png")), ("files", ("a.pdf", pdf))],
        headers=bot,
        timeout=30,
    )
    assert opened.status_code == 201, opened.text
    attachments: list[dict[str, Any]] = opened.json()["last_message"]["attachments"]
    assert [a["content_type"] for a in attachments] == ["image/png", "application/pdf"]

    for attachment, data in zip(attachments, (photo, pdf), strict=True):
        downloaded = httpx.get(f"{second.base_url}{attachment['url']}", headers=manager, timeout=30)
        assert downloaded.status_code == 200
        assert downloaded.content == data
    thumbnail = httpx.get(f"{second.base_url}{attachments[0]['thumbnail_url']}", headers=bot)
    assert thumbnail.status_code == 200
    ranged = httpx.get(
        f"{second.base_url}{attachments[1]['url']}", headers={**manager, "Range": "bytes=0-7"}
    )
    assert (ranged.status_code, ranged.content) == (206, pdf[:8])
    # In the bucket: the two files and the thumbnail, under unguessable names.
    listed = s3.client().list_objects_v2(Bucket=BUCKET)
    keys = sorted(item["Key"] for item in listed.get("Contents", []))
    assert len(keys) == 3
    assert all(key.startswith("support/attachments/") for key in keys)
    assert not any("shot" in key or "a.pdf" in key for key in keys)
    # Never without the app's credentials.
    assert httpx.get(f"{second.base_url}{attachments[0]['url']}").status_code == 401

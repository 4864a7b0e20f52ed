"""B6: attachments. A bot's 5 MB upload, one at a time, against the bare Django view that
saves the same body to the same kind of storage (``FileSystemStorage``; every server's
``MEDIA_ROOT`` and ``TMPDIR`` on one disk); 20 uploads of 20 MB at once, and the worker's
peak RSS (``VmHWM``, reset first) over idle; a download of one of them against nginx
serving the same stored file (``sendfile on``)."""

import contextlib
import json
import os
import sqlite3
import time
from pathlib import Path
from statistics import median
from typing import Any

from benchmarks.b5_post import phase
from benchmarks.client import HttpConnection, HttpPoster, timed, wait_idle
from benchmarks.config import Sizes
from benchmarks.targets import HttpPost, Target

BOUNDARY, MIB = "b6-" + os.urandom(12).hex(), 1 << 20


def upload(target: Target, size: int) -> HttpPost:
    """A ``text`` field and a ``files`` part of *size* random bytes that sniff as a PDF."""
    assert target.upload_path is not None
    assert target.rest_post is not None
    part = f"--{BOUNDARY}\r\nContent-Disposition: form-data; name="
    head = f'{part}"text"\r\n\r\nb6\r\n{part}"files"; filename="b6.pdf"\r\n\r\n%PDF-1.7\n'
    body = head.encode() + os.urandom(size - 9) + f"\r\n--{BOUNDARY}--\r\n".encode()
    return HttpPost(target.upload_path, target.rest_post.headers, lambda _: body,
                    f"multipart/form-data; boundary={BOUNDARY}")  # fmt: skip


async def uploads(
    target: Target, size: int, name: str, count: int, at_once: int
) -> tuple[dict[str, Any], bytes]:
    """*count* uploads, *at_once* at a time, as B5's phase; the worker's RSS idle and at its
    peak; the last answer."""
    poster, server = HttpPoster(target, upload(target, size), at_once), target.server
    try:
        await poster.post("")  # unmeasured
        await wait_idle(target, limit=10)
        idle = server.rss_bytes()
        Path(f"/proc/{server.pid}/clear_refs").write_text("5")  # VmHWM := VmRSS
        row = await phase(target, poster, name, count, at_once)
        return {**row, "bytes": size, "rss_idle_bytes": idle,
                "rss_peak_bytes": server.peak_rss_bytes()}, poster.last  # fmt: skip
    finally:
        await poster.close()


async def download(
    key: str, port: int, path: str, sizes: Sizes, target: Target | None = None
) -> dict[str, Any]:
    """``b6_downloads`` GETs one after another (or ``b6_budget`` s' worth); *target*: ours,
    with a bot's key, and its worker's CPU."""
    connection = HttpConnection(port)
    headers = target.rest_post.headers[0] if target and target.rest_post else []
    try:
        await connection.request("GET", path, headers, keep=False)  # unmeasured
        cpu, client = target.server.cpu_seconds() if target else 0.0, time.process_time()
        status, times = await timed(connection, path, headers, sizes.b6_downloads,
                                    sizes.b6_budget, keep=False)  # fmt: skip
    finally:
        connection.close()
    per = (target.server.cpu_seconds() - cpu) * 1000 / len(times) if target else None
    return {"target": key, "phase": "download", "bytes": sizes.b6_large_bytes, "status": status,
            "downloads": len(times), "p50_ms": median(times) * 1000,
            "mib_per_s": sizes.b6_large_bytes * len(times) / sum(times) / MIB,
            "server_cpu_ms_per_post": per,
            "client_cpu_share": (time.process_time() - client) / sum(times)}  # fmt: skip


async def run(target: Target, sizes: Sizes, static: int | None) -> list[dict[str, Any]]:
    """The upload and burst rows; for ours, a download row, and nginx's (on port *static*)
    of the same stored file."""
    rows = [(await uploads(target, sizes.b6_upload_bytes, "upload", sizes.b6_uploads, 1))[0]]
    burst, answer = await uploads(target, sizes.b6_large_bytes, "burst", *[sizes.b6_burst] * 2)
    if static is not None and target.family == "ours":
        attachment = json.loads(answer)["attachments"][0]
        with contextlib.closing(sqlite3.connect(target.server.env["SQLITE_PATH"])) as db:
            query = "SELECT stored_name FROM support_attachment WHERE id = ?"
            (stored,) = db.execute(query, (attachment["id"],)).fetchone()
        await wait_idle(target, limit=10)
        rows.append(await download(target.key, target.port, attachment["url"], sizes, target))
        nginx = await download("nginx", static, f"/files/{target.key}/{stored}", sizes)
        rows.append({**nginx, "beside": target.key})
    return [*rows, burst]

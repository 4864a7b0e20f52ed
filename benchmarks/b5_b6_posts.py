"""B5 and B6: a bot's posts against the bare Django view, with no listener attached.

B5, a JSON post: sequential (one post at a time) and concurrent (*posters* keep-alive
clients back to back) phases: the server's CPU per answered post, p50/p99, posts/s,
non-2xx. B6, attachments: a 5 MB upload, one at a time, against the bare view that saves
the same body to the same kind of storage (``FileSystemStorage``; every server's
``MEDIA_ROOT`` and ``TMPDIR`` on one disk); 20 uploads of 20 MB at once, and the worker's
peak RSS (``VmHWM``, reset first) over idle; a download of one of them against nginx
serving the same stored file (``sendfile on``).
"""

import asyncio
import contextlib
import gc
import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from benchmarks.client import HttpConnection, HttpPoster, summarise_ms, timed, wait_idle
from benchmarks.config import Sizes
from benchmarks.targets import HttpPost, Target


async def phase(
    target: Target, poster: HttpPoster, name: str, posts: int, posters: int
) -> dict[str, Any]:
    await wait_idle(target, limit=10)
    poster.statuses.clear()
    latencies: list[float] = []
    remaining = iter(range(posts))

    async def client() -> None:
        for index in remaining:
            sent = time.perf_counter()
            await poster.post(f"b5 {name} post {index}")
            latencies.append(time.perf_counter() - sent)

    gc.collect()
    cpu_before = target.server.cpu_seconds()
    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(posters)))
    elapsed = time.perf_counter() - start
    cpu = target.server.cpu_seconds() - cpu_before
    statuses = dict(poster.statuses)
    ok = sum(count for status, count in statuses.items() if 200 <= status < 300)
    summary = summarise_ms(latencies)
    return {"target": target.key, "phase": name, "posters": posters, "posts": posts, "ok": ok,
            "non_2xx": posts - ok,
            "server_errors": sum(c for s, c in statuses.items() if s >= 500 or s == 0),
            "statuses": {str(status): count for status, count in sorted(statuses.items())},
            "p50_ms": summary["p50_ms"], "p95_ms": summary["p95_ms"],
            "p99_ms": summary["p99_ms"], "posts_per_s": posts / elapsed if elapsed > 0 else 0.0,
            "server_cpu_ms_per_post": cpu * 1000 / ok if ok else None,
            "server_cpu_share": cpu / elapsed if elapsed > 0 else 0.0,
            "elapsed_s": elapsed}  # fmt: skip


async def b5(target: Target, sizes: Sizes) -> list[dict[str, Any]]:
    assert target.rest_post is not None, f"{target.key} has no REST post"
    poster = HttpPoster(target, target.rest_post, connections=sizes.b5_posters)
    try:
        for index in range(5):  # unmeasured
            await poster.post(f"b5 warm-up {index}")
        return [
            await phase(target, poster, "sequential", sizes.b5_sequential, 1),
            await phase(target, poster, "concurrent", sizes.b5_concurrent, sizes.b5_posters),
        ]
    finally:
        await poster.close()


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
    n, per = len(times), (target.server.cpu_seconds() - cpu) * 1000 if target else None
    return {"target": key, "phase": "download", "bytes": sizes.b6_large_bytes, "posters": 1,
            "posts": n, "statuses": {str(status): n}, "non_2xx": 0 if status == 200 else n,
            **summarise_ms(times), "posts_per_s": n / sum(times),
            "mib_per_s": sizes.b6_large_bytes * n / sum(times) / MIB,
            "server_cpu_ms_per_post": per / n if per is not None else None,
            "client_cpu_share": (time.process_time() - client) / sum(times)}  # fmt: skip


async def b6(target: Target, sizes: Sizes, static: int | None) -> list[dict[str, Any]]:
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

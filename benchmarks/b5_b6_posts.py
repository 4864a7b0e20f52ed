"""B5 and B6: a bot's posts against the bare Django view, no listener attached. B5, a JSON
post, one at a time and from *posters* clients back to back: the worker's CPU per post,
p50/p99, posts/s, non-2xx. B6, attachments: a 5 MB upload against the bare view saving it to
the same kind of storage (``FileSystemStorage``; every server's ``MEDIA_ROOT`` and ``TMPDIR``
on one disk); 20 uploads of 20 MB at once and the worker's peak RSS (``VmHWM``, reset
first) over idle; a download of one against nginx serving the stored file (``sendfile``)."""

import asyncio
import contextlib
import gc
import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from benchmarks.client import HttpPoster, summarise_ms, wait_idle
from benchmarks.config import Sizes
from benchmarks.targets import HttpPost, Target
from tests.harness.process import ServerProcess


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
    cpu_before, client_before = target.server.cpu_seconds(), time.process_time()
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
            "client_cpu_share": (time.process_time() - client_before) / elapsed if elapsed > 0
            else 0.0, "elapsed_s": elapsed}  # fmt: skip


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
    assert target.rest_post is not None
    path = target.rest_post.path if target.family == "ours" else "/upload/"  # the bare view
    part = f"--{BOUNDARY}\r\nContent-Disposition: form-data; name="
    head = f'{part}"text"\r\n\r\nb6\r\n{part}"files"; filename="b6.pdf"\r\n\r\n%PDF-1.7\n'
    body = head.encode() + os.urandom(size - 9) + f"\r\n--{BOUNDARY}--\r\n".encode()
    return HttpPost(path, target.rest_post.headers, lambda _: body,
                    f"multipart/form-data; boundary={BOUNDARY}")  # fmt: skip


async def measured(
    target: Target, spec: HttpPost, name: str, count: int, at_once: int, size: int
) -> tuple[dict[str, Any], bytes]:
    """After one unmeasured, *count* requests, *at_once* at a time, as B5's phase, with MiB/s
    and the worker's RSS idle and at its peak; and the last answer."""
    poster, server = HttpPoster(target, spec, at_once), target.server
    try:
        await poster.post("")
        await wait_idle(target, limit=10)
        idle = server.rss_bytes()
        Path(f"/proc/{server.pid}/clear_refs").write_text("5")  # VmHWM := VmRSS
        row = await phase(target, poster, name, count, at_once)
        row |= {"bytes": size, "mib_per_s": row["posts_per_s"] * size / MIB,
                "rss_idle_bytes": idle, "rss_peak_bytes": server.peak_rss_bytes()}  # fmt: skip
        return row, poster.last
    finally:
        await poster.close()


async def b6(target: Target, sizes: Sizes, static: ServerProcess | None) -> list[dict[str, Any]]:
    """The upload and burst rows; for ours, a download of one of the burst's files, and
    nginx's (*static*) of the same stored file."""
    small, large, n, at_once = (sizes.b6_upload_bytes, sizes.b6_large_bytes, sizes.b6_downloads,
                                sizes.b6_burst)  # fmt: skip
    up, _ = await measured(target, upload(target, small), "upload", sizes.b6_uploads, 1, small)
    burst, answer = await measured(target, upload(target, large), "burst", at_once, at_once, large)
    if static is None or target.family != "ours":
        return [up, burst]
    attachment = json.loads(answer)["attachments"][0]
    with contextlib.closing(sqlite3.connect(target.server.env["SQLITE_PATH"])) as db:
        query = "SELECT stored_name FROM support_attachment WHERE id = ?"
        (stored,) = db.execute(query, (attachment["id"],)).fetchone()
    own = HttpPost(attachment["url"], upload(target, 9).headers[:1], lambda _: b"", method="GET")
    file = HttpPost(f"/files/{target.key}/{stored}", [[]], lambda _: b"", method="GET")
    nginx = Target("nginx", "nginx", "nginx", "nginx", "disk", static, "", file, frozenset())
    down, _ = await measured(target, own, "download", n, 1, large)
    beside, _ = await measured(nginx, file, "download", n, 1, large)
    beside |= {"beside": target.key, "server_cpu_ms_per_post": None, "rss_idle_bytes": None,
               "rss_peak_bytes": None}  # its workers' are not read  # fmt: skip
    return [up, down, beside, burst]

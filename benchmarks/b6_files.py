"""B6: attachments. A bot's 5 MB upload, one at a time, against the bare Django view that
saves the same body to the same kind of storage (``FileSystemStorage``; every server's
``MEDIA_ROOT`` and ``TMPDIR`` on one disk); a 20 MB download of the stored file against
nginx serving it (``sendfile on``); 20 uploads of 20 MB at once, and the worker's peak RSS
over idle (``VmHWM`` reset first, and sampled)."""

import asyncio
import json
import os
import time
from pathlib import Path
from statistics import median
from typing import Any

from benchmarks.b5_post import phase
from benchmarks.client import Headers, HttpConnection, HttpPoster, timed, wait_idle
from benchmarks.config import Sizes
from benchmarks.targets import HttpPost, Target
from tests.harness.nginx import NginxServer
from tests.harness.process import ServerProcess

BOUNDARY = "b6-" + os.urandom(12).hex()
MULTIPART, MIB = f"multipart/form-data; boundary={BOUNDARY}", 1 << 20


def multipart(size: int) -> bytes:
    """A ``text`` field and a ``files`` part of *size* random bytes that sniff as a PDF."""
    part = f"--{BOUNDARY}\r\nContent-Disposition: form-data; name="
    head = f'{part}"text"\r\n\r\nb6\r\n{part}"files"; filename="b6.pdf"\r\n\r\n%PDF-1.7\n'
    return head.encode() + os.urandom(size - 9) + f"\r\n--{BOUNDARY}--\r\n".encode()


def nginx(workdir: Path, files: Path, upstream: int) -> NginxServer:
    """deploy/nginx.conf, plus ``/files/`` serving *files* as a static server would."""
    static = f"    location /files/ {{ alias {files}/; sendfile on; tcp_nopush on; }}\n"
    return NginxServer(workdir, [upstream], extra_locations=static)


def upload(target: Target, body: bytes) -> HttpPost:
    assert target.upload_path is not None
    assert target.rest_post is not None
    return HttpPost(target.upload_path, target.rest_post.headers, lambda _: body, MULTIPART)


async def download(
    key: str, port: int, path: str, headers: Headers, sizes: Sizes, server: ServerProcess
) -> dict[str, Any]:
    """``b6_downloads`` GETs of *path* one after another (or ``b6_budget`` s' worth)."""
    connection = HttpConnection(port)
    try:
        await connection.request("GET", path, headers, keep=False)  # unmeasured
        cpu, client = server.cpu_seconds(), time.process_time()
        status, times = await timed(connection, path, headers, sizes.b6_downloads,
                                    sizes.b6_budget, keep=False)  # fmt: skip
    finally:
        connection.close()
    cpu, client = server.cpu_seconds() - cpu, time.process_time() - client
    return {"target": key, "phase": "download", "bytes": sizes.b6_large_bytes, "status": status,
            "downloads": len(times), "p50_ms": median(times) * 1000,
            "mib_per_s": sizes.b6_large_bytes * len(times) / sum(times) / MIB,
            "server_cpu_ms_per_post": cpu * 1000 / len(times) if key != "nginx" else None,
            "client_cpu_share": client / sum(times)}  # fmt: skip


async def burst(target: Target, body: bytes, sizes: Sizes) -> dict[str, Any]:
    """``b6_burst`` uploads of *body* at once: the worker's RSS idle and at its peak."""
    uploads, server = HttpPoster(target, upload(target, body), sizes.b6_burst), target.server
    await wait_idle(target, limit=10)
    idle = peak = server.rss_bytes()
    try:
        Path(f"/proc/{server.pid}/clear_refs").write_text("5")  # VmHWM := VmRSS
        reset = True
    except OSError:
        reset = False

    async def sample() -> None:
        nonlocal peak
        while True:
            peak = max(peak, server.rss_bytes())
            await asyncio.sleep(0.01)

    sampler = asyncio.create_task(sample())
    try:
        row = await phase(target, uploads, "burst", sizes.b6_burst, sizes.b6_burst)
    finally:
        sampler.cancel()
        await uploads.close()
    peak = max(peak, server.peak_rss_bytes()) if reset else peak
    return {**row, "bytes": len(body), "rss_idle_bytes": idle, "rss_peak_bytes": peak,
            "rss_after_bytes": server.rss_bytes(), "peak_from_vmhwm": reset}  # fmt: skip


async def run(target: Target, sizes: Sizes, static: NginxServer | None) -> list[dict[str, Any]]:
    """The upload row; for ours, a download row and nginx's on the same file; the burst."""
    small, large = multipart(sizes.b6_upload_bytes), multipart(sizes.b6_large_bytes)
    uploads = HttpPoster(target, upload(target, small))
    try:
        for _ in range(3):  # unmeasured
            await uploads.post("")
        row = await phase(target, uploads, "upload", sizes.b6_uploads, 1)
    finally:
        await uploads.close()
    rows = [{**row, "bytes": sizes.b6_upload_bytes}]
    if static is not None and target.family == "ours":
        connection, spec = HttpConnection(target.port), upload(target, large)
        try:
            status, answer = await connection.request(
                "POST", spec.path, spec.headers[0], large, content_type=MULTIPART
            )
        finally:
            connection.close()
        assert status == 201, answer[:300]
        attachment = json.loads(answer)["attachments"][0]
        media = Path(target.server.env["MEDIA_ROOT"])
        file = max((media / "support").glob("**/*.pdf"), key=lambda f: f.stat().st_mtime_ns)
        assert file.stat().st_size == attachment["size"], (file, attachment)
        await wait_idle(target, limit=10)
        rows.append(await download(target.key, target.port, attachment["url"], spec.headers[0],
                                   sizes, target.server))  # fmt: skip
        path = f"/files/{file.relative_to(media.parent)}"
        nginx_row = await download("nginx", static.port, path, [], sizes, static)
        rows.append({**nginx_row, "beside": target.key})
    rows.append(await burst(target, large, sizes))
    return rows

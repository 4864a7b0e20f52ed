"""The production-like stack on loopback: PostgreSQL, Redis, two ASGI workers, nginx.

Everything runs in temporary directories and is torn down afterwards. nginx
runs the project's own sample configuration (``deploy/nginx.conf``), with
only the upstream ports and the listen address rewritten, plus two
restrictive variants that behave like hostile corporate proxies.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from tests.live import ROOT, LiveServer, free_port, require_binary, wait_for_port

NginxMode = Literal["normal", "refuse-upgrade", "buffer"]
SAMPLE = ROOT / "deploy" / "nginx.conf"
SAMPLE_UPSTREAMS = "    server 127.0.0.1:8001;\n    server 127.0.0.1:8002;\n"

MAIN = """
{user}
worker_processes 1;
worker_rlimit_nofile 16384;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 8192; }}
http {{
    access_log {dir}/access.log;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    include {dir}/support.conf;
}}
"""


def render_site(upstream_ports: list[int], port: int, mode: NginxMode) -> str:
    """``deploy/nginx.conf`` for these ports, made hostile as *mode* says."""
    site = SAMPLE.read_text()
    if SAMPLE_UPSTREAMS not in site or "listen 80;" not in site:
        raise RuntimeError("deploy/nginx.conf changed shape; update render_site()")
    upstreams = "".join(f"    server 127.0.0.1:{p} max_fails=1 fail_timeout=2s;\n"
                        for p in upstream_ports)  # fmt: skip
    site = site.replace(SAMPLE_UPSTREAMS, upstreams).replace(
        "listen 80;", f"listen 127.0.0.1:{port};"
    )
    if mode in ("refuse-upgrade", "buffer"):
        # A proxy that will not carry WebSocket.
        site = site.replace("    location /ws/ {\n", "    location /ws/ {\n        return 403;\n")
    if mode == "buffer":
        # A proxy that buffers whole responses and ignores X-Accel-Buffering.
        site = site.replace(
            "        proxy_buffering off;\n",
            "        proxy_buffering on;\n"
            "        proxy_ignore_headers X-Accel-Buffering;\n"
            "        proxy_buffer_size 256k;\n"
            "        proxy_buffers 16 256k;\n"
            "        proxy_busy_buffers_size 512k;\n",
        )
        # And compresses, as many do: gzip holds output until its buffers fill,
        # whatever X-Accel-Buffering says, so a stream's first bytes never come.
        site = site.replace(
            "    location / {\n",
            "    proxy_buffering on;\n"
            "    gzip on;\n"
            "    gzip_types text/event-stream application/json;\n"
            "    gzip_min_length 0;\n"
            "    gzip_buffers 64 8k;\n"
            "    location / {\n",
        )
    return site


@dataclass
class NginxServer:
    workdir: Path
    upstream_ports: list[int]
    mode: NginxMode = "normal"
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api(self) -> str:
        return f"{self.base_url}/support/"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/support/"

    def start(self) -> NginxServer:
        binary = require_binary("nginx")
        directory = self.workdir / f"nginx-{self.mode}-{self.port}"
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "support.conf").write_text(
            render_site(self.upstream_ports, self.port, self.mode)
        )
        user = "user root;" if os.geteuid() == 0 else ""
        conf = directory / "nginx.conf"
        conf.write_text(MAIN.format(dir=directory, user=user))
        log = directory / "stdout.log"
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [binary, "-c", str(conf), "-p", str(directory)],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        wait_for_port(self.port, self.process, directory / "error.log")
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None


def peak_rss_mib(server: LiveServer) -> float:
    """The worker process's peak resident memory (VmHWM), in MiB."""
    assert server.process is not None
    for line in Path(f"/proc/{server.process.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def wait_until(predicate: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(predicate) and predicate():
            return
        time.sleep(0.1)
    raise TimeoutError("condition not met in time")

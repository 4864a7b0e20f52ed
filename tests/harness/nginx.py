"""nginx on loopback, running the project's own ``deploy/nginx.conf``.

Only the upstream ports and the listen address are rewritten; two
restrictive variants behave like hostile corporate proxies. Each instance
has its own folder (configuration, logs, temporary files) in the workdir.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Literal, Self

from tests.harness.process import ROOT, ServerProcess, free_port, require_binary

NginxMode = Literal["normal", "refuse-upgrade", "buffer"]
SAMPLE = ROOT / "deploy" / "nginx.conf"
SAMPLE_UPSTREAMS = (
    "    server 127.0.0.1:8001 max_fails=1 fail_timeout=5s;\n"
    "    server 127.0.0.1:8002 max_fails=1 fail_timeout=5s;\n"
)

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


def render_site(
    upstream_ports: list[int], port: int, mode: NginxMode, extra_locations: str = ""
) -> str:
    """``deploy/nginx.conf`` for these ports, made hostile as *mode* says.

    *extra_locations* (nginx ``location`` blocks) come before the catch-all
    ``location /``: files a test serves on the server's origin.
    """
    site = SAMPLE.read_text()
    if SAMPLE_UPSTREAMS not in site or "listen 80 backlog=2048;" not in site:
        raise RuntimeError("deploy/nginx.conf changed shape; update render_site()")
    upstreams = "".join(f"    server 127.0.0.1:{p} max_fails=1 fail_timeout=2s;\n"
                        for p in upstream_ports)  # fmt: skip
    site = site.replace(SAMPLE_UPSTREAMS, upstreams).replace(
        "listen 80 backlog=2048;", f"listen 127.0.0.1:{port} backlog=2048;"
    )
    if extra_locations:
        site = site.replace("    location / {\n", f"{extra_locations}\n    location / {{\n")
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


class NginxServer(ServerProcess):
    """``NginxServer(workdir, worker_ports, mode).start()``; stops gracefully (SIGQUIT)."""

    def __init__(
        self,
        workdir: Path,
        upstream_ports: list[int],
        mode: NginxMode = "normal",
        *,
        extra_locations: str = "",
    ):
        super().__init__(workdir, dict(os.environ), self._command, stop_signal=signal.SIGQUIT)
        self.upstream_ports = upstream_ports
        self.mode: NginxMode = mode
        self.extra_locations = extra_locations

    @property
    def directory(self) -> Path:
        return self.workdir / f"nginx-{self.mode}-{self.port}"

    @property
    def log(self) -> Path:
        return self.directory / "error.log"  # nginx's own log; its stdout goes there too

    def _command(self, port: int) -> list[str]:
        directory = self.directory
        directory.mkdir(parents=True, exist_ok=True)
        site = render_site(self.upstream_ports, port, self.mode, self.extra_locations)
        (directory / "support.conf").write_text(site)
        user = "user root;" if os.geteuid() == 0 else ""
        conf = directory / "nginx.conf"
        conf.write_text(MAIN.format(dir=directory, user=user))
        return [require_binary("nginx"), "-c", str(conf), "-p", str(directory)]

    def start(self, fresh_port: bool = False) -> Self:
        if fresh_port:
            self.port = free_port()
        self.directory.mkdir(parents=True, exist_ok=True)  # the log is opened first
        return super().start()

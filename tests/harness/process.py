"""Processes that listen on loopback: ports, missing tools, start, stop, ``/proc``.

Under pytest a missing tool (``redis-server``, nginx, PostgreSQL, Chromium)
skips the test, or fails it when ``CI=true``; elsewhere (the benchmarks) it
raises :class:`MissingTool`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, Self

ROOT = Path(__file__).resolve().parent.parent.parent
EXAMPLE = ROOT / "example"
CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

#: Builds a server's command line for the port it must listen on.
Command = Callable[[int], list[str]]


class MissingTool(RuntimeError):
    """A program the harness needs is not installed (outside pytest)."""


def missing(message: str) -> NoReturn:
    """A needed tool is absent: skip the test, fail it under ``CI=true``; outside pytest, raise."""
    if "pytest" in sys.modules:
        import pytest

        if CI:
            pytest.fail(message)
        pytest.skip(message)
    raise MissingTool(message)


def require_binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        missing(f"{name} is not installed (apt-get install -y {name})")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tail(path: Path, size: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-size:]
    except OSError:
        return "(no log)"


def holds_listener(pid: int, port: int) -> bool | None:
    """Whether process *pid* holds the socket listening on *port* (Linux ``/proc``; ``None``
    where that can't be read).

    A port from :func:`free_port` is free only when it is picked: another test's server
    (xdist runs several) can take it before ours binds, and a bare connect to it would
    then succeed while ours exits with "address in use".
    """
    listening: set[str] = set()
    try:
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            with open(table) as rows:
                next(rows)
                for row in rows:
                    fields = row.split()
                    if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                        listening.add(f"socket:[{fields[9]}]")
        fds = os.listdir(f"/proc/{pid}/fd")
    except (OSError, StopIteration, IndexError, ValueError):
        return None
    for fd in fds:
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/{pid}/fd/{fd}") in listening:
                return True
    return False


class PortTaken(RuntimeError):
    """The server could not listen: another process had its port."""


def wait_for_port(
    port: int,
    process: subprocess.Popen[Any] | None = None,
    log: Path | None = None,
    timeout: float = 30,
) -> None:
    """Return once *process* (or anyone, without one) listens on *port*; raise with the log's
    tail if it never does (:class:`PortTaken` when another process has the port)."""
    shown = "" if log is None else f":\n{tail(log)}"
    deadline = time.monotonic() + timeout
    taken = False
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            in_use = log is not None and "in use" in tail(log).lower()
            if taken or in_use:
                raise PortTaken(f"port {port} was taken by another process{shown}")
            raise RuntimeError(f"server exited early{shown}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                pass
        except OSError:
            time.sleep(0.1)
            continue
        if process is None or holds_listener(process.pid, port) is not False:
            return
        taken = True  # someone else answers there: wait for ours to listen, or to exit
        time.sleep(0.1)
    raise RuntimeError(f"server did not listen on {port}{shown}")


def run_manage(
    manage_py: Path,
    env: dict[str, str],
    *args: str,
    python: str = sys.executable,
    timeout: float = 120,
) -> str:
    """``python manage.py ARGS`` in the project's folder; its stdout, or RuntimeError."""
    result = subprocess.run(
        [python, str(manage_py), *args],
        cwd=manage_py.parent,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {args[0]} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


@dataclass
class ServerProcess:
    """One server process listening on a loopback port; its output goes to ``log``.

    ``start`` returns once the port accepts connections; ``stop`` sends
    ``stop_signal`` (or the given one) and kills after ``stop_timeout``. The
    readings (``rss_bytes`` …) come from ``/proc``, from outside the server.
    """

    workdir: Path
    env: dict[str, str]
    command: Command
    cwd: Path = ROOT
    name: str = ""  # the log's name; "server-PORT" by default
    port: int = field(default_factory=free_port)
    start_timeout: float = 30
    stop_timeout: float = 10
    stop_signal: int = signal.SIGTERM
    process: subprocess.Popen[bytes] | None = None
    _started: bool = field(default=False, repr=False)  # listened once: clients know the port

    def __post_init__(self) -> None:
        self.name = self.name or f"server-{self.port}"

    @property
    def log(self) -> Path:
        return self.workdir / f"{self.name}.log"

    @property
    def pid(self) -> int:
        assert self.process is not None, f"{self.name} is not running"
        return self.process.pid

    def start(self, fresh_port: bool = False) -> Self:
        """Start, and return once the port (a new one if *fresh_port*) accepts connections."""
        if fresh_port:
            self.port = free_port()
        for attempt in range(3):
            self.log.parent.mkdir(parents=True, exist_ok=True)
            with self.log.open("ab") as log:
                self.process = subprocess.Popen(
                    self.command(self.port),
                    cwd=self.cwd,
                    env=self.env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            try:
                wait_for_port(self.port, self.process, self.log, self.start_timeout)
            except PortTaken:
                # A port picked for this server, taken before it bound: pick another
                # (only while nobody knows the port yet: not on a restart).
                if attempt == 2 or (self._started and not fresh_port):
                    raise
                self.port = free_port()
                continue
            self._started = True
            return self
        raise AssertionError("unreachable: the last attempt returns or raises")

    def stop(self, sig: int | None = None) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(self.stop_signal if sig is None else sig)
            try:
                self.process.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None

    # -- where the example project answers, when this process serves it or proxies to it

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api(self) -> str:
        return f"{self.base_url}/support/"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/support/"

    def restart(self) -> None:
        self.stop()
        self.start()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    # -- readings from /proc -------------------------------------------------------

    def _status(self, key: str) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1])
        raise RuntimeError(f"no {key} for pid {self.pid}")

    def rss_bytes(self) -> int:
        """Resident memory now (``VmRSS``)."""
        return self._status("VmRSS") * 1024

    def peak_rss_bytes(self) -> int:
        """The highest resident memory so far (``VmHWM``)."""
        return self._status("VmHWM") * 1024

    def threads(self) -> int:
        return self._status("Threads")

    def open_files(self) -> int:
        try:
            return len(os.listdir(f"/proc/{self.pid}/fd"))
        except OSError:
            return -1

    def cpu_seconds(self) -> float:
        """User + system CPU time used so far (all threads)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        # After the ")" of the command name, utime and stime are fields 12 and 13.
        return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS

    def nofile_limit(self) -> int:
        for line in Path(f"/proc/{self.pid}/limits").read_text().splitlines():
            if line.startswith("Max open files"):
                return int(line.split()[3])
        return -1

"""Small helpers shared by the benchmarks: limits, ports, processes, statistics.

Everything here is measured from outside the servers (``/proc``), so the
same code measures our server, the original package and the baseline.
"""

from __future__ import annotations

import math
import os
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "example"
CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_STARTED = time.monotonic()


def say(message: str) -> None:
    """Progress on stderr, with the seconds since the run started."""
    sys.stderr.write(f"[bench {time.monotonic() - _STARTED:7.1f}s] {message}\n")
    sys.stderr.flush()


def raise_nofile_limit() -> int:
    """Raise this process's open-file limit to the hard limit; return it.

    10,000 connections need 10,000 descriptors on each side; children
    inherit the raised limit, so the servers we spawn get it too.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(
    port: int, process: subprocess.Popen[Any], log: Path, timeout: float = 60
) -> None:
    """Return once *port* accepts connections; raise with the log's tail if it never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{tail(log)}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server did not listen on {port}:\n{tail(log)}")


def tail(path: Path, size: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-size:]
    except OSError:
        return "(no log)"


def rss_bytes(pid: int) -> int:
    """Resident set size of *pid*, from ``/proc/PID/status`` (``VmRSS``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def thread_count(pid: int) -> int:
    """OS threads of *pid* (``Threads:`` in ``/proc/PID/status``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    return -1


def cpu_seconds(pid: int) -> float:
    """User + system CPU time *pid* has used so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # After the ")" of the command name, utime and stime are fields 12 and 13.
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of ascending *sorted_values* (``inf`` entries allowed)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def summarise_ms(samples: Sequence[float], missing: int = 0) -> dict[str, float]:
    """p50/p95/p99/max in milliseconds of latencies in seconds.

    *missing* deliveries count as infinitely late, so a run that loses 2 %
    of its events has an infinite p99: a percentile that ignored them would
    flatter exactly the servers that drop events.
    """
    values = sorted([s * 1000 for s in samples] + [math.inf] * missing)
    return {
        "p50_ms": percentile(values, 50),
        "p95_ms": percentile(values, 95),
        "p99_ms": percentile(values, 99),
        "max_ms": values[-1] if values else math.nan,
        "samples": len(values),
        "missing": missing,
    }


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2

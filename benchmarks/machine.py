"""What the numbers were measured on: CPU, memory, load, versions."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = (
    "Django", "channels", "daphne", "Twisted", "autobahn", "uvicorn", "uvloop", "httptools",
    "websockets", "djangorestframework", "django-eventstream", "channels-redis", "redis",
    "psycopg", "asgiref", "chatlabs-django-support",
)  # fmt: skip


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _first_line(command: list[str]) -> str | None:
    if shutil.which(command[0]) is None and not Path(command[0]).exists():
        return None
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)
    except OSError:
        return None
    return (
        (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr) else None
    )


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _mem_total() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return 0


def git_commit(root: Path) -> str | None:
    """The checked-out commit, read from ``.git`` (no git command needed)."""
    git = root / ".git"
    try:
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head
        ref = head[5:]
        if (git / ref).exists():
            return (git / ref).read_text().strip()
        for line in (git / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref):
                return line.split()[0]
    except OSError:
        return None
    return None


def describe() -> dict[str, Any]:
    pg = None
    try:
        from tests.pgserver import find_pg_bin

        bin_dir = find_pg_bin()
        if bin_dir is not None:
            pg = _first_line([str(bin_dir / "postgres"), "--version"])
    except ImportError:
        pass
    return {
        "commit": git_commit(Path(__file__).resolve().parent.parent),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)),
        "memory_bytes": _mem_total(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "loadavg_start": os.getloadavg(),
        "packages": {name: _version(name) for name in PACKAGES},
        "postgresql": pg,
        "redis": _first_line(["redis-server", "--version"]),
    }

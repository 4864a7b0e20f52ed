"""Start a throwaway PostgreSQL cluster for the test suite.

The cluster lives in a fresh temporary directory, listens on ``127.0.0.1`` on a
free port (plus a unix socket inside the temporary directory), trusts every
local connection and runs with ``fsync=off``: fast, and only good for tests.
It is stopped and deleted when the ``with`` block ends.

As a library::

    from tests.harness.postgres import running_postgres

    with running_postgres() as url:  # postgres://postgres@127.0.0.1:PORT/postgres
        ...

From the command line, run a command with ``DATABASE_URL`` pointing at a new
cluster; the exit code is the command's::

    python -m tests.pgserver -- pytest -x

Without PostgreSQL server binaries the command line prints that it skipped and
exits 0, except when ``CI=true``: there it fails with exit code 1, because on CI
a test that needs PostgreSQL must fail when it is missing, never skip.

PostgreSQL refuses to run as root; when this runs as root, ``initdb`` and
``pg_ctl`` run as the ``postgres`` system user, which must exist.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from tests.harness.process import CI, free_port, missing, wait_for_port

__all__ = [
    "PostgresCluster",
    "PostgresError",
    "create_database",
    "find_pg_bin",
    "main",
    "require_postgres",
    "running_cluster",
    "running_postgres",
]

#: Where Debian and Ubuntu install the server binaries, one folder per major version.
DEBIAN_PG_ROOT = Path("/usr/lib/postgresql")
_REQUIRED = ("initdb", "pg_ctl", "postgres")


class PostgresError(RuntimeError):
    """The throwaway cluster could not be created, started or stopped."""


def _has_server_binaries(directory: Path) -> bool:
    return all(os.access(directory / name, os.X_OK) for name in _REQUIRED)


def _version_key(directory: Path) -> tuple[int, ...]:
    # /usr/lib/postgresql/15/bin -> (15,); non-numeric names sort first.
    return tuple(int(part) for part in re.findall(r"\d+", directory.parent.name))


def find_pg_bin() -> Path | None:
    """Return the folder holding ``initdb``, ``pg_ctl`` and ``postgres``, or None.

    ``PATH`` wins; otherwise the newest ``/usr/lib/postgresql/*/bin``.
    """
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl is not None:
        directory = Path(pg_ctl).resolve().parent
        if _has_server_binaries(directory):
            return directory
    candidates = [d for d in DEBIAN_PG_ROOT.glob("*/bin") if _has_server_binaries(d)]
    if not candidates:
        return None
    return max(candidates, key=_version_key)


def require_postgres() -> Path:
    """The server binaries' folder; without them the test skips (fails under ``CI=true``)."""
    bin_dir = find_pg_bin()
    if bin_dir is None:
        missing("PostgreSQL server binaries not found (initdb, pg_ctl)")
    return bin_dir


def _run_as_kwargs(tmp: Path) -> dict[str, Any]:
    """Arguments for ``subprocess.run`` that drop root to the ``postgres`` user."""
    if os.geteuid() != 0:
        return {}
    import pwd  # POSIX only; PostgreSQL under root only happens there.

    try:
        user = pwd.getpwnam("postgres")
    except KeyError:
        raise PostgresError(
            "running as root, and PostgreSQL refuses to: create a 'postgres' system user "
            "(it comes with the postgresql packages) or run as another user"
        ) from None
    os.chown(tmp, user.pw_uid, user.pw_gid)
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


def _run(cmd: Sequence[str | Path], what: str, log: Path | None, **kwargs: Any) -> None:
    result = subprocess.run(
        [str(part) for part in cmd],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
        **kwargs,
    )
    if result.returncode != 0:
        details = result.stdout.strip()
        if log is not None and log.exists():
            details += "\n--- server log ---\n" + log.read_text(errors="replace")[-4000:]
        raise PostgresError(f"{what} failed (exit {result.returncode}):\n{details}")


class PostgresCluster:
    """A throwaway cluster that a test can stop, start and restart (the outage tests do).

    :func:`running_postgres` makes one, starts it and removes it afterwards;
    ``url`` names the ``postgres`` superuser and database on its port, which
    stays the same across restarts.
    """

    def __init__(self, bin_dir: Path, tmp: Path, timeout: float) -> None:
        self.bin_dir = bin_dir
        self.tmp = tmp
        self.data = tmp / "data"
        self.log = tmp / "server.log"
        self.port = 0
        self.running = False
        env = {**os.environ, "LC_ALL": "C", "LANG": "C", "TZ": "UTC"}
        env.pop("PGDATA", None)
        self._kwargs: dict[str, Any] = {"cwd": tmp, "env": env, "timeout": timeout}
        self._timeout = timeout

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def create(self) -> None:
        self._kwargs.update(_run_as_kwargs(self.tmp))
        _run(
            [
                self.bin_dir / "initdb",
                "--pgdata", self.data,
                "--username", "postgres",
                "--auth", "trust",  # local socket and host 127.0.0.1/::1 alike
                "--encoding", "UTF8",
                "--no-locale",
                "--no-sync",
            ],
            "initdb",
            None,
            **self._kwargs,
        )  # fmt: skip
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                "\n# tests/harness/postgres.py: throwaway cluster, durability off\n"
                "listen_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.tmp}'\n"
                "fsync = off\n"
                "synchronous_commit = off\n"
                "full_page_writes = off\n"
                "max_connections = 200\n"
            )

    def start(self) -> None:
        """Start on a free port the first time, on the same port afterwards."""
        deadline = time.monotonic() + self._timeout
        for attempt in range(3):  # another process may grab the port first
            if not self.port:
                self.port = free_port()
                with (self.data / "postgresql.conf").open("a") as conf:
                    conf.write(f"port = {self.port}\n")  # the last setting wins
            try:
                self._pg_ctl(
                    "start", "--log", self.log, "--wait", "--timeout", str(int(self._timeout))
                )
            except PostgresError:
                if attempt == 2 or "could not bind" not in self.log.read_text(errors="replace"):
                    raise
                self.port = 0
                continue
            self.running = True
            break
        try:
            wait_for_port(self.port, timeout=max(deadline - time.monotonic(), 1.0))
        except RuntimeError as exc:
            msg = f"PostgreSQL did not accept connections on port {self.port}"
            raise PostgresError(msg) from exc

    def stop(self, mode: str = "fast") -> None:
        """``pg_ctl stop``: ``fast`` ends every session ("terminating connection due to
        administrator command"), ``immediate`` kills the server."""
        if not self.running:
            return
        try:
            self._pg_ctl("stop", "--mode", mode, "--wait")
        except (PostgresError, subprocess.TimeoutExpired):
            self._pg_ctl("stop", "--mode", "immediate")
        self.running = False

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()

    def _pg_ctl(self, *args: str | Path) -> None:
        what = f"pg_ctl {args[0]}"
        _run([self.bin_dir / "pg_ctl", args[0], "--pgdata", self.data, *args[1:]], what,
             self.log, **self._kwargs)  # fmt: skip


@contextlib.contextmanager
def running_cluster(
    bin_dir: Path | None = None, *, timeout: float = 60.0
) -> Iterator[PostgresCluster]:
    """Run a throwaway PostgreSQL cluster; yield it (``url``, ``stop``, ``start``, ``restart``).

    ``bin_dir`` defaults to :func:`find_pg_bin`. Raises :class:`PostgresError`
    when there are no binaries or the cluster does not come up within
    ``timeout`` seconds.
    """
    bin_dir = bin_dir or find_pg_bin()
    if bin_dir is None:
        raise PostgresError(
            "no PostgreSQL server binaries (initdb, pg_ctl, postgres) on PATH "
            f"or in {DEBIAN_PG_ROOT}/*/bin"
        )
    cluster = PostgresCluster(bin_dir, Path(tempfile.mkdtemp(prefix="pgserver-")), timeout)
    try:
        cluster.create()
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(cluster.tmp, ignore_errors=True)


@contextlib.contextmanager
def running_postgres(bin_dir: Path | None = None, *, timeout: float = 60.0) -> Iterator[str]:
    """Run a throwaway PostgreSQL cluster; yield its ``postgres://`` URL.

    The URL names the ``postgres`` superuser and database; Django's test runner
    creates its own ``test_postgres`` database next to it. ``bin_dir`` defaults
    to :func:`find_pg_bin`. Raises :class:`PostgresError` when there are no
    binaries or the cluster does not come up within ``timeout`` seconds.
    """
    with running_cluster(bin_dir, timeout=timeout) as cluster:
        yield cluster.url


def create_database(url: str, name: str) -> str:
    """Create (or recreate) database *name* on the cluster at *url*; return its URL."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')
    return url.rsplit("/", 1)[0] + f"/{name}"


def _raise_exit(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tests.pgserver -- CMD ARGS...``: run CMD against a new cluster."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "--":
        args = args[1:]
    if not args or args[0] in {"-h", "--help"}:
        print("usage: python -m tests.pgserver -- CMD [ARGS...]", file=sys.stderr)
        print(__doc__, file=sys.stderr)
        return 0 if args else 2
    bin_dir = find_pg_bin()
    if bin_dir is None:
        where = f"PATH or {DEBIAN_PG_ROOT}/*/bin"
        if CI:
            print(
                f"pgserver: ERROR: no PostgreSQL server binaries in {where}; "
                "CI=true, so the PostgreSQL tests fail instead of skipping. "
                "Install them (Debian: apt-get install postgresql).",
                file=sys.stderr,
            )
            return 1
        print(
            f"pgserver: SKIPPED {' '.join(args)!r}: no PostgreSQL server binaries in {where}",
            file=sys.stderr,
        )
        return 0
    signal.signal(signal.SIGTERM, _raise_exit)
    try:
        with running_postgres(bin_dir) as url:
            print(f"pgserver: PostgreSQL from {bin_dir} at {url}", file=sys.stderr, flush=True)
            try:
                code = subprocess.run(args, env={**os.environ, "DATABASE_URL": url}).returncode
            except FileNotFoundError:
                print(f"pgserver: command not found: {args[0]}", file=sys.stderr)
                return 127
    except PostgresError as exc:
        print(f"pgserver: ERROR: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return code if code >= 0 else 128 - code  # killed by a signal: 128 + signum


if __name__ == "__main__":
    sys.exit(main())

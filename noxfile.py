"""Test, lint, type-check and package checks for chatlabs-django-support.

``make test`` runs every session below; ``nox -l`` lists them, ``nox -s lint``
runs one, and ``nox -s tests -- -x -k botkeys`` hands arguments to pytest
(``-- -n 0`` runs pytest in one process, for ``-s`` or ``--pdb``).

On CI (``CI=true``) a missing Python interpreter is an error; locally those
sessions are skipped. A missing system tool (PostgreSQL, redis-server, nginx,
chromium, gettext) fails the session that needs it, naming it and its package;
``nox -s preflight`` checks them all (``make test`` runs it first).

Virtualenvs are made with uv when it is there, pytest runs on every CPU
(pytest-xdist), and each session's install, run and CPU seconds are written
to ``.nox/timings.json``.
"""

from __future__ import annotations

import json
import os
import runpy
import shutil
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import nox

CI = os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}
ROOT = Path(__file__).resolve().parent

nox.needs_version = ">=2024.10.9"
nox.options.error_on_missing_interpreters = CI
nox.options.reuse_existing_virtualenvs = not CI
nox.options.download_python = "never"  # offline machines; use the interpreters present
# uv creates the virtualenvs and installs into them (seconds instead of a minute
# per session); without uv, nox falls back to virtualenv and pip.
nox.options.default_venv_backend = "uv|virtualenv"
# uv does not read pip's configuration: give it the indexes pip is configured with.
os.environ.update(runpy.run_path(str(ROOT / ".ci" / "pip_indexes.py"))["uv_environment"]())
nox.options.sessions = [
    "lint",
    "typecheck",
    "tests",
    "tests_postgres",
    "console",
    "integration",
    "build",
]
# Per-session result and duration; .ci/run fails unless every session succeeded.
(ROOT / ".nox").mkdir(exist_ok=True)
nox.options.report = str(ROOT / ".nox" / "report.json")

PYTHONS = ["3.11", "3.12", "3.13"]
DJANGOS = ["5.2", "6.0", "6.1"]


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def supported(python: str, django: str) -> bool:
    """Django 6.x needs Python 3.12 or newer."""
    return not (_version(django) >= (6,) and _version(python) < (3, 12))


MATRIX = [
    nox.param(python, django, id=f"{python}-django{django}")
    for python in PYTHONS
    for django in DJANGOS
    if supported(python, django)
]
NEWEST_PYTHON, NEWEST_DJANGO = PYTHONS[-1], DJANGOS[-1]
#: The live-server tests (real daphne, Redis, PostgreSQL, the bot as a process) run
#: once, on the oldest pair; the newest pair meets real servers in console and
#: integration.
LIVE_PAIRS = {(PYTHONS[0], DJANGOS[0])}


def _on_path(name: str) -> Callable[[], bool]:
    return lambda: shutil.which(name) is not None


def _postgres() -> bool:
    # As tests/harness/postgres.py looks: pg_ctl on PATH, else Debian's /usr/lib/postgresql/*/bin.
    return shutil.which("pg_ctl") is not None or any(
        Path("/usr/lib/postgresql").glob("*/bin/initdb")
    )


#: The system tools the sessions need: how to tell one is there, and its Debian package.
TOOLS: dict[str, tuple[Callable[[], bool], str]] = {
    "PostgreSQL": (_postgres, "postgresql-15"),
    "redis-server": (_on_path("redis-server"), "redis-server"),
    "nginx": (_on_path("nginx"), "nginx"),
    "chromium": (lambda: os.access("/usr/bin/chromium", os.X_OK), "chromium"),
    "gettext": (_on_path("msgfmt"), "gettext"),
}


def missing_tools(*names: str) -> str | None:
    """``missing: nginx (apt-get install nginx)``, or None when all are there."""
    missing = [name for name in names if not TOOLS[name][0]()]
    if not missing:
        return None
    packages = " ".join(TOOLS[name][1] for name in missing)
    return f"missing: {', '.join(missing)} (apt-get install {packages})"


def require_tools(session: nox.Session, *names: str) -> None:
    """Fail the session, naming what is missing: a missing tool never skips a session."""
    message = missing_tools(*names)
    if message:
        session.error(message)


@nox.session(python=False)
def preflight(session: nox.Session) -> None:
    """Check that every system tool `make test` needs is installed; name the missing ones."""
    require_tools(session, *TOOLS)
    session.log(f"present: {', '.join(TOOLS)}")


#: Per session: seconds spent installing and in the session's body, and the CPU
#: seconds its commands used (children's user + system time; on a shared machine
#: that is the steadier figure). .ci/run prints them next to nox's durations.
TIMINGS = ROOT / ".nox" / "timings.json"


def _children_cpu() -> float:
    times = os.times()  # of the waited-for child processes and their descendants
    return times.children_user + times.children_system


def _record(session: nox.Session, **seconds: float) -> None:
    try:
        timings = json.loads(TIMINGS.read_text())
    except (OSError, ValueError):
        timings = {}
    timings.setdefault(session.name, {}).update({k: round(v, 1) for k, v in seconds.items()})
    TIMINGS.write_text(json.dumps(timings, indent=1, sort_keys=True))


@contextmanager
def timed(session: nox.Session) -> Iterator[None]:
    """Log and record how long the session's body took (venv creation excluded)."""
    start, cpu = time.monotonic(), _children_cpu()
    try:
        yield
    finally:
        body, cpu = time.monotonic() - start, _children_cpu() - cpu
        session.log(f"{session.name} took {body:.0f}s ({cpu:.0f}s CPU in its commands)")
        _record(session, body=body, cpu=cpu)


def install(session: nox.Session, *args: str) -> None:
    """``session.install``, timed."""
    start = time.monotonic()
    session.install(*args)
    _record(session, install=time.monotonic() - start)


def install_project(session: nox.Session, django: str | None = None) -> None:
    # `django~=6.1.0` means >=6.1.0,<6.2: the newest patch release of that series.
    pins = [f"django~={django}.0"] if django else []
    install(session, "-e", ".[dev]", *pins)
    session.run("python", "-m", "django", "--version")


def pytest_args(session: nox.Session) -> list[str]:
    """pytest on every CPU (pytest-xdist; tests/conftest.py keeps the tests that share
    a server in one worker), listing the slowest tests."""
    # pytest exits 5 when it collects nothing; nox fails the session on it.
    return ["pytest", "-n", "auto", "--dist", "loadgroup", "--durations", "10", *session.posargs]


@nox.session
@nox.parametrize(("python", "django"), MATRIX)
def tests(session: nox.Session, django: str) -> None:
    """The test suite on SQLite, for each supported Python x Django pair."""
    with timed(session):
        # The live-server tests start real servers: once (LIVE_PAIRS), to keep CI
        # inside its budget.
        live = (str(session.python), django) in LIVE_PAIRS
        if live:
            require_tools(session, "PostgreSQL", "redis-server")
        install_project(session, django)
        marks = "not integration and not browser"
        if not live:
            marks += " and not live"
        session.run(*pytest_args(session), "-m", marks, env={"DATABASE_URL": None})


@nox.session(python=NEWEST_PYTHON)
def tests_postgres(session: nox.Session) -> None:
    """The test suite on a throwaway PostgreSQL cluster (tests/pgserver.py).

    Not the live-server tests: their servers keep their own databases (SQLite,
    or a PostgreSQL of their own), so here they would repeat, on the same Python
    and Django, what tests on the newest pair already ran."""
    with timed(session):
        require_tools(session, "PostgreSQL")
        install_project(session, NEWEST_DJANGO)
        session.run(
            "python",
            "-m",
            "tests.pgserver",
            "--",
            *pytest_args(session),
            "-m",
            "not integration and not browser and not live",
        )


@nox.session(python=NEWEST_PYTHON)
def console(session: nox.Session) -> None:
    """The manager console in headless Chromium (Debian's ``/usr/bin/chromium``), with nginx."""
    with timed(session):
        require_tools(session, "chromium", "nginx")
        install_project(session, NEWEST_DJANGO)
        session.run(*pytest_args(session), "-m", "browser", env={"DATABASE_URL": None})


@nox.session(python=NEWEST_PYTHON)
def integration(session: nox.Session) -> None:
    """The production-like stack (PostgreSQL, Redis, two workers, nginx), load, fuzzing,
    and the benchmark smoke run: once, on the newest Python and Django."""
    with timed(session):
        require_tools(session, "PostgreSQL", "redis-server", "nginx")
        install_project(session, NEWEST_DJANGO)
        # -rP: what passed tests printed (the load test's timings and memory); under
        # xdist, -s would lose it.
        session.run(*pytest_args(session), "-m", "integration", "-rP", env={"DATABASE_URL": None})


@nox.session(python=PYTHONS[0])
def lint(session: nox.Session) -> None:
    """ruff: lint rules and formatting; the compiled translations match their sources."""
    with timed(session):
        require_tools(session, "gettext")
        install(session, "ruff>=0.6")
        session.run("ruff", "check", ".")
        session.run("ruff", "format", "--check", "--diff", ".")
        check_translations(session)


def check_translations(session: nox.Session) -> None:
    """Each committed ``.mo`` holds what msgfmt compiles from the ``.po`` next to it."""
    import gettext

    def catalog(path: Path) -> dict[object, str]:
        with path.open("rb") as f:
            return dict(gettext.GNUTranslations(f)._catalog)  # type: ignore[attr-defined]

    tmp = Path(session.create_tmp()).resolve()
    sources = sorted(ROOT.glob("support/locale/*/LC_MESSAGES/*.po"))
    for po in sources:
        mo, fresh = po.with_suffix(".mo"), tmp / f"{po.parent.parent.name}-{po.stem}.mo"
        session.run("msgfmt", "--check", "-o", str(fresh), str(po), external=True)
        if not mo.exists() or catalog(mo) != catalog(fresh):
            session.error(
                f"{mo.relative_to(ROOT)} is not compiled from {po.name}: run "
                f"`cd support && django-admin compilemessages`"
            )
    session.log(f"{len(sources)} translation(s) compiled and up to date")


@nox.session(python=NEWEST_PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict (settings in pyproject.toml) over the app and the tests."""
    with timed(session):
        install_project(session)
        session.run(
            "mypy",
            "support",
            "support_client",
            "tests",
            "example/telegram_bot.py",
            *session.posargs,
        )


@nox.session(python=PYTHONS[0])
def build(session: nox.Session) -> None:
    """Build sdist + wheel, check them, install the wheel alone and run the example on it."""
    with timed(session):
        uv = session.venv_backend == "uv"  # else virtualenv and pip
        install(session, "build[uv]" if uv else "build", "twine")
        tmp = Path(session.create_tmp()).resolve()
        dist = tmp / "dist"
        shutil.rmtree(dist, ignore_errors=True)
        installer = ["--installer", "uv"] if uv else []
        session.run("python", "-m", "build", *installer, "--outdir", str(dist), str(ROOT))
        artifacts = sorted(dist.iterdir())
        session.run("twine", "check", "--strict", *map(str, artifacts))

        wheels = [p for p in artifacts if p.suffix == ".whl"]
        if len(wheels) != 1:
            session.error(f"expected one wheel in {dist}, found {[p.name for p in artifacts]}")
        wheel = wheels[0]
        with zipfile.ZipFile(wheel) as zf:
            names = set(zf.namelist())
        for needed in (
            "support/py.typed",
            "support/migrations/__init__.py",
            "support/templates/support/console.html",
            "support/static/support/console/console.js",
            "support_client/py.typed",
        ):
            if needed not in names:
                session.error(f"{wheel.name} lacks {needed}")
        tops = {name.split("/")[0] for name in names}
        ours = {"support", "support_client"}
        leaked = sorted(top for top in tops if top not in ours and not top.endswith(".dist-info"))
        if leaked:
            session.error(f"{wheel.name} ships more than the support package: {leaked}")

        # A fresh venv with only the wheel: no editable install, no source tree on sys.path.
        venv = tmp / "wheel-venv"
        shutil.rmtree(venv, ignore_errors=True)
        bindir = venv / ("Scripts" if sys.platform == "win32" else "bin")
        python = str(bindir / "python")
        if uv:
            base = str(Path(session.bin) / "python")  # this session's Python
            session.run("uv", "venv", "--quiet", "--python", base, str(venv))
            session.run("uv", "pip", "install", "--quiet", "--python", python, str(wheel))
        else:
            session.run("python", "-m", "venv", str(venv))
            session.run(python, "-m", "pip", "install", "--quiet", str(wheel), external=True)

        example = tmp / "example"
        shutil.rmtree(example, ignore_errors=True)
        shutil.copytree(
            ROOT / "example",
            example,
            ignore=shutil.ignore_patterns("__pycache__", "*.sqlite3"),
        )
        sqlite = tmp / "example.sqlite3"
        sqlite.unlink(missing_ok=True)
        env: dict[str, str | None] = {
            "PYTHONPATH": None,  # nothing from the checkout
            "DATABASE_URL": None,  # SQLite, at SQLITE_PATH
            "REDIS_URL": None,
            "SQLITE_PATH": str(sqlite),
            "DJANGO_SETTINGS_MODULE": "example.settings",
        }
        with session.chdir(example):
            where = f"import support as s; print(s.__file__); assert {str(venv)!r} in s.__file__"
            session.run(python, "-c", where, external=True, env=env)
            session.run(python, "manage.py", "check", external=True, env=env)
            session.run(python, "manage.py", "migrate", "--noinput", external=True, env=env)
            session.run(python, "manage.py", "demo", "--no-serve", external=True, env=env)
            serve_and_fetch(session, python, env, "/support/schema/?format=json")
            serve_and_fetch(session, python, env, "/static/support/console/console.js")


def serve_and_fetch(
    session: nox.Session, python: str, env: dict[str, str | None], path: str
) -> None:
    """Serve the example with daphne from the wheel's venv and GET *path* from it."""
    import socket
    import subprocess
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    full_env = {k: v for k, v in {**os.environ, **env}.items() if v is not None}
    # The backlog docs/deployment.md starts daphne with (Twisted's own is 50).
    endpoint = f"tcp:port={port}:interface=127.0.0.1:backlog=2048"
    server = subprocess.Popen(
        [python, "-m", "daphne", "-e", endpoint, "example.asgi:application"], env=full_env
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as reply:
                    session.log(f"GET {path}: {reply.status}, {len(reply.read())} bytes")
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    session.error(f"the example did not answer GET {path} under daphne")
                time.sleep(0.3)
    finally:
        server.terminate()
        server.wait(10)

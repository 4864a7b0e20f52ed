"""Hand pip's configured package indexes to uv, which does not read pip's configuration.

pip takes ``index-url``, ``extra-index-url`` and ``find-links`` from its
configuration files (``/etc/pip.conf``, ``~/.config/pip/pip.conf``, ...,
``PIP_CONFIG_FILE``) and from ``PIP_*`` variables; uv reads only ``UV_*``
variables and ``uv.toml``. :func:`uv_environment` returns the ``UV_*`` variables
that give uv the same sources; a ``UV_*`` variable that is already set wins.
With extra indexes it also asks uv for pip's rule (the best version across
all indexes, ``UV_INDEX_STRATEGY=unsafe-best-match``): uv's default takes a
package only from the first index that has it, so a mirror holding one old
Django would hide every newer one.

The noxfile applies it to its own environment (nox's uv backend runs
``uv pip install``); the Makefile runs ``python3 .ci/pip_indexes.py uv pip
install ...``, which runs the command with these variables added.
"""

from __future__ import annotations

import configparser
import os
import sys
from collections.abc import Mapping
from pathlib import Path

#: pip option -> uv variable, and how uv separates several values.
OPTIONS = {
    "index-url": ("UV_INDEX_URL", " "),
    "extra-index-url": ("UV_EXTRA_INDEX_URL", " "),
    "find-links": ("UV_FIND_LINKS", ","),
}


def pip_config_files(environ: Mapping[str, str]) -> list[Path]:
    """pip's configuration files on POSIX, lowest precedence first."""
    named = environ.get("PIP_CONFIG_FILE")
    if named == os.devnull:
        return []
    xdg_dirs = environ.get("XDG_CONFIG_DIRS") or "/etc/xdg"
    files = [Path(d) / "pip" / "pip.conf" for d in reversed(xdg_dirs.split(os.pathsep)) if d]
    files.append(Path("/etc/pip.conf"))
    home = Path(environ.get("HOME") or Path.home())
    files.append(home / ".pip" / "pip.conf")
    files.append(Path(environ.get("XDG_CONFIG_HOME") or home / ".config") / "pip" / "pip.conf")
    if named:
        files.append(Path(named))
    return files


def pip_options(environ: Mapping[str, str]) -> dict[str, list[str]]:
    """``index-url``, ``extra-index-url``, ``find-links`` as pip would see them."""
    found: dict[str, list[str]] = {}
    for path in pip_config_files(environ):
        parser = configparser.RawConfigParser()
        try:
            parser.read(path, encoding="utf-8")
        except (OSError, configparser.Error):
            continue
        for section in ("global", "install"):  # [install] overrides [global]
            if parser.has_section(section):
                for option in OPTIONS:
                    if parser.has_option(section, option):
                        found[option] = parser.get(section, option).split()
    for option in OPTIONS:  # PIP_EXTRA_INDEX_URL and so on win over files
        value = environ.get("PIP_" + option.upper().replace("-", "_"))
        if value is not None:
            found[option] = value.split()
    return found


def uv_environment(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The ``UV_*`` variables that point uv at pip's indexes (those not set already)."""
    if any(environ.get(flag) for flag in ("PIP_NO_INDEX", "UV_NO_INDEX")):
        return {}
    found = pip_options(environ)
    extra: dict[str, str] = {}
    for option, (variable, separator) in OPTIONS.items():
        if found.get(option) and variable not in environ:
            extra[variable] = separator.join(found[option])
    if (found.get("extra-index-url") or found.get("find-links")) and (
        "UV_INDEX_STRATEGY" not in environ
    ):
        extra["UV_INDEX_STRATEGY"] = "unsafe-best-match"
    return extra


def main(argv: list[str]) -> int:
    """``python3 .ci/pip_indexes.py CMD ARGS...``: run CMD with uv pointed at pip's indexes;
    with no command, print the variables."""
    extra = uv_environment()
    if not argv:
        for name, value in sorted(extra.items()):
            sys.stdout.write(f"{name}={value}\n")
        return 0
    os.execvpe(argv[0], argv, {**os.environ, **extra})


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

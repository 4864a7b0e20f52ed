"""The 1.2.0 package itself, fetched from the package index at test time.

Its files are never copied into this repository: a test unpacks the wheel
into a temporary folder and serves or reads them from there. pip is asked
for it, with whatever index pip is configured with; the test virtualenv may
have no pip of its own (uv makes it), so the base interpreter's is used then.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from tests.harness.process import missing

PACKAGE = "chatlabs-django-support"
VERSION = "1.2.0"


def _pip() -> list[str]:
    for python in (sys.executable, getattr(sys, "_base_executable", sys.executable)):
        probe = subprocess.run([python, "-m", "pip", "--version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return [python, "-m", "pip"]
    missing("pip is needed to fetch chatlabs-django-support 1.2.0 from the package index")


def unpack_v1(folder: Path) -> Path:
    """Download the 1.2.0 wheel into *folder*, unpack it there; the path of its ``support``."""
    result = subprocess.run(
        [*_pip(), "download", "--quiet", "--disable-pip-version-check", "--no-deps",
         "--only-binary=:all:", "--dest", str(folder), f"{PACKAGE}=={VERSION}"],
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    wheels = sorted(folder.glob(f"chatlabs_django_support-{VERSION}-*.whl"))
    if result.returncode != 0 or not wheels:
        raise RuntimeError(f"could not download {PACKAGE}=={VERSION}:\n{result.stderr[-2000:]}")
    unpacked = folder / "wheel"
    with zipfile.ZipFile(wheels[0]) as wheel:
        wheel.extractall(unpacked)
    return unpacked / "support"

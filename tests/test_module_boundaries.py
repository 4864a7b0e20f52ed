"""Which module may import which: the REST API stands apart from the realtime transports."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_rest_api_imports_nothing_of_the_realtime_package():
    code = (
        "import sys, django\n"
        "django.setup()\n"
        "import support.api.urls, support.api.views\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('support.realtime'))\n"
        "assert not loaded, loaded\n"
        "import support.urls\n"  # which mounts the API and the event streams together
        "assert 'support.realtime.longpoll' in sys.modules\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env=env)

"""``support_client`` stands apart: it never imports Django or the server app."""

from __future__ import annotations

import subprocess
import sys


def test_a_fresh_interpreter_importing_the_sdk_loads_no_django():
    code = (
        "import sys, support_client, support_client.types\n"
        "from support_client import SupportClient, AsyncSupportClient\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in {'django', 'support'})\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env={"PATH": ""})


def test_the_sdk_and_the_app_report_one_version():
    # Written once (support/version.py); the SDK reads it from the installed distribution.
    import support
    import support_client

    assert support_client.__version__ == support.__version__

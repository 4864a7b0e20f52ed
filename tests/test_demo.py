"""``manage.py demo`` (what ``make demo`` runs): migrated, demo data, working credentials.

Run as the README's demo command runs it, in a subprocess on the example
project's embedded defaults (a SQLite file of its own here), with
``--no-serve`` so it sets up, prints and exits.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.harness.process import EXAMPLE, run_manage
from tests.harness.server import server_env

MANAGE = EXAMPLE / "manage.py"

#: What the demo's data must let a visitor see, read back through the ORM.
SUMMARY = """
import json
from support.models import Rating, TelegramProfile, Ticket
print(json.dumps({
    "tickets": Ticket.objects.count(),
    "resolved": Ticket.objects.filter(resolved=True).count(),
    "ratings": list(Rating.objects.values_list("score", flat=True)),
    "named": sorted(TelegramProfile.objects.values_list("first_name", flat=True)),
}))
"""


def demo(env: dict[str, str]) -> dict[str, str]:
    out = run_manage(MANAGE, env, "demo", "--no-serve")
    console = re.search(r"console:\s+(\S+)\s+\(login (\S+) / (\S+)\)", out)
    token = re.search(r"manager token:\s+(\S+)", out)
    key = re.search(r"bot key:\s+(\S+)", out)
    assert console is not None, out
    assert token is not None, out
    assert key is not None, out
    return {
        "console": console.group(1),
        "login": console.group(2),
        "password": console.group(3),
        "token": token.group(1),
        "key": key.group(1),
    }


#: A subprocess that migrates a fresh database: once per CI run (the live pair).
pytestmark = pytest.mark.live


def test_the_demo_prints_credentials_has_data_to_show_and_runs_again(tmp_path: Path):
    env = server_env(tmp_path)
    first = demo(env)
    assert first["console"] == "http://127.0.0.1:8000/support/manager/"
    assert (first["login"], first["password"]) == ("manager", "manager")
    # Run again: the data is kept, the token too, and a fresh bot key replaces the old.
    second = demo(env)
    assert second["token"] == first["token"]
    assert second["key"] != first["key"]
    keys = (
        "from support.botkeys import authenticate_bot_key as a\n"
        f"print(json.dumps([a({first['key']!r}) is None, a({second['key']!r}) is None]))"
    )
    out = run_manage(MANAGE, env, "shell", "-c", SUMMARY + keys).splitlines()
    # Three open conversations and one already helped and rated (the stats page's).
    assert json.loads(out[-2]) == {
        "tickets": 4,
        "resolved": 1,
        "ratings": [5],
        "named": ["Anna", "Lea", "Tom"],
    }
    assert json.loads(out[-1]) == [True, False]  # the old key revoked, the new one works

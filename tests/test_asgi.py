"""``support.get_asgi_application()`` serves the API over HTTP."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from channels.testing import HttpCommunicator

from support.models import BotKey


@pytest.mark.django_db(transaction=True)
async def test_asgi_application_serves_the_api(stop_hub):
    from asgiref.sync import sync_to_async

    from support import get_asgi_application
    from support.botkeys import create_bot_key

    _key, raw = await sync_to_async(create_bot_key)("bot")
    application = get_asgi_application()
    communicator = HttpCommunicator(
        application,
        "GET",
        "/support/tickets/",
        headers=[(b"host", b"testserver"), (b"authorization", f"Api-Key {raw}".encode())],
    )
    response = await communicator.get_response()
    # Let Django's handler finish (it closes the request body last); cancelled
    # at teardown instead, it would leave the body's temporary file open.
    await communicator.wait(5)
    assert response["status"] == 200
    assert json.loads(response["body"]) == []
    assert await sync_to_async(BotKey.objects.count)() == 1


def test_support_imports_without_django_configured():
    # The 1.x README's asgi.py imports get_asgi_application before it sets
    # DJANGO_SETTINGS_MODULE.
    code = (
        "import support, sys; assert callable(support.get_asgi_application); "
        "assert 'django.db' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env={"PATH": ""})

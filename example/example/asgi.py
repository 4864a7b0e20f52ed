"""The seed README's asgi.py, unchanged."""

import os

from support import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example.settings")

application = get_asgi_application()

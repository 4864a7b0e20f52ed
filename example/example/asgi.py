"""The 1.x README's asgi.py, unchanged: it still works with 2.x."""

import os

from support import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example.settings")

application = get_asgi_application()

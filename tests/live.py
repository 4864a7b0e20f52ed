"""Kept so that ``from tests.live import …`` still works: the code is in :mod:`tests.harness`."""

from tests.harness.process import CI, EXAMPLE, ROOT, free_port, require_binary, wait_for_port
from tests.harness.redis import RedisServer
from tests.harness.server import Credentials, LiveServer, running_server, server_env

__all__ = [
    "CI",
    "EXAMPLE",
    "ROOT",
    "Credentials",
    "LiveServer",
    "RedisServer",
    "free_port",
    "require_binary",
    "running_server",
    "server_env",
    "wait_for_port",
]

"""A throwaway ``redis-server`` on loopback, without persistence."""

from __future__ import annotations

import os
from pathlib import Path

from tests.harness.process import ServerProcess, require_binary


class RedisServer(ServerProcess):
    """``RedisServer(workdir).start()``; ``url`` names its database 0."""

    def __init__(self, workdir: Path, maxclients: int | None = None) -> None:
        super().__init__(workdir, dict(os.environ), self._command)
        self.name = f"redis-{self.port}"
        self.maxclients = maxclients

    def _command(self, port: int) -> list[str]:
        command = [
            require_binary("redis-server"), "--port", str(port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--dir", str(self.workdir),
        ]  # fmt: skip
        if self.maxclients is not None:
            command += ["--maxclients", str(self.maxclients)]
        return command

    def url_for(self, database: int) -> str:
        return f"redis://127.0.0.1:{self.port}/{database}"

    @property
    def url(self) -> str:
        return self.url_for(0)

"""The production-like stack on loopback: PostgreSQL, Redis, two ASGI workers, nginx.

Everything runs in temporary directories and is torn down afterwards; nginx
runs the project's own ``deploy/nginx.conf`` (see :mod:`tests.harness.nginx`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.harness.nginx import NginxServer
from tests.harness.postgres import require_postgres, running_postgres
from tests.harness.redis import RedisServer
from tests.harness.server import Credentials, LiveServer, server_env

MANY_MANAGERS = """
import json
from django.contrib.auth.models import Permission, User
from rest_framework.authtoken.models import Token
perm = Permission.objects.get(codename="manage_tickets", content_type__app_label="support")
out = []
for n in range(20):
    user, _ = User.objects.get_or_create(username=f"racer{n}")
    user.user_permissions.add(perm)
    out.append([user.pk, Token.objects.get_or_create(user=user)[0].key])
print(json.dumps(out))
"""


@dataclass
class Stack:
    workdir: Path
    workers: list[LiveServer]
    redis: RedisServer
    nginx: NginxServer
    credentials: Credentials
    racers: list[tuple[int, str]]

    def nginx_variant(self, mode: str) -> NginxServer:
        return NginxServer(self.workdir, [w.port for w in self.workers], mode).start()  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    require_postgres()
    workdir = tmp_path_factory.mktemp("stack")
    with running_postgres() as database_url:
        redis = RedisServer(workdir).start()
        # The load test opens hundreds of streams per credential: lift the cap.
        env = server_env(
            workdir,
            DATABASE_URL=database_url,
            REDIS_URL=redis.url,
            SUPPORT_MAX_STREAMS_PER_CREDENTIAL="0",
        )
        workers = [LiveServer(workdir, env), LiveServer(workdir, env)]
        credentials = workers[0].prepare()
        output = workers[0].manage("shell", "-c", MANY_MANAGERS)
        racers = [(pk, key) for pk, key in json.loads(output.strip().splitlines()[-1])]
        for worker in workers:
            worker.start()
        nginx = NginxServer(workdir, [w.port for w in workers]).start()
        try:
            yield Stack(workdir, workers, redis, nginx, credentials, racers)
        finally:
            nginx.stop()
            for worker in workers:
                worker.stop()
            redis.stop()

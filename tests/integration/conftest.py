"""One production-like stack for the integration tests (see ``stack.py``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.stack import NginxServer
from tests.live import CI, Credentials, LiveServer, RedisServer, server_env
from tests.pgserver import find_pg_bin, running_postgres

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
    if find_pg_bin() is None:
        message = "PostgreSQL server binaries not found (initdb, pg_ctl)"
        if CI:
            pytest.fail(message)
        pytest.skip(message)
    workdir = tmp_path_factory.mktemp("stack")
    with running_postgres() as database_url:
        redis = RedisServer(workdir).start()
        env = server_env(workdir, DATABASE_URL=database_url, REDIS_URL=redis.url)
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

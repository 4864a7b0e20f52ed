from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from support.actors import Actor
from support.botkeys import create_bot_key
from support.db import close_pooled_connections
from support.models import Attachment, BotKey, Event, Message, Ticket
from tests.harness.process import CI
from tests.harness.server import Credentials, LiveServer, running_server
from tests.zz_users.models import MyTelegramUser

#: The JSON examples of the 1.x README, which 2.x answers keep.
V1_EXAMPLES: dict[str, Any] = json.loads((Path(__file__).parent / "seed_examples.json").read_text())


@pytest.fixture(scope="session", autouse=True)
def _pool_connections_closed(
    django_db_setup: None, django_db_blocker: Any
) -> Generator[None, None, None]:
    """Close the connections support.db's threads keep before the test database is dropped."""
    yield
    with django_db_blocker.unblock():
        close_pooled_connections()


#: Test files that belong to the integration run (``-m integration``) with the stack's tests.
INTEGRATION_FILES = ("test_fuzz_", "test_benchmarks_")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = item.path
        if "integration" in path.parts or path.name.startswith(INTEGRATION_FILES):
            item.add_marker(pytest.mark.integration)
        if "browser" in path.parts:
            item.add_marker(pytest.mark.browser)
        group = shared_fixture_group(item)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))


def shared_fixture_group(item: pytest.Item) -> str | None:
    """Under pytest-xdist (``-n auto --dist loadgroup``), the tests that share one of
    our module- or session-scoped fixtures (a live server, the integration stack, the
    browser) run in one worker, so it starts once; the others spread over all workers.
    """
    if not isinstance(item, pytest.Function):
        return None
    info = item._fixtureinfo
    group = None
    for name in item.fixturenames:
        definitions = info.name2fixturedefs.get(name)
        if not definitions or not definitions[-1].baseid:  # a plugin's own fixture
            continue
        scope = definitions[-1].scope
        if scope == "session":
            return f"session:{name}"
        if scope in ("package", "module") and group is None:
            group = item.nodeid.split("::")[0]
    return group


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Under ``CI=true`` a skipped test fails: what it needs must be installed there."""
    report = yield
    if CI and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, which must run every test: {report.longrepr}"
    return report


#: A moment in the middle of any minute's and any hour's rate window.
RATE_CLOCK = 5430.0


@pytest.fixture
def frozen_rate_clock(monkeypatch: pytest.MonkeyPatch) -> float:
    """Stops the rate limiter's clock, mid-window, for a test that counts a budget.

    The limiter's count slides: across a window's edge the previous window's
    requests weigh less, so a test that spends a budget while the clock runs
    over an edge sees one more request let through. Frozen, it counts exactly.
    """
    from types import SimpleNamespace

    monkeypatch.setattr("support.ratelimit.time", SimpleNamespace(time=lambda: RATE_CLOCK))
    return RATE_CLOCK


@pytest.fixture
def v1_examples() -> dict[str, Any]:
    return V1_EXAMPLES


def make_manager(username: str = "alice", **extra: Any) -> User:
    user = User.objects.create_user(username, password="pw", **extra)
    user.user_permissions.add(Permission.objects.get(codename="manage_tickets"))
    return User.objects.get(pk=user.pk)  # fresh, so the permission cache is empty


@pytest.fixture
def manager(db: None) -> User:
    return make_manager("alice", first_name="Alice", last_name="Smith")


@pytest.fixture
def other_manager(db: None) -> User:
    return make_manager("bob")


@pytest.fixture
def plain_user(db: None) -> User:
    return User.objects.create_user("eve", password="pw")


@pytest.fixture
def bot_key(db: None) -> tuple[BotKey, str]:
    return create_bot_key("telegram-bot")


@pytest.fixture
def tg_user(db: None) -> MyTelegramUser:
    return MyTelegramUser.objects.create(telegram_id=123)


@pytest.fixture
def manager_actor(manager: User) -> Actor:
    return Actor.for_manager(manager)


@pytest.fixture
def other_actor(other_manager: User) -> Actor:
    return Actor.for_manager(other_manager)


@pytest.fixture
def bot_actor(bot_key: tuple[BotKey, str]) -> Actor:
    return Actor.for_bot(bot_key[0])


@pytest.fixture
def anon_client() -> APIClient:
    return APIClient()


@pytest.fixture
def bot_client(bot_key: tuple[BotKey, str]) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {bot_key[1]}")
    return client


def token_client(user: User) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def manager_client(manager: User) -> APIClient:
    return token_client(manager)


@pytest.fixture
def other_client(other_manager: User) -> APIClient:
    return token_client(other_manager)


@pytest.fixture
def plain_client(plain_user: User) -> APIClient:
    return token_client(plain_user)


@pytest.fixture
def clients(manager: User, plain_user: User, bot_key: tuple[BotKey, str]) -> dict[str, APIClient]:
    """A client of each caller the permission tables name: ``manager`` (a token),
    ``bot`` (the bot's key), ``plain`` (a user who is no manager, a token), ``anon``."""
    bot = APIClient()
    bot.credentials(HTTP_AUTHORIZATION=f"Api-Key {bot_key[1]}")
    return {
        "manager": token_client(manager),
        "bot": bot,
        "plain": token_client(plain_user),
        "anon": APIClient(),
    }


def managers_only(status: int) -> list[tuple[str, int, str | None]]:
    """The permission table of an endpoint for managers, as (caller, status, code) rows for
    ``parametrize`` over :func:`clients`: *status* for a manager, the bot and a plain user
    refused, nobody not authenticated."""
    return [
        ("manager", status, None),
        ("bot", 403, "permission_denied"),
        ("plain", 403, "permission_denied"),
        ("anon", 401, "not_authenticated"),
    ]


def assert_refused(response: Any, status: int, code: str, field: str | None = None) -> None:
    """*response* is a refusal in words: *status*, *code*, a detail, and *field* among its
    errors when given."""
    assert response.status_code == status, response.content
    assert response.json()["code"] == code
    assert response.json()["detail"]
    if field is not None:
        assert field in response.json()["errors"]


@pytest.fixture
def media(settings: Any, tmp_path: Path) -> Path:
    """A storage of this test's own (MEDIA_ROOT), to count what it holds; a module takes it
    for every test with ``pytest.mark.usefixtures("media")``."""
    settings.MEDIA_ROOT = str(tmp_path)
    return tmp_path


def stored_files(media: Path) -> list[Path]:
    """The files in the storage *media*, sorted."""
    return sorted(p for p in media.rglob("*") if p.is_file())


@pytest.fixture
def make_ticket(bot_actor: Actor, tg_user: MyTelegramUser) -> Callable[..., Any]:
    from support import services

    def make(title: str = "I've founded some bug", text: str | None = "help", **kw: Any) -> Any:
        return services.open_ticket(
            bot_actor, user_id=kw.pop("user_id", tg_user.pk), title=title, text=text
        )

    return make


@dataclass
class Desk:
    """Four tickets of ``tg_user``, each in a state the service rules care about."""

    open: Ticket  # unassigned, one user message
    mine: Ticket  # assigned to ``manager``
    others: Ticket  # assigned to ``other_manager``
    resolved: Ticket


@pytest.fixture
def desk(
    manager_actor: Actor, other_actor: Actor, bot_actor: Actor, tg_user: MyTelegramUser
) -> Desk:
    from support import services

    def ticket(title: str) -> Ticket:
        return services.open_ticket(bot_actor, user_id=tg_user.pk, title=title, text="hello")

    open_, mine, others, resolved = (ticket(t) for t in ("open", "mine", "others", "resolved"))
    services.assign(manager_actor, mine.pk)
    services.assign(other_actor, others.pk)
    services.resolve(bot_actor, resolved.pk)
    return Desk(open_, mine, others, resolved)


def snapshot() -> tuple[Any, ...]:
    """Everything a refused write must leave as it was: tickets, messages, users, the log."""
    return (
        list(Ticket.objects.order_by("id").values()),
        list(Message.objects.order_by("id").values()),
        list(Attachment.objects.order_by("id").values()),
        list(Event.objects.order_by("id").values_list("id", "type")),
        list(MyTelegramUser.objects.order_by("pk").values_list("pk", flat=True)),
    )


def new_events(start: int) -> list[tuple[str, dict[str, Any]]]:
    """The log's events after position *start*: (type, data), in order."""
    return [(e.type, e.data) for e in Event.objects.filter(id__gt=start).order_by("id")]


@pytest.fixture(scope="module")
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LiveServer, Credentials]]:
    """The example project, migrated and started under daphne, and its credentials: one
    server a test module (test_sdk_live*.py), in a folder named after the module; a module
    that wants another (tickets, a staff key) has its own ``server``."""
    name = request.module.__name__.rpartition(".")[2]
    with running_server(tmp_path_factory.mktemp(name)) as live:
        yield live


@pytest.fixture
async def stop_hub() -> AsyncIterator[None]:
    """Stop this test's hub and close the connections its DB thread opened.

    Async tests run their ORM calls in asgiref's thread; a connection left
    open there would keep PostgreSQL from dropping the test database.
    """
    yield
    from asgiref.sync import sync_to_async
    from django.db import connections

    from support.realtime.hub import get_hub

    await get_hub().stop()
    await sync_to_async(connections.close_all)()

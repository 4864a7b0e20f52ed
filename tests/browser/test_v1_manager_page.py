"""The 1.2.0 package's own manager page, unchanged, against this server in Chromium.

The page (``support_manager.html`` and ``support/static/support/`` of the
1.2.0 wheel, fetched from the package index at test time) is served on the
server's origin by nginx in front of it (``deploy/nginx.conf``): its template
rendered by Django as 1.2.0's view rendered it, its scripts as they are.
Everything else it does (the ticket list, ``PATCH tickets/{id}/`` with
``viewed``, the messages, the WebSocket at ``ws/support/manager/``) goes
through nginx to the real server.

The one thing not served as in 1.2.0 is Tailwind, which its template loads
from a CDN that this machine cannot reach: a stand-in defines the few
utility classes that decide the layout the test reads (the chat window's
``flex-col-reverse``, which is why 1.2.0 served messages newest first).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from django.template import Context, Engine
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import PASSWORD, Watch, screenshot
from tests.harness.nginx import NginxServer
from tests.harness.server import Credentials, LiveServer
from tests.harness.v1_package import unpack_v1

pytestmark = [pytest.mark.live, pytest.mark.browser]

WAIT = 15_000  # ms
PAGE_PATH = "/v1/manager/"  # where the test serves 1.2.0's page (1.2.0 had it at support/manager/)
TAILWIND_CDN = "https://unpkg.com/@tailwindcss/browser@4"
#: Stands in for the Tailwind script: the utility classes that lay out the chat.
TAILWIND_STAND_IN = """
const style = document.createElement("style");
style.textContent = `
  .flex { display: flex; } .flex-col { flex-direction: column; }
  .flex-col-reverse { flex-direction: column-reverse; } .grow { flex-grow: 1; }
  .flex-1 { flex: 1 1 0%; } .overflow-hidden { overflow: hidden; } .p-2 { padding: 0.5rem; }
  .h-screen { height: 100vh; } .h-0 { height: 0; } .min-h-0 { min-height: 0; }
  .overflow-y-auto { overflow-y: auto; } .w-fit { width: fit-content; }
  .ml-auto { margin-left: auto; } .mr-auto { margin-right: auto; }
  .invisible { visibility: hidden; }
`;
document.head.appendChild(style);
"""


@pytest.fixture(scope="module")
def v1_support(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return unpack_v1(tmp_path_factory.mktemp("v1"))


def render_v1_page(v1_support: Path, manager_id: int) -> str:
    """1.2.0's template, rendered by Django as its ``Support`` view rendered it."""
    engine = Engine(
        dirs=[str(v1_support / "templates")],
        libraries={"static": "django.templatetags.static"},
    )
    template = engine.get_template("support/support_manager.html")
    context = {"user": SimpleNamespace(pk=manager_id), "request": SimpleNamespace(script_name="")}
    return template.render(Context(context))


def v1_locations(v1_support: Path, page: Path) -> str:
    """nginx locations for 1.2.0's page and its static files, from the unpacked wheel."""
    static = v1_support / "static" / "support"
    types = "types { text/html html; text/javascript js; text/css css; } charset utf-8;"
    return (
        f"    location = {PAGE_PATH} {{ {types} root {page.parent};"
        f" try_files /{page.name} =404; }}\n"
        f"    location /static/support/js/ {{ {types} alias {static / 'js'}/; }}\n"
        f"    location /static/support/css/ {{ {types} alias {static / 'css'}/; }}\n"
    )


@pytest.fixture(scope="module")
def v1_origin(
    live: tuple[LiveServer, Credentials], v1_support: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """nginx in front of the live server, serving 1.2.0's page beside it; its origin."""
    server, credentials = live
    workdir = tmp_path_factory.mktemp("v1-nginx")
    page = workdir / "page" / "support_manager.html"
    page.parent.mkdir()
    page.write_text(render_v1_page(v1_support, credentials.manager_ids[0]), encoding="utf-8")
    nginx = NginxServer(workdir, [server.port], extra_locations=v1_locations(v1_support, page))
    nginx.start()
    try:
        yield nginx.base_url
    finally:
        nginx.stop()


class V1Page:
    """A browser context on 1.2.0's page, its Tailwind replaced by the stand-in."""

    def __init__(self, browser: Browser, origin: str):
        self.origin = origin
        self.context = browser.new_context(locale="ru-RU", viewport={"width": 1200, "height": 800})
        self.context.route(
            TAILWIND_CDN,
            lambda route: route.fulfill(content_type="text/javascript", body=TAILWIND_STAND_IN),
        )
        self.page = self.context.new_page()
        parts = urlsplit(self.origin)
        self.watch = Watch(f"{parts.hostname}:{parts.port}")
        self.watch.attach(self.page)
        #: Answers of the server that refused something (status 400 and up).
        self.refused: list[str] = []
        self.page.on("response", self._response)

    def _response(self, response: Any) -> None:
        if response.url.startswith(self.origin) and response.status >= 400:
            self.refused.append(f"{response.request.method} {response.url} {response.status}")

    def sign_in(self, username: str) -> None:
        page = self.page
        page.goto(f"{self.origin}/accounts/login/?next={PAGE_PATH}")
        page.fill("#id_username", username)
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"**{PAGE_PATH}")

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def v1_page(browser: Browser, v1_origin: str) -> Iterator[V1Page]:
    opened = V1Page(browser, v1_origin)
    opened.sign_in("m1")
    yield opened
    opened.close()
    foreign = [url for url in opened.watch.foreign if not url.startswith(TAILWIND_CDN)]
    assert foreign == [], f"requests to other origins: {foreign}"
    assert opened.watch.errors == [], f"script errors: {opened.watch.errors}"
    assert opened.refused == [], f"refused requests: {opened.refused}"


def chat_texts_top_to_bottom(page: Page) -> list[str]:
    """The chat's messages as a manager reads them: by their position on screen."""
    bubbles = page.locator(".chat-window > div")
    placed = [
        (bubble.bounding_box()["y"], bubble.locator("p").inner_text())  # type: ignore[index]
        for bubble in bubbles.all()
    ]
    return [text for _, text in sorted(placed)]


def ticket_json(server: LiveServer, token: str, ticket: int) -> dict[str, Any]:
    response = httpx.get(
        f"{server.api}tickets/{ticket}/", headers={"Authorization": f"Token {token}"}, timeout=10
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_the_1_2_page_shows_the_conversation_in_order_and_marks_it_viewed(
    live: tuple[LiveServer, Credentials], v1_page: V1Page
) -> None:
    server, credentials = live
    bot = httpx.Client(
        base_url=server.api,
        headers={"Authorization": f"Api-Key {credentials.bot_key}"},
        timeout=10,
    )
    opened = bot.post(
        "tickets/", json={"user_id": 7101, "title": "Старый клиент", "text": "Первое"}
    )
    assert opened.status_code == 201, opened.text
    ticket = opened.json()["id"]
    for text in ("Второе", "Третье"):
        assert bot.post(f"tickets/{ticket}/messages/", json={"text": text}).status_code == 201

    page = v1_page.page
    page.reload()  # the list as the page loads it, with the ticket in it
    row = page.locator(f'.ticket-list [data-ticket-id="{ticket}"]')
    expect(row).to_contain_text("Старый клиент", timeout=WAIT)
    expect(row).to_contain_text("Пользователь: Третье")  # last_message
    expect(row.locator("span.rounded-full")).to_have_count(1)  # not viewed yet

    with page.expect_response(
        lambda r: r.request.method == "PATCH" and r.url.endswith(f"/tickets/{ticket}/")
    ) as patched:
        row.click()
    assert patched.value.status == 200
    expect(row.locator("span.rounded-full")).to_have_count(0)
    expect(page.locator("#ticket-title")).to_have_text("Старый клиент")
    expect(page.locator(".chat-window > div")).to_have_count(3, timeout=WAIT)
    assert chat_texts_top_to_bottom(page) == ["Первое", "Второе", "Третье"]
    manager_token = credentials.managers[0]
    seen = ticket_json(server, manager_token, ticket)
    assert seen["viewed"] is True
    assert seen["unread"] == 0

    # Take it (WebSocket ticket.assign), then answer with Enter (ticket.message.new).
    page.locator("#ticket-assign").click()
    expect(page.locator("#ticket-assign")).to_have_value("В работе", timeout=WAIT)
    box = page.locator(".message-textarea")
    box.fill("Смотрю")
    box.press("Enter")
    expect(page.locator(".chat-window > div")).to_have_count(4, timeout=WAIT)
    # The bot's next message arrives live, at the bottom.
    assert bot.post(f"tickets/{ticket}/messages/", json={"text": "Спасибо"}).status_code == 201
    expect(page.locator(".chat-window > div")).to_have_count(5, timeout=WAIT)
    assert chat_texts_top_to_bottom(page) == ["Первое", "Второе", "Третье", "Смотрю", "Спасибо"]
    screenshot(page, "v1-manager-page")
    assert (
        ticket_json(server, manager_token, ticket)["support_manager"]["id"]
        == (credentials.manager_ids[0])
    )
    # Taking it switched the page to its own tab ("Мои"), which lists it (1.2.0's ?manager=).
    expect(page.locator("#btn-set-my")).to_be_disabled()
    expect(page.locator(f'.ticket-list [data-ticket-id="{ticket}"]')).to_be_visible(timeout=WAIT)
    bot.close()

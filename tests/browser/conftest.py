"""Headless Chromium (Debian's, never a downloaded one) driving the manager console.

Every page opened through :func:`console_page` records its requests and its
console: at the end of each test, no request may have gone to another
origin and no error may have been logged.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Locator,
    Page,
    Playwright,
    expect,
    sync_playwright,
)

from tests.harness.process import ROOT, missing
from tests.harness.server import Credentials, LiveServer, running_server

CHROMIUM = "/usr/bin/chromium"
#: The tests' screenshots (one of them is copied to docs/images/ for the README).
SCREENSHOTS = ROOT / "build" / "screenshots"
PASSWORD = "console-pw"

SET_PASSWORDS = f"""
from django.contrib.auth.models import User
for user in User.objects.filter(username__in=["m1", "m2", "m3", "eve"]):
    user.set_password({PASSWORD!r})
    user.save()
"""


#: How long an ``expect`` waits unless told (ms): the page answers in well under a
#: second on an idle machine, but CI runs these beside servers under load, and
#: expect's own 5 s default failed there once.
EXPECT_TIMEOUT = 15_000


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    expect.set_options(timeout=EXPECT_TIMEOUT)
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        missing(f"{CHROMIUM} is not installed (apt-get install -y chromium)")
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=[
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    )
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, Credentials]]:
    workdir = tmp_path_factory.mktemp("console")
    # Attachments go to the test's own folder, never to the example project's media/.
    with running_server(workdir, MEDIA_ROOT=str(workdir / "media")) as (server, credentials):
        server.manage("shell", "-c", SET_PASSWORDS)
        yield server, credentials


@dataclass
class Watch:
    """What a page did that it must not: requests elsewhere, console errors."""

    origin: str
    #: Network failures a test causes on purpose (Chromium logs them as errors).
    expected: tuple[str, ...] = ()
    foreign: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def attach(self, page: Page) -> None:
        page.on("request", self._request)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def _console(self, message: object) -> None:
        text: str = message.text  # type: ignore[attr-defined]
        if message.type == "error" and not any(e in text for e in self.expected):  # type: ignore[attr-defined]
            self.errors.append(text)

    def _request(self, request: object) -> None:
        url: str = request.url  # type: ignore[attr-defined]
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob"):
            return
        origin = f"{parts.hostname}:{parts.port}"
        if origin != self.origin:
            self.foreign.append(url)


ConsolePage = Callable[..., Page]


@pytest.fixture
def console_page(browser: Browser) -> Iterator[ConsolePage]:
    """``console_page(base_url, "m1")``: a fresh browser context, signed in, on the console."""
    contexts: list[BrowserContext] = []
    watches: list[Watch] = []

    def open_console(
        base_url: str,
        username: str = "m1",
        *,
        locale: str = "en-US",
        query: str = "",
        expected_errors: tuple[str, ...] = (),
    ) -> Page:
        context = browser.new_context(locale=locale, viewport={"width": 1200, "height": 760})
        contexts.append(context)
        page = context.new_page()
        parts = urlsplit(base_url)
        watch = Watch(f"{parts.hostname}:{parts.port}", expected_errors)
        watch.attach(page)
        watches.append(watch)
        page.goto(f"{base_url}/support/manager/{query}")
        # Anonymous: Django's login page first, then back to the console.
        assert "/accounts/login/" in page.url
        page.fill("#id_username", username)
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"**/support/manager/{query}")
        return page

    yield open_console
    for context in contexts:
        context.close()
    for watch in watches:
        assert watch.foreign == [], f"requests to other origins: {watch.foreign}"
        assert watch.errors == [], f"console errors: {watch.errors}"


def row(page: Page, ticket: int) -> Locator:
    """The queue's row of *ticket*."""
    return page.locator(f'.tickets a[data-ticket-id="{ticket}"]')


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


# ---- what the console tests share: the bot's side over REST, the page's steps --------

WAIT = 15_000  # ms: how long the page may take to show what the server did

ANNA = {"first_name": "Anna", "last_name": "Petrova", "username": "anna_p", "language_code": "ru"}

Upload = tuple[str, bytes, str]  # file name, bytes, content type


class Bot:
    """The bot's side over REST with its key, sending the user's Telegram profile when given
    (as the SDK's bot does): tickets, posts (JSON or multipart), the long-poll, downloads."""

    def __init__(self, server: LiveServer, credentials: Credentials) -> None:
        self.base_url = server.base_url
        self.http = httpx.Client(
            base_url=server.api,
            headers={"Authorization": f"Api-Key {credentials.bot_key}"},
            timeout=15,
        )

    def try_open_ticket(
        self, user_id: int, title: str, text: str, profile: dict[str, str] | None = None
    ) -> httpx.Response:
        """The server's answer to opening a ticket, whatever it is."""
        body: dict[str, Any] = {"user_id": user_id, "title": title, "text": text}
        if profile is not None:
            body["profile"] = profile
        return self.http.post("tickets/", json=body)

    def open_ticket(
        self, user_id: int, title: str, text: str, profile: dict[str, str] | None = None
    ) -> int:
        """The id of a ticket opened (201)."""
        response = self.try_open_ticket(user_id, title, text, profile)
        assert response.status_code == 201, response.text
        return int(response.json()["id"])

    def try_post(
        self,
        ticket: int,
        text: str,
        profile: dict[str, str] | None = None,
        *,
        key: str | None = None,
    ) -> httpx.Response:
        """The server's answer to a user's message, whatever it is."""
        body: dict[str, Any] = {"text": text}
        if profile is not None:
            body["profile"] = profile
        if key is not None:
            body["idempotency_key"] = key
        return self.http.post(f"tickets/{ticket}/messages/", json=body)

    def post(
        self,
        ticket: int,
        text: str,
        profile: dict[str, str] | None = None,
        *,
        key: str | None = None,
    ) -> None:
        """A user's message, stored (200 or 201)."""
        response = self.try_post(ticket, text, profile, key=key)
        assert response.status_code in (200, 201), response.text

    def post_files(
        self, ticket: int, text: str, files: list[Upload], kinds: list[str] | None = None
    ) -> dict[str, Any]:
        """A user's message with files (multipart), stored: the message."""
        data: dict[str, Any] = {"text": text}
        if kinds:
            data["kinds"] = kinds
        response = self.http.post(
            f"tickets/{ticket}/messages/",
            data=data,
            files=[("files", upload) for upload in files],
        )
        assert response.status_code == 201, response.text
        message: dict[str, Any] = response.json()
        return message

    def cursor(self) -> str:
        return str(self.http.get("events/").json()["cursor"])

    def events_after(self, cursor: str) -> list[dict[str, Any]]:
        response = self.http.get("events/", params={"after": cursor, "timeout": 0})
        assert response.status_code == 200, response.text
        events: list[dict[str, Any]] = response.json()["events"]
        return events

    def event_types(self, cursor: str) -> list[str]:
        return [event["type"] for event in self.events_after(cursor)]

    def wait_for(
        self, cursor: str, wanted: Callable[[dict[str, Any]], bool], seconds: float = 20
    ) -> dict[str, Any]:
        """The first event after *cursor* that *wanted* accepts, from the long-poll."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            answer = self.http.get("events/", params={"after": cursor, "timeout": 5})
            assert answer.status_code == 200, answer.text
            body = answer.json()
            cursor = body["cursor"]
            for event in body["events"]:
                if wanted(event):
                    found: dict[str, Any] = event
                    return found
        raise AssertionError("the event never came")

    def download(self, url: str) -> bytes:
        """The bytes at *url* (absolute, or a path on the server)."""
        response = self.http.get(urljoin(self.base_url, url))
        assert response.status_code == 200, response.text
        return response.content


@pytest.fixture
def bot(live: tuple[LiveServer, Credentials]) -> Iterator[Bot]:
    bot = Bot(*live)
    yield bot
    bot.http.close()


def wait_live(page: Page, transport: str | None = None) -> None:
    """The page's connection is live (and over *transport*, when given)."""
    indicator = page.locator("#connection")
    expect(indicator).to_have_attribute("data-state", "live", timeout=WAIT)
    if transport is not None:
        expect(indicator).to_have_attribute("data-transport", transport)


def open_ticket(page: Page, ticket: int, title: str, tab: str | None = "All open") -> None:
    """The ticket's conversation, opened from its row (in *tab*, unless None: the current one)."""
    if tab is not None:
        page.get_by_role("tab", name=tab).click()
    expect(row(page, ticket)).to_be_visible(timeout=WAIT)
    row(page, ticket).click()
    expect(page.locator("#thread-title")).to_have_text(title, timeout=WAIT)


def api(page: Page, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """A request from the page, with its session and CSRF token (as the console sends them)."""
    return page.evaluate(
        """async ([method, path, body]) => {
            const token = document.querySelector('meta[name="csrf-token"]').content;
            const headers = {
                Accept: "application/json",
                "X-CSRFToken": token,
                "Content-Type": "application/json",
            };
            const init = {method, headers};
            if (body !== null) init.body = JSON.stringify(body);
            const response = await fetch("/support/" + path, init);
            return {status: response.status, body: await response.json()};
        }""",
        [method, path, body],
    )


def my_name(page: Page) -> str:
    config = json.loads(page.locator("#support-console-config").text_content() or "{}")
    return str(config["me"]["name"])

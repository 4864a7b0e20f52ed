"""Headless Chromium (Debian's, never a downloaded one) driving the manager console.

Every page opened through :func:`console_page` records its requests and its
console: at the end of each test, no request may have gone to another
origin and no error may have been logged.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

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

"""The example project's sign-in pauses after failed attempts (support.login_throttle).

In Chromium, as a person would: ten wrong passwords for one username (the
default ``SUPPORT_LOGIN_FAILURE_RATES``), then the right one is refused with
the time left, on the console's login page and on the admin's; another
manager from the same browser still signs in.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import PASSWORD
from tests.harness.server import Credentials, LiveServer

pytestmark = [pytest.mark.live, pytest.mark.browser]

WAIT = 15_000  # ms
USERNAME_BUDGET = 10  # the default's failures per username per hour


def submit(page: Page, url: str, username: str, password: str) -> None:
    page.goto(url)
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("[type=submit]")
    page.wait_for_load_state()


def test_failed_sign_ins_pause_the_username(
    live: tuple[LiveServer, Credentials], browser: Browser
) -> None:
    server, _ = live
    context = browser.new_context(locale="en-US")
    try:
        page = context.new_page()
        login = f"{server.base_url}/accounts/login/"
        for _ in range(USERNAME_BUDGET):
            submit(page, login, "m2", "not the password")
            expect(page.get_by_role("alert")).to_have_text("Wrong username or password.")
        submit(page, login, "m2", PASSWORD)
        expect(page.get_by_role("alert")).to_have_text(
            re.compile(r"^Too many failed sign-ins\. Try again in \d+ minutes?\.$"), timeout=WAIT
        )
        assert "/accounts/login/" in page.url
        submit(page, f"{server.base_url}/admin/login/", "m2", PASSWORD)
        expect(page.locator(".errornote")).to_contain_text("Too many failed sign-ins.")
        # Another manager, from the same browser and address, is not paused.
        submit(page, login, "m1", PASSWORD)
        page.wait_for_url("**/support/manager/", timeout=WAIT)
    finally:
        context.close()

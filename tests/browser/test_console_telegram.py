"""The console's "Link Telegram": a code, its countdown, the bot's confirmation, unlinking.

One short check in a real browser (the API's rules are tests/test_telegram_links.py's):
the manager gets a code, a staff bot confirms it over REST as the bot would on
``/link CODE``, the open dialog turns to "linked" by itself, and Unlink undoes it;
the same labels in Russian.
"""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import WAIT, ConsolePage, screenshot
from tests.harness.server import Credentials, LiveServer

pytestmark = [pytest.mark.live, pytest.mark.browser]


def test_a_manager_links_and_unlinks_telegram(
    live: tuple[LiveServer, Credentials], console_page: ConsolePage
) -> None:
    server, _ = live
    staff_key = server.manage("support_create_bot_key", "--staff", "staff").strip().splitlines()[-1]
    page = console_page(server.base_url, "m1")
    opener = page.get_by_role("button", name="Link Telegram")
    expect(opener).to_be_visible(timeout=WAIT)
    opener.click()
    dialog = page.locator("#telegram-link")
    expect(dialog).to_contain_text("not linked")
    dialog.get_by_role("button", name="Get a code").click()
    code = dialog.locator(".telegram-code code")
    expect(code).to_have_text(re.compile(r"^[2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4}$"), timeout=WAIT)
    expect(dialog).to_contain_text(f"Send /link {code.inner_text()} to the bot in a private chat.")
    expect(dialog.locator(".telegram-expiry")).to_contain_text(re.compile(r"expires in (9|10):"))
    screenshot(page, "telegram-code")

    confirmed = httpx.post(
        f"{server.api}telegram/link/confirm/",
        json={"code": code.inner_text(), "telegram_id": 5551234},
        headers={"Authorization": f"Api-Key {staff_key}"},
        timeout=10,
    )
    assert confirmed.status_code == 200, confirmed.text
    expect(dialog).to_contain_text("Linked to Telegram id 5551234", timeout=WAIT)
    expect(page.locator("#telegram-open")).to_have_text("Telegram linked")
    screenshot(page, "telegram-linked")

    dialog.get_by_role("button", name="Unlink").click()
    expect(dialog).to_contain_text("not linked", timeout=WAIT)
    expect(page.locator("#telegram-open")).to_have_text("Link Telegram")


def test_the_link_dialog_in_russian(
    live: tuple[LiveServer, Credentials], console_page: ConsolePage
) -> None:
    server, _ = live
    page = console_page(server.base_url, "m2", locale="ru-RU")
    page.get_by_role("button", name="Привязать Telegram").click()
    dialog = page.locator("#telegram-link")
    dialog.get_by_role("button", name="Получить код").click()
    expect(dialog).to_contain_text("в личном чате", timeout=WAIT)
    expect(dialog.locator(".telegram-expiry")).to_contain_text("Код действует ещё")
    screenshot(page, "telegram-code-ru")

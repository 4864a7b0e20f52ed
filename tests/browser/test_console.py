"""The manager console in a real browser, against the example project under daphne.

Each test drives the page as a manager would and checks it against what a
bot does over REST at the same time: live updates with no reload, the
fallback from WebSocket to SSE to long-poll behind hostile nginx variants,
and a server killed mid-conversation.
"""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from support_client import MessageNew, SupportClient
from tests.browser.conftest import WAIT, ConsolePage, row, screenshot, wait_live
from tests.harness.nginx import NginxServer

pytestmark = [pytest.mark.live, pytest.mark.browser]


def messages(page: Page) -> list[str]:
    return page.locator(".message-list .message .text").all_inner_texts()


def test_a_manager_answers_a_bot_ticket_live(live, bot, console_page: ConsolePage) -> None:
    server, credentials = live
    page = console_page(server.base_url, "m1")
    wait_live(page, "websocket")
    expect(page.locator("#connection")).to_contain_text("WebSocket")

    sdk = SupportClient(server.api, api_key=credentials.bot_key, max_retries=0)
    cursor = sdk.events.poll().cursor
    ticket = bot.open_ticket(5101, "Cannot pay", "My card is refused.")
    # Appears in the queue (the Unassigned tab) without a reload.
    expect(row(page, ticket)).to_contain_text("Cannot pay", timeout=WAIT)
    expect(row(page, ticket)).to_contain_text("My card is refused.")
    expect(row(page, ticket).locator(".badge")).to_contain_text("1")
    expect(page.locator('[data-count="unassigned"]')).to_have_text("(1)", timeout=WAIT)
    screenshot(page, "queue-en")

    row(page, ticket).click()
    expect(page.locator("#thread-title")).to_have_text("Cannot pay")
    expect(page.locator(".message-list .message .text")).to_have_text(["My card is refused."])
    page.get_by_role("button", name="Take it").click()
    expect(page.locator(".ticket-head .meta")).to_contain_text("Assigned to you", timeout=WAIT)
    # Viewed: the unread badge goes once the manager has the ticket open.
    expect(row(page, ticket).locator(".badge")).to_have_count(0, timeout=WAIT)

    box = page.locator("#reply-text")
    box.fill("Checking your payment")
    box.press("Shift+Enter")
    box.type("now.")
    expect(page.locator("#reply-counter")).to_contain_text("26 / 4096")
    box.press("Enter")
    expect(page.locator(".message.supp .text")).to_have_text(
        "Checking your payment\nnow.", timeout=WAIT
    )
    expect(box).to_have_value("")

    # The bot's event stream (the SDK) receives the reply.
    deadline = time.monotonic() + 15
    replies: list[str] = []
    while not replies and time.monotonic() < deadline:
        page_of_events = sdk.events.poll(after=cursor, timeout=5)
        cursor = page_of_events.cursor
        replies += [
            e.message.text
            for e in page_of_events.events
            if isinstance(e, MessageNew) and e.message.sender == "supp"
        ]
    assert replies == ["Checking your payment\nnow."]

    # A second message from the bot shows in the open ticket without a reload.
    bot.post(ticket, "Thanks, it is card 4242.")
    expect(page.locator(".message-list .message")).to_have_count(3, timeout=WAIT)
    assert messages(page) == [
        "My card is refused.",
        "Checking your payment\nnow.",
        "Thanks, it is card 4242.",
    ]
    # The tab counts follow the events too.
    expect(page.locator('[data-count="mine"]')).to_have_text("(1)")
    expect(page.locator('[data-count="open"]')).to_have_text("(1)")
    expect(page.locator('[data-count="unassigned"]')).to_have_text("(0)")
    screenshot(page, "ticket-en")
    sdk.close()


def test_two_managers_see_each_other_and_conflicts_are_in_words(
    live, bot, console_page: ConsolePage
) -> None:
    server, _ = live
    first = console_page(server.base_url, "m1")
    # The refused reply is a 409, which Chromium logs as a failed resource.
    second = console_page(server.base_url, "m2", expected_errors=("409 (Conflict)",))
    wait_live(first, "websocket")
    wait_live(second, "websocket")
    ticket = bot.open_ticket(5202, "Two managers", "Anyone there?")
    expect(row(second, ticket)).to_be_visible(timeout=WAIT)
    second.get_by_role("tab", name="All open").click()
    row(second, ticket).click()
    expect(second.locator("#thread-title")).to_have_text("Two managers")

    row(first, ticket).click()
    first.get_by_role("button", name="Take it").click()
    # The other manager's page shows who took it, live.
    expect(second.locator(".ticket-head .meta")).to_contain_text("Assigned to M1", timeout=WAIT)
    expect(row(second, ticket)).to_contain_text("Assigned to M1")
    expect(second.get_by_role("button", name="Take it")).to_be_hidden()
    second.get_by_role("tab", name="Unassigned").click()
    expect(row(second, ticket)).to_have_count(0)
    second.get_by_role("tab", name="All open").click()
    row(second, ticket).click()

    box = second.locator("#reply-text")
    box.fill("I will take this one")
    box.press("Enter")
    expect(second.locator("#reply-error")).to_contain_text(
        "assigned to another manager", timeout=WAIT
    )
    expect(box).to_have_value("I will take this one")  # nothing typed is lost
    assert second.locator(".message.supp").count() == 0


@pytest.mark.parametrize(("mode", "transport"), [("refuse-upgrade", "sse"), ("buffer", "longpoll")])
def test_behind_hostile_proxies_the_page_falls_back(
    live, bot, console_page: ConsolePage, tmp_path: Path, mode: str, transport: str
) -> None:
    server, _ = live
    nginx = NginxServer(tmp_path, [server.port], mode).start()  # type: ignore[arg-type]
    try:
        # nginx refuses the upgrade with 403, which Chromium logs.
        page = console_page(
            nginx.base_url, "m1", expected_errors=("Unexpected response code: 403",)
        )
        wait_live(page, transport)
        label = {"sse": "Server-Sent Events", "longpoll": "Long-poll"}[transport]
        expect(page.locator("#connection")).to_contain_text(label)
        ticket = bot.open_ticket(5300 + len(mode), f"Behind {mode}", "hello through a proxy")
        expect(row(page, ticket)).to_be_visible(timeout=WAIT)
        row(page, ticket).click()
        page.get_by_role("button", name="Take it").click()
        page.locator("#reply-text").fill(f"answered over {transport}")
        page.locator("#reply-text").press("Enter")
        expect(page.locator(".message.supp")).to_have_count(1, timeout=WAIT)
        bot.post(ticket, "and back")
        expect(page.locator(".message-list .message")).to_have_count(3, timeout=WAIT)
        assert messages(page) == ["hello through a proxy", f"answered over {transport}", "and back"]
        page.close()
    finally:
        nginx.stop()


def test_a_server_restart_loses_and_repeats_nothing(live, bot, console_page: ConsolePage) -> None:
    server, _ = live
    # While the server is down, the page's reconnects are refused: Chromium logs them.
    page = console_page(server.base_url, "m1", expected_errors=("ERR_CONNECTION_REFUSED",))
    wait_live(page, "websocket")
    ticket = bot.open_ticket(5404, "Restart", "message 0")
    expect(row(page, ticket)).to_be_visible(timeout=WAIT)
    row(page, ticket).click()
    expect(page.locator(".message-list .message")).to_have_count(1, timeout=WAIT)

    total = 30
    posted = threading.Semaphore(0)
    done = threading.Event()

    def keep_posting() -> None:
        # Each message has its own key: a retry after the server died cannot post twice.
        try:
            for n in range(1, total):
                while True:
                    try:
                        bot.post(ticket, f"message {n}", key=f"restart-{n}")
                        break
                    except httpx.TransportError:
                        time.sleep(0.2)
                posted.release()
                time.sleep(0.2)
        finally:
            done.set()

    poster = threading.Thread(target=keep_posting)
    poster.start()
    try:
        for _ in range(8):
            assert posted.acquire(timeout=WAIT / 1000)
        server.stop(signal.SIGKILL)  # mid-conversation: the bot keeps trying
        expect(page.locator("#connection")).to_have_attribute(
            "data-state", "reconnecting", timeout=WAIT
        )
        time.sleep(1)
        server.start()
        assert done.wait(60)
    finally:
        poster.join(60)
    wait_live(page, "websocket")
    expected = [f"message {n}" for n in range(total)]
    expect(page.locator(".message-list .message")).to_have_count(total, timeout=WAIT)
    assert messages(page) == expected
    # Still exactly once after another settle period.
    page.wait_for_timeout(1000)
    assert messages(page) == expected


def test_russian_labels(live, bot, console_page: ConsolePage) -> None:
    server, _ = live
    page = console_page(server.base_url, "m1", locale="ru-RU")
    expect(page.locator("h1")).to_have_text("Консоль поддержки")
    expect(page.get_by_role("tab", name="Без менеджера")).to_be_visible()
    expect(page.locator("#connection")).to_contain_text("На связи", timeout=WAIT)
    ticket = bot.open_ticket(5505, "Не могу оплатить", "Карта не проходит.")
    expect(row(page, ticket)).to_be_visible(timeout=WAIT)
    screenshot(page, "queue-ru")
    row(page, ticket).click()
    expect(page.get_by_role("button", name="Взять себе")).to_be_visible()
    expect(page.locator("#reply-counter")).to_contain_text("символов")
    screenshot(page, "ticket-ru")


def test_keyboard_only(live, bot, console_page: ConsolePage) -> None:
    server, _ = live
    page = console_page(server.base_url, "m1")
    wait_live(page, "websocket")
    ticket = bot.open_ticket(5606, "Keyboard", "no mouse here")
    expect(row(page, ticket)).to_be_visible(timeout=WAIT)
    page.get_by_role("tab", name="Unassigned").focus()
    page.keyboard.press("ArrowRight")  # tabs move with the arrow keys
    expect(page.get_by_role("tab", name="Mine")).to_be_focused()
    page.keyboard.press("ArrowLeft")
    row(page, ticket).focus()
    page.keyboard.press("Enter")
    expect(page.locator("#thread-title")).to_have_text("Keyboard", timeout=WAIT)
    page.locator("#reply-text").focus()
    page.keyboard.type("typed only")
    page.keyboard.press("Enter")
    expect(page.locator(".message.supp .text")).to_have_text("typed only", timeout=WAIT)


def test_a_narrow_screen_shows_one_column(live, bot, console_page: ConsolePage) -> None:
    server, _ = live
    page = console_page(server.base_url, "m1")
    page.set_viewport_size({"width": 380, "height": 700})
    ticket = bot.open_ticket(5707, "Narrow", "on a phone")
    expect(row(page, ticket)).to_be_visible(timeout=WAIT)
    expect(page.locator("#thread")).to_be_hidden()
    row(page, ticket).click()
    expect(page.locator("#thread-title")).to_be_visible()
    expect(page.locator(".queue")).to_be_hidden()
    page.get_by_role("link", name="← Queue").click()
    expect(page.locator(".queue")).to_be_visible()

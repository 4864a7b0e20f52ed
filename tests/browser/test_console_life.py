"""A conversation's life in the console (issue 23), in Chromium against the example project.

Blocking and unblocking from the contact panel (the bot's posts refused
meanwhile, another manager's page following live), an own reply edited and
deleted (live on another manager's page, its history), a user's edit shown
as "edited", the rating and the previous ticket in the head, and the stats
page drawing its charts from seeded data. The stats screenshots, in English
and Russian, are the ones docs/console.md shows (copied from
build/screenshots/ to docs/images/).
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import (
    ANNA,
    WAIT,
    Bot,
    ConsolePage,
    api,
    my_name,
    open_ticket,
    row,
    screenshot,
    wait_live,
)
from tests.harness.server import Credentials, LiveServer

pytestmark = [pytest.mark.live, pytest.mark.browser]


def manager_http(live: tuple[LiveServer, Credentials], index: int = 0) -> httpx.Client:
    server, credentials = live
    return httpx.Client(
        base_url=server.api,
        headers={"Authorization": f"Token {credentials.managers[index]}"},
        timeout=10,
    )


def message(page: Page, text: str) -> Any:
    return page.locator(".message-list .message").filter(has_text=text)


# ---- blocking -------------------------------------------------------------------


def test_block_and_unblock_from_the_contact_panel(
    live, bot: Bot, console_page: ConsolePage
) -> None:
    server, _ = live
    page = console_page(server.base_url, "m1")
    other = console_page(server.base_url, "m2")  # another manager's page follows live
    wait_live(page)
    wait_live(other)
    older = bot.open_ticket(8101, "Spam again", "buy cheap followers", ANNA)
    ticket = bot.open_ticket(8101, "More spam", "click my link", ANNA)
    open_ticket(page, ticket, "More spam")
    open_ticket(other, ticket, "More spam")
    panel = page.locator("#contact")
    expect(panel.locator(".block-open")).to_be_visible(timeout=WAIT)
    expect(panel.locator(".blocked-state")).to_be_hidden()
    expect(row(page, ticket).locator(".blocked-mark")).to_have_count(0)

    # Block asks why; an empty reason is refused in words, nothing sent.
    panel.get_by_role("button", name="Block…").click()
    reason = panel.get_by_label("Why is the user blocked?")
    expect(reason).to_be_focused()
    panel.locator("#block-form").get_by_role("button", name="Block", exact=True).click()
    expect(panel.locator("#block-error")).to_have_text("Say why the user is blocked.")
    assert api(page, "GET", "users/8101/")["body"]["block"] is None
    # Escape closes the form; Block opens it again, empty.
    reason.fill("half a reason")
    reason.press("Escape")
    expect(panel.locator("#block-form")).to_be_hidden()
    panel.get_by_role("button", name="Block…").click()
    expect(reason).to_have_value("")
    reason.fill("Spam links in every message")
    reason.press("Enter")

    expect(panel.locator(".blocked-label")).to_have_text("Blocked", timeout=WAIT)
    expect(panel.locator(".blocked-reason")).to_have_text("Reason: Spam links in every message")
    expect(panel.locator(".blocked-since")).to_contain_text(f"by {my_name(page)}")
    expect(panel.get_by_role("button", name="Unblock")).to_be_focused()
    expect(panel.get_by_role("button", name="Block…")).to_be_hidden()
    # The user's open tickets are resolved, with a note saying why.
    expect(page.locator(".ticket-head .meta")).to_contain_text("Resolved", timeout=WAIT)
    expect(page.locator(".message-list .note")).to_contain_text(
        "Spam links in every message", timeout=WAIT
    )
    # The other manager's page follows: the state, the reason, the queue's marker.
    other_panel = other.locator("#contact")
    expect(other_panel.locator(".blocked-label")).to_have_text("Blocked", timeout=WAIT)
    expect(other_panel.locator(".blocked-reason")).to_have_text(
        "Reason: Spam links in every message", timeout=WAIT
    )
    screenshot(page, "console-blocked-en")
    other.get_by_role("tab", name="Resolved").click()
    expect(row(other, older).locator(".blocked-mark")).to_have_text("Blocked", timeout=WAIT)
    expect(row(other, ticket).locator(".blocked-mark")).to_have_text("Blocked")

    # Meanwhile the bot's posts for the user are refused, and nothing is stored.
    cursor = bot.cursor()
    refused = bot.try_open_ticket(8101, "Let me in", "hello?", ANNA)
    assert refused.status_code == 403, refused.text
    assert refused.json()["code"] == "user_blocked"
    posted = bot.try_post(older, "still here")
    assert posted.status_code == 403, posted.text
    assert posted.json()["code"] == "user_blocked"
    assert bot.event_types(cursor) == []
    listed = api(page, "GET", "tickets/?user_id=8101")["body"]
    assert sorted(t["id"] for t in listed) == sorted([older, ticket])

    # Unblock: the state goes on both pages, and the user may write again.
    panel.get_by_role("button", name="Unblock").click()
    expect(panel.locator(".blocked-state")).to_be_hidden(timeout=WAIT)
    expect(panel.get_by_role("button", name="Block…")).to_be_focused()
    expect(other_panel.locator(".blocked-state")).to_be_hidden(timeout=WAIT)
    expect(row(other, older).locator(".blocked-mark")).to_have_count(0, timeout=WAIT)
    assert bot.try_open_ticket(8101, "Sorry", "I will behave", ANNA).status_code == 201


# ---- edits and deletions --------------------------------------------------------------


def test_edit_and_delete_an_own_reply(live, bot: Bot, console_page: ConsolePage) -> None:
    server, _ = live
    page = console_page(server.base_url, "m1")
    other = console_page(server.base_url, "m2")
    wait_live(page)
    wait_live(other)
    ticket = bot.open_ticket(8201, "Where is my parcel", "It was due on Monday.", ANNA)
    open_ticket(page, ticket, "Where is my parcel")
    open_ticket(other, ticket, "Where is my parcel")
    box = page.locator("#reply-text")
    box.fill("It left the warehouse on Tuesdy.")
    box.press("Enter")
    reply = message(page, "It left the warehouse")
    expect(reply).to_have_count(1, timeout=WAIT)
    expect(message(other, "It left the warehouse")).to_have_count(1, timeout=WAIT)
    # Only its author may edit or delete it; the user's message has neither.
    expect(reply.get_by_role("button", name="Edit", exact=True)).to_be_visible()
    expect(
        message(other, "It left the warehouse").get_by_role("button", name="Edit", exact=True)
    ).to_have_count(0)
    expect(
        message(page, "It was due on Monday").get_by_role("button", name="Edit", exact=True)
    ).to_have_count(0)

    # Esc cancels: nothing changes.
    reply.get_by_role("button", name="Edit", exact=True).click()
    editor = page.locator(".message-list .edit-text")
    expect(editor).to_be_focused()
    expect(editor).to_have_value("It left the warehouse on Tuesdy.")
    editor.fill("a slip of the keyboard")
    editor.press("Escape")
    expect(editor).to_have_count(0)
    expect(reply.locator(".text")).to_have_text("It left the warehouse on Tuesdy.")
    expect(reply.locator(".edited")).to_have_count(0)

    # Enter saves: the new text, "edited" with the time as its title, on both pages.
    cursor = bot.cursor()
    reply.get_by_role("button", name="Edit", exact=True).click()
    editor.fill("It left the warehouse on Tuesday.")
    editor.press("Enter")
    edited = message(page, "It left the warehouse on Tuesday.")
    expect(edited.locator(".edited")).to_have_text("edited", timeout=WAIT)
    expect(edited.locator(".edited")).to_have_attribute("title", _starts("Edited "))
    other_edited = message(other, "It left the warehouse on Tuesday.")
    expect(other_edited.locator(".edited")).to_have_text("edited", timeout=WAIT)
    assert "ticket.message.edited" in bot.event_types(cursor)  # the bot edits it in Telegram

    # An empty text is refused in words, the editor stays.
    edited.get_by_role("button", name="Edit", exact=True).click()
    editor.fill("   ")
    editor.press("Enter")
    expect(page.locator(".editor .error")).to_have_text("The text cannot be empty.")
    editor.press("Escape")

    # The history: the text before, then the text now.
    other_edited.locator(".edited").click()
    history = other.locator(".history")
    expect(history.locator(".version")).to_have_count(2, timeout=WAIT)
    expect(history.locator(".version").first).to_contain_text("Original")
    expect(history.locator(".version").first).to_contain_text("It left the warehouse on Tuesdy.")
    expect(history.locator(".version.current")).to_contain_text("It left the warehouse on Tuesday.")
    screenshot(other, "console-edited-en")
    other.keyboard.press("Escape")
    expect(history).to_have_count(0)

    # Delete asks first; Cancel keeps it, Delete removes it from both pages.
    edited.get_by_role("button", name="Delete", exact=True).click()
    confirm = edited.locator(".confirm")
    expect(confirm).to_contain_text("Delete this reply?")
    confirm.get_by_role("button", name="Cancel").click()
    expect(confirm).to_have_count(0)
    cursor = bot.cursor()
    edited.get_by_role("button", name="Delete", exact=True).click()
    edited.locator(".confirm").get_by_role("button", name="Delete", exact=True).click()
    expect(message(page, "It left the warehouse")).to_have_count(0, timeout=WAIT)
    expect(message(other, "It left the warehouse")).to_have_count(0, timeout=WAIT)
    assert "ticket.message.deleted" in bot.event_types(cursor)
    # The queue's preview falls back to the message before.
    expect(row(page, ticket).locator(".preview")).to_have_text(
        "It was due on Monday.", timeout=WAIT
    )
    listed = api(page, "GET", f"tickets/{ticket}/messages/")["body"]
    assert [m["text"] for m in listed] == ["It was due on Monday."]


def test_an_edit_after_the_window_is_refused_in_words(
    live, bot: Bot, console_page: ConsolePage
) -> None:
    """The server decides: a reply older than the window (moved back in the database
    while the page still offers Edit) is refused with 409, said as other refusals are."""
    server, _ = live
    page = console_page(server.base_url, "m1", expected_errors=("409",))
    wait_live(page)
    ticket = bot.open_ticket(8251, "Wrong address", "I typed the wrong street.", ANNA)
    open_ticket(page, ticket, "Wrong address")
    box = page.locator("#reply-text")
    box.fill("Which street is right?")
    box.press("Enter")
    reply = message(page, "Which street is right?")
    expect(reply.get_by_role("button", name="Edit", exact=True)).to_be_visible(timeout=WAIT)
    mid = int(reply.get_attribute("data-message-id") or 0)
    server.manage("shell", "-c", AGE_MESSAGE.format(id=mid))
    reply.get_by_role("button", name="Edit", exact=True).click()
    page.locator(".edit-text").fill("Which street is the right one?")
    page.locator(".edit-text").press("Enter")
    error = page.locator(".editor .error")
    expect(error).to_be_visible(timeout=WAIT)
    expect(error).not_to_have_text("")
    expect(page.locator(".edit-text")).to_have_value("Which street is the right one?")  # kept
    page.locator(".edit-text").press("Escape")
    expect(reply.locator(".text")).to_have_text("Which street is right?")
    # After a reload the page knows the window has passed: no Edit, no Delete.
    page.reload()
    expect(message(page, "Which street is right?")).to_have_count(1, timeout=WAIT)
    expect(message(page, "Which street is right?").locator(".msg-action")).to_have_count(0)


#: Moves a message's created_at an hour back (past the default 15-minute edit window).
AGE_MESSAGE = """
from datetime import timedelta
from django.utils import timezone
from support.models import Message
Message.objects.filter(pk={id}).update(created_at=timezone.now() - timedelta(hours=1))
"""


def test_a_users_edit_shows_as_edited_with_its_history(
    live, bot: Bot, console_page: ConsolePage
) -> None:
    server, _ = live
    page = console_page(server.base_url, "m1")
    wait_live(page)
    ticket = bot.open_ticket(8301, "Wrong order number", "My order is 58312.", ANNA)
    open_ticket(page, ticket, "Wrong order number")
    first = message(page, "My order is 58312.")
    expect(first).to_have_count(1, timeout=WAIT)
    mid = first.get_attribute("data-message-id")
    # The user edits the message in Telegram: the bot PATCHes it.
    response = bot.http.patch(
        f"tickets/{ticket}/messages/{mid}/", json={"text": "My order is 58213."}
    )
    assert response.status_code == 200, response.text
    edited = message(page, "My order is 58213.")
    expect(edited.locator(".edited")).to_have_text("edited", timeout=WAIT)
    expect(edited.locator(".edited")).to_have_attribute("title", _starts("Edited "))
    expect(edited.get_by_role("button", name="Edit", exact=True)).to_have_count(
        0
    )  # the user's, not ours
    expect(row(page, ticket).locator(".preview")).to_have_text("My order is 58213.")
    edited.locator(".edited").click()
    history = page.locator(".history")
    expect(history.locator(".version")).to_have_count(2, timeout=WAIT)
    expect(history.locator(".version").first).to_contain_text("My order is 58312.")
    expect(history.locator(".version.current")).to_contain_text("Edited by the user")
    page.locator("#thread-title").click()  # a click elsewhere closes it
    expect(history).to_have_count(0)


# ---- the head: rating and previous ticket ------------------------------------------------


def test_the_rating_and_the_previous_ticket_in_the_head(
    live, bot: Bot, console_page: ConsolePage
) -> None:
    server, _ = live
    page = console_page(server.base_url, "m1")
    wait_live(page)
    ticket = bot.open_ticket(8401, "Card declined", "My card is declined.", ANNA)
    open_ticket(page, ticket, "Card declined")
    page.get_by_role("button", name="Resolve").click()
    expect(page.locator(".ticket-head .meta")).to_contain_text("Resolved", timeout=WAIT)
    expect(page.locator(".ticket-extra")).to_be_hidden()
    # The user rates the help: the stars and the comment appear live.
    rated = bot.http.post(f"tickets/{ticket}/rating/", json={"score": 4})
    assert rated.status_code == 201, rated.text
    stars = page.locator(".ticket-extra .stars")
    expect(stars).to_have_text("★★★★☆", timeout=WAIT)
    expect(stars).to_have_attribute("aria-label", "Rated 4 of 5")
    expect(page.locator(".ticket-extra .rating-comment")).to_have_count(0)
    # Then the comment the bot asked for, live too.
    commented = bot.http.patch(f"tickets/{ticket}/rating/", json={"comment": "Quick, thanks"})
    assert commented.status_code == 200, commented.text
    expect(page.locator(".ticket-extra .rating-comment")).to_have_text(
        "Quick, thanks", timeout=WAIT
    )
    # Kept after a reload (it comes with the ticket).
    page.reload()
    expect(page.locator(".ticket-extra .stars")).to_have_text("★★★★☆", timeout=WAIT)

    # The user writes again later: a new ticket that links back to this one.
    follow = bot.open_ticket(8401, "Card declined again", "Same problem today.", ANNA)
    open_ticket(page, follow, "Card declined again")
    link = page.locator(".ticket-extra .previous")
    expect(link).to_have_text(f"Follows ticket #{ticket}", timeout=WAIT)
    expect(page.locator(".ticket-extra .stars")).to_have_count(0)
    link.click()
    expect(page.locator("#thread-title")).to_have_text("Card declined", timeout=WAIT)
    expect(page.locator(".ticket-extra .stars")).to_have_text("★★★★☆")


# ---- the stats page -------------------------------------------------------------------------

#: Past days' tickets, made in the database with their times: for each day back
#: (1..29), how many were opened; each gets a first reply some minutes later by
#: one of the managers, is resolved two hours later by them (all but one a day
#: on the first six days), and many are rated. Prints the expected figures.
SEED = """
import json
from datetime import datetime, time, timedelta
from django.contrib.auth.models import User
from django.utils import timezone
from my_users.models import MyTelegramUser
from support.models import Message, Rating, Ticket

names = {"m1": ("Maria", "Lopez"), "m2": ("Tom", "Becker"), "m3": ("Sam", "Okafor")}
managers = []
for username, (first, last) in names.items():
    user = User.objects.get(username=username)
    user.first_name, user.last_name = first, last
    user.save()
    managers.append(user)
today = timezone.localdate()
opened = {1: 4, 2: 6, 3: 3, 4: 7, 5: 5, 6: 2}
for back in range(7, 30):
    opened[back] = back % 4
expected = {}
scores = [5, 4, 5, 3, 5, 4, 2, 5, 4, 1]
rated = 0
for back, count in opened.items():
    day = today - timedelta(days=back)
    resolved = 0
    for n in range(count):
        user, _ = MyTelegramUser.objects.get_or_create(telegram_id=9500 + back * 10 + n)
        created = timezone.make_aware(datetime.combine(day, time(9, 0))) + timedelta(minutes=37 * n)
        manager = managers[(back + n) % 3]
        ticket = Ticket.objects.create(user=user, title=f"Seeded {back}/{n}", created_at=created)
        Message.objects.create(ticket=ticket, sender="user", text="Hello", created_at=created)
        Message.objects.create(
            ticket=ticket, sender="supp", text="Hi, looking", author=manager,
            created_at=created + timedelta(minutes=3 + 4 * ((back + n) % 5)),
        )
        if back > 6 or n < count - 1:
            Ticket.objects.filter(pk=ticket.pk).update(
                resolved=True, resolved_at=created + timedelta(hours=2), support_manager=manager
            )
            resolved += 1
            if (2 * back + n) % 4 != 1:
                score = scores[rated % len(scores)]
                rating = Rating.objects.create(ticket=ticket, score=score, comment="")
                Rating.objects.filter(pk=rating.pk).update(created_at=created + timedelta(hours=3))
                rated += 1
    expected[day.isoformat()] = {"opened": count, "resolved": resolved}
print(json.dumps(expected))
"""


@pytest.fixture(scope="module")
def seeded(live: tuple[LiveServer, Credentials]) -> dict[str, dict[str, int]]:
    """The past days' tickets (once per server): each seeded day's opened and resolved."""
    server, _ = live
    expected: dict[str, dict[str, int]] = json.loads(
        server.manage("shell", "-c", SEED).strip().splitlines()[-1]
    )
    return expected


def test_the_stats_page_draws_its_charts_from_seeded_data(
    live, seeded: dict[str, dict[str, int]], bot: Bot, console_page: ConsolePage
) -> None:
    server, _ = live
    expected = seeded
    page = console_page(server.base_url, "m1")
    wait_live(page)
    page.set_viewport_size({"width": 1200, "height": 800})
    page.get_by_role("link", name="Stats").click()
    stats = page.locator("#stats")
    expect(stats).to_be_visible(timeout=WAIT)
    expect(page.locator("main.layout")).to_be_hidden()
    expect(stats.get_by_role("button", name="7 days")).to_have_attribute("aria-pressed", "true")
    bars = stats.locator(".chart-days rect.bar.opened")
    expect(bars).to_have_count(7, timeout=WAIT)
    expect(stats.locator(".chart-days rect.bar.resolved")).to_have_count(7)
    _check_days(page, 7, expected)
    # The ratings' distribution and the managers are what the server counted.
    answer = api(page, "GET", "stats/?days=7")["body"]
    for score, count in answer["ratings"]["by_score"].items():
        bar = stats.locator(f'.chart-ratings rect.bar[data-score="{score}"]')
        expect(bar).to_have_attribute("data-value", str(count))
    assert answer["ratings"]["count"] > 0
    table = stats.locator(".stats-managers tbody tr")
    expect(table).to_have_count(len(answer["managers"]))
    assert {m["name"] for m in answer["managers"]} >= {"Maria Lopez", "Tom Becker", "Sam Okafor"}
    maria = stats.locator(".stats-managers tbody tr").filter(has_text="Maria Lopez")
    expect(maria.locator("td").first).to_have_text(
        str(next(m for m in answer["managers"] if m["name"] == "Maria Lopez")["replies"])
    )
    expect(stats.locator(".card-first-reply .figure")).not_to_have_text("No data")
    expect(stats.locator(".card-opened .figure")).to_have_text(
        str(sum(d["opened"] for d in answer["per_day"]))
    )
    page.wait_for_timeout(300)
    screenshot(page, "console-stats-en")

    # 30 days: thirty pairs of bars, the older seeded days among them.
    stats.get_by_role("button", name="30 days").click()
    expect(stats.locator(".chart-days rect.bar.opened")).to_have_count(30, timeout=WAIT)
    expect(stats.get_by_role("button", name="30 days")).to_have_attribute("aria-pressed", "true")
    _check_days(page, 30, expected)
    # While it is open, the figures follow the desk: a new ticket counts today.
    today = stats.locator(".chart-days rect.bar.opened").last
    before = int(today.get_attribute("data-value") or 0)
    bot.open_ticket(8501, "Counted live", "hello")
    expect(today).to_have_attribute("data-value", str(before + 1), timeout=WAIT)
    # The choice is kept; back to the queue and the desk is there again.
    stats.get_by_role("link", name="← Queue").click()
    expect(page.locator("main.layout")).to_be_visible()
    expect(stats).to_be_hidden()
    page.reload()
    page.get_by_role("link", name="Stats").click()
    expect(page.locator("#stats .chart-days rect.bar.opened")).to_have_count(30, timeout=WAIT)


def test_the_stats_page_in_russian(
    live, seeded: dict[str, dict[str, int]], console_page: ConsolePage
) -> None:
    server, _ = live
    page = console_page(server.base_url, "m2", locale="ru-RU")
    wait_live(page)
    page.set_viewport_size({"width": 1200, "height": 800})
    # The page's address opens it too.
    page.goto(f"{server.base_url}/support/manager/#stats")
    stats = page.locator("#stats")
    expect(stats).to_be_visible(timeout=WAIT)
    expect(stats.locator("h2")).to_have_text("Статистика")
    stats.get_by_role("button", name="7 дней").click()
    expect(stats.locator(".chart-days rect.bar.opened")).to_have_count(7, timeout=WAIT)
    expect(stats.locator(".card-first-reply dt")).to_have_text("Медиана первого ответа")
    expect(stats.locator(".stats-managers thead")).to_contain_text("Менеджер")
    expect(stats.locator(".chart-days rect.bar.opened title").first).to_contain_text("открыто")
    page.wait_for_timeout(300)
    screenshot(page, "console-stats-ru")


def _check_days(page: Page, days: int, expected: dict[str, dict[str, int]]) -> None:
    """Each bar's figure is the server's for its day; the seeded days' are what was seeded."""
    answer = api(page, "GET", f"stats/?days={days}")["body"]
    assert len(answer["per_day"]) == days
    drawn = page.evaluate(
        """() => Array.from(document.querySelectorAll("#stats .chart-days rect.bar"),
            (bar) => [bar.dataset.date, bar.classList.contains("opened") ? "opened" : "resolved",
                      Number(bar.dataset.value)])"""
    )
    served = [
        [d["date"], series, d[series]]
        for d in answer["per_day"]
        for series in ("opened", "resolved")
    ]
    assert drawn == served
    seeded = {d["date"]: d for d in answer["per_day"] if d["date"] in expected}
    assert len(seeded) == days - 1  # every day but today was seeded
    for date, entry in seeded.items():
        assert {"opened": entry["opened"], "resolved": entry["resolved"]} == expected[date], date
    # Taller bars for larger figures.
    heights = page.evaluate(
        """() => Object.fromEntries(Array.from(
            document.querySelectorAll("#stats .chart-days rect.bar.opened"),
            (bar) => [bar.dataset.date, Number(bar.getAttribute("height"))]))"""
    )
    for a in seeded.values():
        for b in seeded.values():
            if a["opened"] > b["opened"]:
                assert heights[a["date"]] > heights[b["date"]]


def _starts(prefix: str) -> Any:
    import re

    return re.compile("^" + re.escape(prefix))

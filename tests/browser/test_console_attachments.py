"""Attachments in the manager console, in a real browser, against the example project.

A bot posts a user's photo and voice message over REST; the page shows the
picture (loaded, full size on a click), a player that has read the voice
message's length, and a manager's document as a chip to download. A manager
attaches files with the file picker and by pasting a screenshot, and the
bot's event stream receives both and downloads the same bytes; a file
dropped on the conversation is attached too, and Cancel stops its upload. A
refused file is refused in words, with the typed text and the other files
kept.
"""

from __future__ import annotations

import base64
import io
import os
import re
import zipfile
from dataclasses import dataclass

import httpx
import pytest
from playwright.sync_api import FilePayload, Page, expect

from tests.browser import samples
from tests.browser.conftest import WAIT, Bot, ConsolePage, open_ticket, row, screenshot
from tests.harness.server import Credentials, LiveServer

pytestmark = [pytest.mark.live, pytest.mark.browser]

INVOICE = "invoice-2026-1187.pdf"


QueueEntry = tuple[str, str, tuple[str, str] | None]  # title, first text, (file, kind)


@dataclass(frozen=True)
class Words:
    """What the users and the manager write in one language, for the screenshots."""

    title: str
    hello: str
    caption: str
    answer: str
    #: The queue around the conversation: one in words, one photo only, one document.
    queue: tuple[QueueEntry, ...]


WORDS = {
    "en": Words(
        title="Payment declined",
        hello="Hello, I cannot pay for my order.",
        caption="It shows this when I pay",
        answer="Here is your invoice; the payment did go through.",
        queue=(
            ("Refund for order #58107", "The parcel came damaged, I want my money back.", None),
            ("Delivery address", "The courier cannot find my door.", ("door.jpg", "photo")),
            ("Company invoice", "Can you check our details?", ("requisites.pdf", "document")),
        ),
    ),
    "ru": Words(
        title="Оплата не проходит",
        hello="Здравствуйте, не получается оплатить заказ.",
        caption="Вот что показывает при оплате",
        answer="Вот ваш счёт: оплата прошла.",
        queue=(
            ("Возврат за заказ №58107", "Посылка пришла повреждённой, верните деньги.", None),
            ("Адрес доставки", "Курьер не может найти мою дверь.", ("dver.jpg", "photo")),
            ("Счёт для компании", "Проверьте реквизиты.", ("rekvizity.pdf", "document")),
        ),
    ),
}


def a_busy_queue(bot: Bot, lang: str, first_user: int) -> None:
    """Other tickets, for the screenshots: one in words, one photo only, one with a document."""
    for offset, (title, text, attachment) in enumerate(WORDS[lang].queue):
        ticket = bot.open_ticket(first_user + offset, title, text)
        if attachment is not None:
            name, kind = attachment
            body, type_ = (
                (samples.error_screenshot(), "image/jpeg")
                if kind == "photo"
                else (samples.invoice_pdf(), "application/pdf")
            )
            bot.post_files(ticket, "", [(name, body, type_)])


def a_user_sends_a_photo_and_a_voice_message(bot: Bot, user_id: int, lang: str) -> int:
    words = WORDS[lang]
    ticket = bot.open_ticket(user_id, words.title, words.hello)
    photo = ("IMG_2041.jpg", samples.error_screenshot(), "image/jpeg")
    bot.post_files(ticket, words.caption, [photo])
    bot.post_files(ticket, "", [("voice.ogg", samples.voice(), "audio/ogg")], kinds=["voice"])
    return ticket


def resolve_every_ticket(server: LiveServer, credentials: Credentials) -> None:
    """An empty queue: every open ticket resolved over REST, by the manager who holds it."""
    tokens = dict(zip(credentials.manager_ids, credentials.managers, strict=True))
    with httpx.Client(base_url=server.api, timeout=15) as http:
        listed = http.get(
            "tickets/",
            params={"resolved": "false", "limit": 500},
            headers={"Authorization": f"Token {credentials.managers[0]}"},
        )
        for ticket in listed.json():
            holder = ticket["support_manager"]
            token = tokens[holder["id"]] if holder else credentials.managers[0]
            response = http.post(
                f"tickets/{ticket['id']}/resolve/", headers={"Authorization": f"Token {token}"}
            )
            assert response.status_code == 200, response.text


def pick(page: Page, *files: FilePayload) -> None:
    """Files chosen in the file picker that the Attach button opens."""
    with page.expect_file_chooser() as chooser:
        page.locator("#reply-form .attach").click()
    chooser.value.set_files(list(files))


def pdf(name: str = INVOICE) -> FilePayload:
    return {"name": name, "mimeType": "application/pdf", "buffer": samples.invoice_pdf()}


def natural_width(page: Page, selector: str) -> int:
    width: int = page.locator(selector).evaluate("(img) => img.complete ? img.naturalWidth : 0")
    return width


def wait_loaded(page: Page, selector: str) -> int:
    """The natural width of the picture *selector*, once it has loaded."""
    page.wait_for_function(
        "(s) => { const i = document.querySelector(s); return i?.complete && i.naturalWidth > 0; }",
        arg=selector,
        timeout=WAIT,
    )
    return natural_width(page, selector)


def show_conversation(page: Page, ticket: int, lang: str) -> None:
    """The manager takes the ticket and answers with the invoice; the page shows all three."""
    page.locator('[data-tab="open"]').click()
    open_ticket(page, ticket, WORDS[lang].title, tab=None)
    page.locator(".ticket-head [data-action=assign]").click()
    expect(page.locator(".ticket-head [data-action=unassign]")).to_be_visible(timeout=WAIT)
    expect(row(page, ticket).locator(".badge")).to_have_count(0, timeout=WAIT)  # seen
    pick(page, pdf())
    expect(page.locator("#reply-files .chip")).to_have_count(1)
    page.locator("#reply-text").fill(WORDS[lang].answer)
    page.locator("#reply-text").press("Enter")
    expect(page.locator(".message.supp .att-file")).to_have_count(1, timeout=WAIT)
    expect(page.locator("#reply-files")).to_be_hidden()
    wait_loaded(page, ".message .att-picture img")
    # The voice message's player has read its length (4.2 s of Opus).
    page.wait_for_function(
        "() => { const a = document.querySelector('.message audio'); return a && a.duration > 4; }",
        timeout=WAIT,
    )


def test_a_photo_a_voice_message_and_a_document_in_the_conversation(
    live, bot: Bot, console_page: ConsolePage
) -> None:
    server, credentials = live
    resolve_every_ticket(server, credentials)
    page = console_page(server.base_url, "m1")
    a_busy_queue(bot, "en", 6110)
    ticket = a_user_sends_a_photo_and_a_voice_message(bot, 6101, "en")
    # The queue says what an attachment-only message holds.
    expect(row(page, ticket).locator(".preview")).to_have_text("Voice message", timeout=WAIT)
    expect(page.locator(".tickets .preview", has_text="Photo")).to_have_count(1)
    expect(page.locator(".tickets .preview", has_text="Document: requisites.pdf")).to_have_count(1)
    show_conversation(page, ticket, "en")

    photo = page.locator(".message.user .att-picture")
    expect(photo).to_have_count(1)
    expect(photo.locator("img")).to_have_attribute("alt", "Photo")
    # The thumbnail, not the full file, and it loaded (fits 320 px).
    assert "/thumbnail/" in (photo.locator("img").get_attribute("src") or "")
    assert 0 < natural_width(page, ".message.user .att-picture img") <= 320
    expect(page.locator(".message.user").nth(1).locator(".text")).to_have_text(WORDS["en"].caption)
    voice = page.locator('.message.user [data-kind="voice"]')
    expect(voice.locator(".att-name")).to_have_text("Voice message")
    chip = page.locator(".message.supp .att-file")
    expect(chip.locator(".att-name")).to_have_text(INVOICE)
    expect(chip.locator(".att-icon")).to_have_text("PDF")
    expect(chip.locator(".att-size")).to_contain_text("kB")
    expect(chip).to_have_attribute("download", INVOICE)
    expect(row(page, ticket).locator(".preview")).to_have_text(
        f"You: Document: {INVOICE} · {WORDS['en'].answer}"
    )
    page.set_viewport_size({"width": 1280, "height": 900})
    screenshot(page, "attachments-en")

    # A click opens the picture at full size over the page; Escape closes it.
    photo.click()
    viewer = page.locator("#viewer")
    expect(viewer).to_be_visible()
    assert wait_loaded(page, "#viewer .viewer-image") == 960
    expect(viewer.locator(".viewer-name")).to_contain_text("IMG_2041.jpg")
    expect(viewer.locator(".viewer-download")).to_have_attribute("download", "IMG_2041.jpg")
    screenshot(page, "attachments-viewer-en")
    page.keyboard.press("Escape")
    expect(viewer).to_be_hidden()


def test_russian_attachments(live, bot: Bot, console_page: ConsolePage) -> None:
    server, credentials = live
    resolve_every_ticket(server, credentials)
    page = console_page(server.base_url, "m1", locale="ru-RU")
    a_busy_queue(bot, "ru", 6210)
    ticket = a_user_sends_a_photo_and_a_voice_message(bot, 6202, "ru")
    expect(row(page, ticket).locator(".preview")).to_have_text("Голосовое сообщение", timeout=WAIT)
    expect(page.locator(".tickets .preview", has_text="Документ: rekvizity.pdf")).to_have_count(1)
    show_conversation(page, ticket, "ru")
    expect(page.locator('.message.user [data-kind="voice"] .att-name')).to_have_text(
        "Голосовое сообщение"
    )
    expect(page.locator(".message.supp .att-file .att-size")).to_contain_text("Скачать")
    expect(page.locator("#reply-form .attach")).to_contain_text("Прикрепить")
    page.set_viewport_size({"width": 1280, "height": 900})
    screenshot(page, "attachments-ru")


def random_zip(size: int) -> bytes:
    """A ZIP archive of *size* bytes or so that does not compress (so the upload takes time)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("app.log", os.urandom(size))
    return out.getvalue()


PUT_ON_CLIPBOARD = """async (encoded) => {
  const bytes = Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0));
  const blob = new Blob([bytes], {type: "image/png"});
  await navigator.clipboard.write([new ClipboardItem({"image/png": blob})]);
  // What a paste delivers: the browser's own encoding of the clipboard's image.
  const [item] = await navigator.clipboard.read();
  const held = new Uint8Array(await (await item.getType("image/png")).arrayBuffer());
  let binary = "";
  for (const byte of held) binary += String.fromCharCode(byte);
  return btoa(binary);
}"""


def test_a_picked_file_and_a_pasted_screenshot_reach_the_bot(
    live, bot: Bot, console_page: ConsolePage
) -> None:
    server, _ = live
    page = console_page(server.base_url, "m1")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.base_url)
    ticket = bot.open_ticket(6303, "Where is the switch?", "I cannot find the setting.")
    open_ticket(page, ticket, "Where is the switch?", tab=None)
    page.locator(".ticket-head [data-action=assign]").click()
    expect(page.locator(".ticket-head [data-action=unassign]")).to_be_visible(timeout=WAIT)
    cursor = bot.cursor()

    logs = random_zip(1_500_000)
    pick(page, {"name": "app-logs.zip", "mimeType": "application/zip", "buffer": logs})
    clipboard = base64.b64decode(
        page.evaluate(PUT_ON_CLIPBOARD, base64.b64encode(samples.annotated_screenshot()).decode())
    )
    box = page.locator("#reply-text")
    box.focus()
    page.keyboard.press("Control+V")
    chips = page.locator("#reply-files .chip")
    expect(chips).to_have_count(2)
    expect(chips.nth(0).locator(".chip-name")).to_have_text("app-logs.zip")
    pasted = chips.nth(1).locator(".chip-name").inner_text()
    assert re.fullmatch(r"screenshot-\d{4}-\d\d-\d\d-\d{6}\.png", pasted), pasted
    assert natural_width(page, "#reply-files .chip-preview") == 640  # its preview, from memory
    expect(box).to_have_value("")  # the paste attached the picture and typed nothing

    # A slow uplink, so that the upload's progress shows.
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 20, "downloadThroughput": -1, "uploadThroughput": 400_000},
    )
    box.fill("Turn on the third switch; the logs are attached too.")
    box.press("Enter")
    progress = page.locator("#reply-progress")
    expect(progress).to_be_visible(timeout=WAIT)
    expect(progress.locator(".progress-label")).to_contain_text("Uploading: ")
    page.wait_for_function(
        "() => document.querySelector('#reply-progress progress').value > 0", timeout=WAIT
    )
    expect(page.locator("#reply-form .attach")).to_be_disabled()
    screenshot(page, "attachments-uploading-en")
    expect(page.locator(".message.supp")).to_have_count(1, timeout=30_000)
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    expect(progress).to_be_hidden()
    expect(page.locator("#reply-files")).to_be_hidden()
    expect(box).to_have_value("")
    sent = page.locator(".message.supp")
    expect(sent.locator(".att-file .att-name")).to_have_text("app-logs.zip")
    wait_loaded(page, ".message.supp .att-picture img")

    # The bot's event stream has the message, and its files are the same bytes.
    event = bot.wait_for(
        cursor,
        lambda e: e["type"] == "ticket.message.new" and e["message"]["sender"] == "supp",
    )
    message = event["message"]
    assert message["text"] == "Turn on the third switch; the logs are attached too."
    attachments = message["attachments"]
    assert [(a["filename"], a["kind"]) for a in attachments] == [
        ("app-logs.zip", "document"),
        (pasted, "photo"),
    ]
    assert bot.download(attachments[0]["url"]) == logs
    assert bot.download(attachments[1]["url"]) == clipboard
    assert (attachments[1]["width"], attachments[1]["height"]) == (640, 400)


def test_a_refused_file_is_refused_in_words_and_nothing_typed_is_lost(
    live, bot: Bot, console_page: ConsolePage
) -> None:
    server, _ = live
    # The refusal is a 415, which Chromium logs as a failed resource.
    page = console_page(server.base_url, "m1", expected_errors=("415 (Unsupported Media Type)",))
    ticket = bot.open_ticket(6404, "Refusals", "Can you send me the files?")
    open_ticket(page, ticket, "Refusals", tab=None)
    page.locator(".ticket-head [data-action=assign]").click()
    expect(page.locator(".ticket-head [data-action=unassign]")).to_be_visible(timeout=WAIT)
    box = page.locator("#reply-text")
    box.fill("Here are both files.")
    error = page.locator("#reply-error")

    # Too large: refused by the page itself, before anything is sent.
    too_large = b"%PDF-1.4\n" + bytes(25 * 1024 * 1024)
    pick(page, {"name": "scan.pdf", "mimeType": "application/pdf", "buffer": too_large})
    expect(error).to_have_text("scan.pdf is too large (25 MB); the limit is 20 MB.")
    expect(page.locator("#reply-files .chip.refused .chip-meta")).to_contain_text("Too large")
    page.get_by_role("button", name="Remove scan.pdf").click()
    expect(page.locator("#reply-files")).to_be_hidden()
    expect(error).to_be_hidden()

    # A type the desk does not accept: refused by the server, named in words.
    pick(
        page,
        {"name": "setup.bin", "mimeType": "application/octet-stream", "buffer": samples.PROGRAM},
        pdf(),
    )
    box.press("Enter")
    expect(error).to_have_text(
        "setup.bin: the desk does not accept this type of file.", timeout=WAIT
    )
    expect(box).to_have_value("Here are both files.")
    refused = page.locator("#reply-files .chip.refused")
    expect(refused).to_have_count(1)
    expect(refused.locator(".chip-name")).to_have_text("setup.bin")
    expect(refused.locator(".chip-meta")).to_contain_text("Type not accepted")
    expect(page.locator("#reply-files .chip:not(.refused) .chip-name")).to_have_text(INVOICE)
    assert page.locator(".message.supp").count() == 0
    screenshot(page, "attachments-refused-en")

    # Sent again: the text and the file that was accepted.
    page.locator("#reply-form button[type=submit]").click()
    sent = page.locator(".message.supp")
    expect(sent).to_have_count(1, timeout=WAIT)
    expect(sent.locator(".text")).to_have_text("Here are both files.")
    expect(sent.locator(".att-file .att-name")).to_have_text(INVOICE)
    expect(sent.locator(".att-file")).to_have_count(1)
    expect(page.locator("#reply-files")).to_be_hidden()
    expect(error).to_be_hidden()
    expect(box).to_have_value("")


DROP = """([name, encoded]) => {
  const bytes = Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0));
  const data = new DataTransfer();
  data.items.add(new File([bytes], name, {type: "application/zip"}));
  return data;
}"""


def test_a_dropped_file_and_a_cancelled_upload_keep_the_draft(
    live, bot: Bot, console_page: ConsolePage
) -> None:
    server, _ = live
    page = console_page(server.base_url, "m1")
    ticket = bot.open_ticket(6505, "Dropped", "Here are my logs, can you look?")
    open_ticket(page, ticket, "Dropped", tab=None)
    page.locator(".ticket-head [data-action=assign]").click()
    expect(page.locator(".ticket-head [data-action=unassign]")).to_be_visible(timeout=WAIT)

    logs = random_zip(600_000)
    transfer = page.evaluate_handle(DROP, ["crash.zip", base64.b64encode(logs).decode()])
    conversation = page.locator("#thread .messages")
    conversation.dispatch_event("dragenter", {"dataTransfer": transfer})
    expect(page.locator(".drop-zone")).to_be_visible()  # the whole conversation takes files
    conversation.dispatch_event("drop", {"dataTransfer": transfer})
    expect(page.locator(".drop-zone")).to_be_hidden()
    expect(page.locator("#reply-files .chip-name")).to_have_text(["crash.zip"])

    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 20, "downloadThroughput": -1, "uploadThroughput": 50_000},
    )
    box = page.locator("#reply-text")
    box.fill("The crash log")
    box.press("Enter")
    expect(page.locator("#reply-progress")).to_be_visible(timeout=WAIT)
    expect(box).to_have_js_property("readOnly", True)
    page.locator("#reply-progress .cancel").click()
    expect(page.locator("#reply-error")).to_have_text(
        "Upload cancelled: nothing was sent. Your text and files are kept."
    )
    expect(page.locator("#reply-progress")).to_be_hidden()
    expect(box).to_have_value("The crash log")
    expect(page.locator("#reply-files .chip-name")).to_have_text(["crash.zip"])
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    page.wait_for_timeout(500)
    assert page.locator(".message.supp").count() == 0

    # Sent after all: the dropped file, byte for byte.
    page.locator("#reply-form button[type=submit]").click()
    expect(page.locator(".message.supp .att-file .att-name")).to_have_text(
        "crash.zip", timeout=WAIT
    )
    message = page.evaluate(
        f"fetch('/support/tickets/{ticket}/messages/?ordering=-created_at&limit=1')"
        ".then((r) => r.json())"
    )[0]
    assert bot.download(message["attachments"][0]["url"]) == logs

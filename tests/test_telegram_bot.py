"""support_client.telegram's parts, without processes: settings, state, splitting, refusals,
events.

The desk is mocked with respx and Telegram with a recorder; the whole path
through real processes is in ``test_telegram_bot_live.py``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
import respx
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import Message as TelegramMessage

from support_client import AsyncSupportClient, Message, MessageNew, StreamReset, TicketResolved
from support_client import telegram as tb
from tests.sdk.common import MESSAGE, TICKET, fields_of, files_of

BASE = "http://desk.test/support/"
TOKEN = "4242:TEST-token"


class Recorder:
    """Stands in for :class:`support_client.telegram.Telegram`: records what is sent,
    serves users' files."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, str]] = []
        #: (chat, caption, [(filename, kind, bytes), …]) per send_files.
        self.files: list[tuple[int, str, list[tuple[str, str, bytes]]]] = []
        #: file id -> bytes, what download() gives; ids in too_big are refused as Telegram does.
        self.user_files: dict[str, bytes] = {}
        self.too_big: set[str] = set()

    async def send(self, chat_id: int, text: str, *, patient: bool = False) -> bool:
        self.sent.append((chat_id, text))
        return True

    async def send_files(
        self, chat_id: int, text: str, files: Sequence[tb.Outgoing], *, patient: bool = False
    ) -> bool:
        self.files.append(
            (chat_id, text, [(f.filename, f.kind, f.path.read_bytes()) for f in files])
        )
        return True

    async def download(self, file_id: str, destination: Path) -> None:
        if file_id in self.too_big:
            raise tb.FileTooBig(file_id)
        destination.write_bytes(self.user_files[file_id])


@pytest.fixture
async def client() -> AsyncIterator[AsyncSupportClient]:
    async with AsyncSupportClient(BASE, api_key="k", max_retries=0) as made:
        yield made


@pytest.fixture
def desk() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE) as router:
        yield router


@pytest.fixture
def bot(client: AsyncSupportClient, tmp_path: Path) -> tb.SupportBot:
    state = tb.JsonFileState(tmp_path / "state.json")
    return tb.SupportBot(client, Recorder(), state, delivery_timeout=0, retry_delay=0)


def sent(bot: tb.SupportBot) -> list[tuple[int, str]]:
    return cast(Recorder, bot.telegram).sent


def recorder(bot: tb.SupportBot) -> Recorder:
    return cast(Recorder, bot.telegram)


def state_of(bot: tb.SupportBot) -> tb.JsonFileState:
    return cast(tb.JsonFileState, bot.state)


def message(
    text: str | None = "hello",
    *,
    language: tb.Language = "en",
    message_id: int = 7,
    media: tuple[tb.Media, ...] = (),
    group: str | None = None,
) -> tb.Incoming:
    return tb.Incoming(
        user_id=123,
        chat_id=123,
        message_id=message_id,
        language=language,
        text=text,
        media=media,
        media_group_id=group,
    )


def ticket(**changes: Any) -> dict[str, Any]:
    return {**TICKET, **changes}


# -- helpers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("short", ["short"]),
        ("a" * 10, ["a" * 8, "aa"]),
        ("word " * 3, ["word ", "word ", "word "]),
        ("one two\nthree", ["one two\n", "three"]),
        ("\U0001f600" * 5, ["\U0001f600" * 4, "\U0001f600"]),  # 2 UTF-16 units each
        ("abcdefgh" + " " * 8, ["abcdefgh"]),  # whitespace-only parts are dropped
    ],
)
def test_split_text_keeps_parts_within_the_limit(text: str, parts: list[str]) -> None:
    assert tb.split_text(text, limit=8) == parts


def test_split_text_of_5000_characters_is_two_telegram_messages() -> None:
    text = ("All the details you asked for. " * 200)[:5000]
    parts = tb.split_text(text)
    assert len(parts) == 2
    assert "".join(parts) == text
    assert all(len(part) <= tb.TELEGRAM_TEXT_LIMIT for part in parts)
    assert parts[0].endswith(" ")  # cut between words


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("My app crashes\nsince Monday", "My app crashes"),
        ("\n\n  spaced   out  \n", "spaced out"),
        ("x" * 100, "x" * 63 + "…"),
    ],
)
def test_ticket_title_is_the_first_line_shortened(text: str, title: str) -> None:
    assert tb.ticket_title(text) == title


@pytest.mark.parametrize(
    ("code", "language"),
    [("ru", "ru"), ("ru-RU", "ru"), ("RU", "ru"), ("en", "en"), ("uk", "en"), (None, "en")],
)
def test_language_of_a_telegram_user(code: str | None, language: str) -> None:
    assert tb.language_of(code) == language


def test_idempotency_key_is_built_from_chat_and_message_ids() -> None:
    assert tb.idempotency_key(-100123, 45) == "tg--100123-45"


# -- settings and state ----------------------------------------------------------------

GOOD = {"TELEGRAM_BOT_TOKEN": TOKEN, "SUPPORT_BASE_URL": BASE, "SUPPORT_API_KEY": "k"}


def test_settings_from_the_environment() -> None:
    settings = tb.Settings.from_env(
        {**GOOD, "TELEGRAM_API_URL": "http://127.0.0.1:8081", "SUPPORT_BOT_STATE": "/tmp/s.json"}
    )
    assert settings.token == TOKEN
    assert settings.api_url == "http://127.0.0.1:8081"
    assert settings.state_path == Path("/tmp/s.json")
    assert settings.delivery_timeout == 30  # docs/bot.md
    assert tb.Settings.from_env(GOOD).state_path == Path("telegram_bot_state.json")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"TELEGRAM_BOT_TOKEN": ""}, "TELEGRAM_BOT_TOKEN is not set"),
        ({"TELEGRAM_BOT_TOKEN": "nope"}, "TELEGRAM_BOT_TOKEN does not look like a bot token"),
        ({"SUPPORT_BASE_URL": ""}, "SUPPORT_BASE_URL is not set"),
        ({"SUPPORT_BASE_URL": "desk.test/support/"}, "SUPPORT_BASE_URL must be an http(s) URL"),
        ({"SUPPORT_API_KEY": " "}, "SUPPORT_API_KEY is not set"),
        ({"TELEGRAM_API_URL": "localhost:8081"}, "TELEGRAM_API_URL must be an http(s) URL"),
        ({"SUPPORT_BOT_DELIVERY_TIMEOUT": "soon"}, "SUPPORT_BOT_DELIVERY_TIMEOUT must be"),
        ({"SUPPORT_BOT_DELIVERY_TIMEOUT": "-1"}, "SUPPORT_BOT_DELIVERY_TIMEOUT must be"),
    ],
)
def test_a_bad_setting_is_one_clear_line(changes: dict[str, str], message: str) -> None:
    with pytest.raises(tb.ConfigError) as caught:
        tb.Settings.from_env({**GOOD, **changes})
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_main_prints_one_line_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert tb.main(env={}) == 2
    assert capsys.readouterr().err == (
        "support_client.telegram: TELEGRAM_BOT_TOKEN is not set (ask @BotFather for one)\n"
    )


async def test_state_is_saved_atomically_and_loaded_back(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    state = tb.JsonFileState(path, "support:41", {123: "ru"})
    await state.save()
    state.cursor = "support:42"
    await state.save()
    loaded = tb.JsonFileState.load(path)
    assert (loaded.cursor, loaded.languages) == ("support:42", {123: "ru"})
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]  # no temporary left


def test_a_missing_state_file_starts_empty(tmp_path: Path) -> None:
    state = tb.JsonFileState.load(tmp_path / "none.json")
    assert (state.cursor, state.languages) == (None, {})


@pytest.mark.parametrize("content", ["{", "[]", '{"cursor": 5}', '{"languages": {}}'])
def test_a_state_file_that_is_not_ours_is_a_clear_error(tmp_path: Path, content: str) -> None:
    path = tmp_path / "state.json"
    path.write_text(content)
    with pytest.raises(tb.ConfigError, match="is not this bot's state file"):
        tb.JsonFileState.load(path)


# -- Telegram -> desk ------------------------------------------------------------------


async def test_a_first_message_opens_a_ticket_with_its_key(
    bot: tb.SupportBot, desk: respx.MockRouter
) -> None:
    desk.get("tickets/").respond(json=[])
    create = desk.post("tickets/").respond(201, json=ticket(resolved=False))

    await bot.on_message(message("My app crashes\nsince Monday"))

    assert json.loads(create.calls.last.request.content) == {
        "user_id": 123,
        "title": "My app crashes",
        "text": "My app crashes\nsince Monday",
        "idempotency_key": "tg-123-7",
    }
    assert sent(bot) == [(123, tb.text_for("en", "opened", id=16))]


async def test_a_replayed_key_that_returns_a_resolved_ticket_says_nothing(
    bot: tb.SupportBot, desk: respx.MockRouter
) -> None:
    # The update was posted before the ticket was resolved: nothing new happened.
    desk.get("tickets/").respond(json=[])
    desk.post("tickets/").respond(200, json=ticket(resolved=True))

    await bot.on_message(message())

    assert sent(bot) == []


async def test_a_ticket_resolved_meanwhile_makes_way_for_a_new_one(
    bot: tb.SupportBot, desk: respx.MockRouter
) -> None:
    desk.get("tickets/").respond(json=[ticket(id=5)])
    desk.post("tickets/5/messages/").respond(
        409, json={"code": "ticket_resolved", "detail": "resolved"}
    )
    create = desk.post("tickets/").respond(201, json=ticket(id=6, resolved=False))

    await bot.on_message(message())

    assert create.called
    assert sent(bot) == [(123, tb.text_for("en", "opened", id=6))]


async def test_text_over_the_desks_limit_gets_a_plain_answer(
    bot: tb.SupportBot, desk: respx.MockRouter
) -> None:
    desk.get("tickets/").respond(json=[ticket()])
    desk.post("tickets/16/messages/").respond(
        400, json={"code": "invalid", "detail": "x", "errors": {"text": ["too long"]}}
    )

    await bot.on_message(message("x" * 5000, language="ru"))

    assert sent(bot) == [(123, tb.text_for("ru", "too_long"))]


@pytest.mark.parametrize("status", [401, 403, 503])
async def test_a_refusing_or_absent_desk_gets_the_undelivered_answer(
    bot: tb.SupportBot, desk: respx.MockRouter, status: int
) -> None:
    desk.get("tickets/").respond(status, json={"code": "x", "detail": "x"})

    await bot.on_message(message())

    assert sent(bot) == [(123, tb.text_for("en", "undelivered"))]


async def test_an_unreachable_desk_is_retried_with_the_same_key(
    bot: tb.SupportBot, desk: respx.MockRouter
) -> None:
    bot.desk.delivery_timeout = 5
    desk.get("tickets/").respond(json=[ticket()])
    send = desk.post("tickets/16/messages/").mock(
        side_effect=[httpx.ConnectError("down"), httpx.Response(201, json=TICKET["last_message"])]
    )

    await bot.on_message(message())

    keys = [json.loads(call.request.content)["idempotency_key"] for call in send.calls]
    assert keys == ["tg-123-7", "tg-123-7"]
    assert sent(bot) == []


async def test_a_message_of_no_kind_the_desk_carries_is_answered_in_the_users_language(
    bot: tb.SupportBot,
) -> None:
    await bot.on_message(message(None, language="ru"))  # a poll, a dice: no text, no file
    assert sent(bot) == [(123, tb.text_for("ru", "not_supported"))]


# -- desk -> Telegram ------------------------------------------------------------------


async def test_a_ticket_the_user_closed_is_not_announced_again(
    bot: tb.SupportBot, desk: respx.MockRouter
) -> None:
    desk.get("tickets/").respond(json=[ticket()])
    desk.post("tickets/16/resolve/").respond(json=ticket(resolved=True))

    await bot.on_close(message())
    await bot.handle_event(TicketResolved(id=16, event_id="support:9"))

    assert sent(bot) == [(123, tb.text_for("en", "closed", id=16))]


async def test_an_event_for_a_deleted_ticket_is_skipped(
    bot: tb.SupportBot, desk: respx.MockRouter
) -> None:
    desk.get("tickets/99/").respond(404, json={"code": "not_found", "detail": "gone"})

    await bot.handle_event(TicketResolved(id=99, event_id="support:9"))

    assert sent(bot) == []


async def test_a_stream_reset_is_logged_and_its_cursor_saved(
    bot: tb.SupportBot, caplog: pytest.LogCaptureFixture
) -> None:
    class Events:
        def stream(self, after: str | None, transport: str) -> AsyncIterator[Any]:
            assert (after, transport) == ("support:1", "auto")

            async def events() -> AsyncIterator[Any]:
                yield StreamReset(event_id="support:500")

            return events()

    bot.relay.client = cast(Any, type("Client", (), {"events": Events()})())
    state_of(bot).cursor = "support:1"

    await bot.relay.follow()

    assert "stream.reset" in caplog.text
    assert tb.JsonFileState.load(state_of(bot).path).cursor == "support:500"


# -- files: Telegram -> desk -----------------------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n" + b"p" * 64
OGG = b"OggS" + b"v" * 64
PDF = b"%PDF-1.4\n" + b"d" * 64


def telegram_message(**content: Any) -> TelegramMessage:
    return TelegramMessage.model_validate(
        {
            "message_id": 9,
            "date": 0,
            "chat": {"id": 123, "type": "private"},
            "from": {"id": 123, "is_bot": False, "first_name": "Ann", "language_code": "ru"},
            **content,
        }
    )


def sized(file_id: str, **more: Any) -> dict[str, Any]:
    return {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_size": 10, **more}


STICKER = {"type": "regular", "width": 512, "height": 512, "is_animated": False, "is_video": False}
MEDIA: list[tuple[str, dict[str, Any], tuple[str, str, str] | None]] = [
    ("photo-largest", {"photo": [sized("s", width=90, height=90), sized("l", width=1280,
     height=960), sized("m", width=320, height=240)]}, ("l", "photo", "photo_9.jpg")),
    ("document", {"document": sized("d", file_name="a.pdf")}, ("d", "document", "a.pdf")),
    ("document-unnamed", {"document": sized("d")}, ("d", "document", "document_9")),
    ("voice", {"voice": sized("v", duration=3)}, ("v", "voice", "voice_9.ogg")),
    ("audio", {"audio": sized("a", duration=3, file_name="song.mp3")}, ("a", "audio", "song.mp3")),
    ("video", {"video": sized("x", width=1, height=1, duration=1)}, ("x", "video", "video_9.mp4")),
    ("video-note", {"video_note": sized("n", length=1, duration=1)},
     ("n", "video", "video_note_9.mp4")),
    ("animation", {"animation": sized("g", width=1, height=1, duration=1, file_name="a.gif.mp4"),
     "document": sized("g", file_name="a.gif.mp4")}, ("g", "animation", "a.gif.mp4")),
    ("sticker", {"sticker": sized("k", **STICKER)}, ("k", "sticker", "sticker_9.webp")),
    ("sticker-animated", {"sticker": sized("k", **{**STICKER, "is_animated": True})},
     ("k", "sticker", "sticker_9.tgs")),
    ("sticker-video", {"sticker": sized("k", **{**STICKER, "is_video": True})},
     ("k", "sticker", "sticker_9.webm")),
    ("text", {"text": "hi"}, None),
]  # fmt: skip


@pytest.mark.parametrize(("content", "expected"), [m[1:] for m in MEDIA], ids=[m[0] for m in MEDIA])
def test_the_file_of_each_kind_of_telegram_message(
    content: dict[str, Any], expected: tuple[str, str, str] | None
) -> None:
    media = tb.media_of(telegram_message(**content))
    assert [(m.file_id, m.kind, m.filename) for m in media] == ([expected] if expected else [])


PLACE = {"latitude": 55.7558, "longitude": 37.6173}
TEXTS: list[tuple[str, dict[str, Any], str | None]] = [
    ("text", {"text": "hi"}, "hi"),
    ("caption", {"photo": [sized("p", width=1, height=1)], "caption": "the error"}, "the error"),
    ("location", {"location": PLACE}, "📍 55.755800, 37.617300 https://www.openstreetmap.org/"
     "?mlat=55.755800&mlon=37.617300#map=16/55.755800/37.617300"),
    ("venue", {"venue": {"location": PLACE, "title": "Office", "address": "Tverskaya 1"},
     "location": PLACE}, "📍 Office, Tverskaya 1\n55.755800, 37.617300 "
     "https://www.openstreetmap.org/?mlat=55.755800&mlon=37.617300#map=16/55.755800/37.617300"),
    ("contact", {"contact": {"phone_number": "+7 900 000-00-00", "first_name": "Bob",
     "last_name": "Lee"}}, "👤 Bob Lee, +7 900 000-00-00"),
    ("poll", {"dice": {"emoji": "🎲", "value": 3}}, None),
]  # fmt: skip


@pytest.mark.parametrize(("content", "text"), [t[1:] for t in TEXTS], ids=[t[0] for t in TEXTS])
def test_the_text_posted_for_each_kind_of_message(
    content: dict[str, Any], text: str | None
) -> None:
    parsed = tb.incoming(telegram_message(media_group_id="g1", **content))
    assert parsed is not None
    assert (parsed.text, parsed.language, parsed.media_group_id) == (text, "ru", "g1")


def photo(file_id: str = "p1", size: int | None = 10) -> tb.Media:
    return tb.Media(file_id, "photo", "photo_7.jpg", size)


async def test_a_photo_is_posted_with_its_caption_its_kind_and_its_bytes(
    bot: tb.SupportBot, desk: respx.MockRouter
) -> None:
    recorder(bot).user_files["p1"] = PNG
    desk.get("tickets/").respond(json=[ticket()])
    post = desk.post("tickets/16/messages/").respond(201, json=MESSAGE)

    await bot.on_message(message("the error", media=(photo(),)))

    request = post.calls.last.request
    assert fields_of(request) == [
        ("text", "the error"),
        ("idempotency_key", "tg-123-7"),
        ("kinds", "photo"),
    ]
    assert files_of(request) == [("photo_7.jpg", "image/jpeg", PNG)]
    assert sent(bot) == []


async def test_a_first_file_without_caption_opens_a_ticket_titled_after_it(
    bot: tb.SupportBot, desk: respx.MockRouter
) -> None:
    recorder(bot).user_files["d1"] = PDF
    desk.get("tickets/").respond(json=[])
    create = desk.post("tickets/").respond(201, json=ticket(resolved=False))

    await bot.on_message(message(None, media=(tb.Media("d1", "document", "invoice.pdf", 9),)))

    assert dict(fields_of(create.calls.last.request)) == {
        "user_id": "123",
        "title": "Document: invoice.pdf",
        "idempotency_key": "tg-123-7",
        "kinds": "document",
    }
    assert sent(bot) == [(123, tb.text_for("en", "opened", id=16))]


@pytest.mark.parametrize(
    ("media", "description"),
    [
        ((photo(),), "Photo"),
        ((tb.Media("v", "voice", "voice.ogg"),), "Voice message"),
        ((photo("a"), photo("b")), "Album (2 files)"),
        ((), "Telegram"),
    ],
)
def test_a_title_for_a_message_without_text(media: tuple[tb.Media, ...], description: str) -> None:
    assert tb.Parcel.of([message(None, media=media)]).title == description


@pytest.mark.parametrize(
    ("size", "too_big_on_get_file"),
    [(tb.TELEGRAM_DOWNLOAD_LIMIT + 1, False), (None, True)],
    ids=["said-in-the-update", "refused-by-get-file"],
)
async def test_a_file_over_telegrams_limit_gets_an_apology_and_nothing_is_posted(
    bot: tb.SupportBot, desk: respx.MockRouter, size: int | None, too_big_on_get_file: bool
) -> None:
    if too_big_on_get_file:
        recorder(bot).too_big.add("p1")

    await bot.on_message(message("big", language="ru", media=(photo(size=size),)))

    assert sent(bot) == [(123, tb.text_for("ru", "too_big", mb=20))]
    assert not desk.calls  # nothing asked of the desk


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (415, {"code": "unsupported_type", "detail": "no"}),
        (413, {"code": "too_large", "detail": "no"}),
        (400, {"code": "empty_file", "detail": "no", "errors": {"files": ["Empty file."]}}),
        (400, {"code": "invalid", "detail": "no", "errors": {"kinds": ["A photo cannot…"]}}),
        (400, {"code": "invalid", "detail": "no", "errors": {"kinds.0": ["A photo cannot…"]}}),
        (400, {"code": "invalid", "detail": "no", "errors": {"files.0": ["Not a file."]}}),
    ],
)
async def test_a_file_the_desk_refuses_gets_a_plain_answer(
    bot: tb.SupportBot, desk: respx.MockRouter, status: int, body: dict[str, Any]
) -> None:
    recorder(bot).user_files["p1"] = PNG
    desk.get("tickets/").respond(json=[ticket()])
    desk.post("tickets/16/messages/").respond(status, json=body)

    await bot.on_message(message(None, media=(photo(),)))

    assert sent(bot) == [(123, tb.text_for("en", "file_refused"))]


async def test_an_album_is_saved_then_posted_once_as_one_message(
    bot: tb.SupportBot, desk: respx.MockRouter
) -> None:
    recorder(bot).user_files.update(a=PNG, b=PDF)
    desk.get("tickets/").respond(json=[ticket()])
    post = desk.post("tickets/16/messages/").respond(201, json=MESSAGE)
    first = message("two screens", message_id=7, media=(photo("a"),), group="g1")
    second = message(None, message_id=8, media=(tb.Media("b", "document", "b.pdf"),), group="g1")

    for part in (first, second, first):  # the first part delivered twice
        await bot.on_message(part)

    saved = tb.JsonFileState.load(state_of(bot).path).albums
    assert list(saved.values()) == [[first, second]]  # before Telegram hears it was handled
    assert not post.called
    (key,) = saved
    await bot.desk.flush_album(key)

    assert post.call_count == 1
    request = post.calls.last.request
    assert fields_of(request) == [
        ("text", "two screens"),
        ("idempotency_key", "tg-123-album-g1-7"),
        ("kinds", "photo"),
        ("kinds", "document"),
    ]
    assert [data for _name, _type, data in files_of(request)] == [PNG, PDF]
    assert tb.JsonFileState.load(state_of(bot).path).albums == {}


async def test_a_message_after_an_album_posts_the_album_first(
    bot: tb.SupportBot, desk: respx.MockRouter
) -> None:
    recorder(bot).user_files.update(a=PNG)
    desk.get("tickets/").respond(json=[ticket()])
    post = desk.post("tickets/16/messages/").respond(201, json=MESSAGE)

    await bot.on_message(message(None, message_id=7, media=(photo("a"),), group="g1"))
    await bot.on_message(message("and this is the text", message_id=9))

    keys = [dict(fields_of(call.request))["idempotency_key"] for call in post.calls[:1]]
    assert keys == ["tg-123-album-g1-7"]
    assert json.loads(post.calls[1].request.content)["idempotency_key"] == "tg-123-9"
    assert state_of(bot).albums == {}


async def test_an_album_saved_before_a_restart_is_posted_after_the_window(
    client: AsyncSupportClient, desk: respx.MockRouter, tmp_path: Path
) -> None:
    path = tmp_path / "state.json"
    part = message(None, message_id=7, media=(photo("a"),), group="g1")
    await tb.JsonFileState(path, albums={"tg-123-album-g1-7": [part]}).save()
    telegram = Recorder()
    telegram.user_files["a"] = PNG
    restarted = tb.SupportBot(
        client,
        telegram,
        tb.JsonFileState.load(path),
        delivery_timeout=0,
        retry_delay=0,
        album_window=0,
    )
    desk.get("tickets/").respond(json=[ticket()])
    post = desk.post("tickets/16/messages/").respond(201, json=MESSAGE)

    follower = asyncio.create_task(restarted.desk.follow_albums())
    try:
        async with asyncio.timeout(10):  # until the state file forgets the album
            while (await asyncio.to_thread(tb.JsonFileState.load, path)).albums:
                await asyncio.sleep(0.01)
    finally:
        follower.cancel()

    assert post.call_count == 1
    assert tb.JsonFileState.load(path).albums == {}


# -- files: desk -> Telegram -----------------------------------------------------------


ATTACHED = [
    {"id": 12, "kind": "photo", "filename": "shot.png", "content_type": "image/png",
     "size": len(PNG), "width": 1, "height": 1, "url": "/support/attachments/12/",
     "thumbnail_url": "/support/attachments/12/thumbnail/"},
    {"id": 13, "kind": "document", "filename": "invoice.pdf", "content_type": "application/pdf",
     "size": len(PDF), "width": None, "height": None, "url": "/support/attachments/13/",
     "thumbnail_url": None},
]  # fmt: skip


async def test_a_managers_files_are_read_from_the_desk_and_uploaded(
    bot: tb.SupportBot, desk: respx.MockRouter
) -> None:
    desk.get("tickets/16/").respond(json=ticket())
    desk.get("http://desk.test/support/attachments/12/").respond(content=PNG)
    desk.get("http://desk.test/support/attachments/13/").respond(content=PDF)
    reply = Message.model_validate({**MESSAGE, "text": "see", "attachments": ATTACHED})

    await bot.handle_event(MessageNew(message=reply, event_id="support:9"))

    assert recorder(bot).files == [
        (123, "see", [("shot.png", "photo", PNG), ("invoice.pdf", "document", PDF)])
    ]
    assert sent(bot) == []


async def test_a_file_gone_from_the_desk_is_skipped(
    bot: tb.SupportBot, desk: respx.MockRouter
) -> None:
    desk.get("tickets/16/").respond(json=ticket())
    desk.get("http://desk.test/support/attachments/12/").respond(
        404, json={"code": "not_found", "detail": "gone"}
    )
    desk.get("http://desk.test/support/attachments/13/").respond(content=PDF)
    reply = Message.model_validate({**MESSAGE, "attachments": ATTACHED})

    await bot.handle_event(MessageNew(message=reply, event_id="support:9"))

    assert recorder(bot).files == [(123, "some_text", [("invoice.pdf", "document", PDF)])]


class FakeBot:
    """The aiogram ``Bot`` methods :class:`support_client.telegram.Telegram` calls, recorded;
    the kinds in *refuse* are refused as Telegram refuses a file it can't take as that."""

    def __init__(self, refuse: Sequence[str] = ()) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.refuse = set(refuse)

    def __getattr__(self, name: str) -> Any:
        async def method(chat_id: int, *args: Any, **kwargs: Any) -> None:
            kind = name.removeprefix("send_")
            if kind in self.refuse:
                raise TelegramBadRequest(method=cast(Any, None), message="Bad Request: wrong type")
            if name == "send_message":
                self.calls.append((name, args[0]))
            elif name == "send_media_group":
                self.calls.append((name, [(m.type, m.caption) for m in kwargs["media"]]))
            else:
                self.calls.append((name, kwargs.get("caption")))

        return method


def outgoing(tmp_path: Path, *kinds: str, size: int = 10) -> list[tb.Outgoing]:
    files = []
    for index, kind in enumerate(kinds):
        path = tmp_path / str(index)
        path.write_bytes(b"x")
        files.append(tb.Outgoing(path, f"f{index}", kind, size))
    return files


LONG = "x" * (tb.TELEGRAM_CAPTION_LIMIT + 1)
SENDS: list[tuple[str, tuple[str, ...], str, list[tuple[str, Any]]]] = [
    ("one-photo", ("photo",), "see", [("send_photo", "see")]),
    ("no-caption", ("document",), "", [("send_document", None)]),
    ("photo-then-pdf", ("photo", "document"), "see",
     [("send_photo", "see"), ("send_document", None)]),
    ("album", ("photo", "video", "photo"), "see",
     [("send_media_group", [("photo", "see"), ("video", None), ("photo", None)])]),
    ("documents", ("document", "document"), "", [("send_media_group", [("document", None)] * 2)]),
    ("voice-alone", ("voice", "voice"), "hi", [("send_voice", "hi"), ("send_voice", None)]),
    ("sticker-text-first", ("sticker",), "hi", [("send_message", "hi"), ("send_sticker", None)]),
    ("long-caption-first", ("photo",), LONG, [("send_message", LONG), ("send_photo", None)]),
    ("animation", ("animation",), "", [("send_animation", None)]),
    ("audio", ("audio", "audio"), "", [("send_media_group", [("audio", None)] * 2)]),
    ("eleven-photos", ("photo",) * 11, "", [("send_media_group", [("photo", None)] * 10),
     ("send_photo", None)]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("kinds", "text", "calls"), [c[1:] for c in SENDS], ids=[c[0] for c in SENDS]
)
async def test_files_are_sent_as_telegram_allows(
    tmp_path: Path, kinds: tuple[str, ...], text: str, calls: list[tuple[str, Any]]
) -> None:
    bot = FakeBot()

    assert await tb.Telegram(cast(Any, bot)).send_files(
        1, text, outgoing(tmp_path, *kinds), patient=True
    )

    assert bot.calls == calls


async def test_a_photo_too_large_for_send_photo_goes_as_a_document(tmp_path: Path) -> None:
    bot = FakeBot()
    files = outgoing(tmp_path, "photo", size=tb.TELEGRAM_PHOTO_LIMIT + 1)

    await tb.Telegram(cast(Any, bot)).send_files(1, "big", files)

    assert bot.calls == [("send_document", "big")]


@pytest.mark.parametrize(
    ("kinds", "calls"),
    [
        (("voice",), [("send_document", "c")]),
        (("photo", "photo"), [("send_document", "c"), ("send_document", None)]),
    ],
    ids=["one", "album"],
)
async def test_a_file_telegram_refuses_as_its_kind_goes_as_a_document(
    tmp_path: Path, kinds: tuple[str, ...], calls: list[tuple[str, Any]]
) -> None:
    bot = FakeBot(refuse=("voice", "photo", "media_group"))

    assert await tb.Telegram(cast(Any, bot)).send_files(1, "c", outgoing(tmp_path, *kinds))

    assert bot.calls == calls


async def test_state_keeps_albums_across_a_restart(tmp_path: Path) -> None:
    part = message("cap", media=(photo(),), group="g9")
    await tb.JsonFileState(tmp_path / "s.json", albums={"k": [part]}).save()

    assert tb.JsonFileState.load(tmp_path / "s.json").albums == {"k": [part]}

"""``client.telegram`` and ``client.acting(…)``: what each sends, what comes back, the errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import respx

from support_client import (
    APIStatusError,
    AsyncSupportClient,
    BadRequestError,
    InvalidLinkCodeError,
    LinkCode,
    LinkedManager,
    Message,
    PermissionDeniedError,
    SupportClient,
    TelegramLink,
    TelegramNotLinkedError,
    TelegramTopic,
    Ticket,
)
from support_client import _constants as C
from tests.sdk.common import MESSAGE, TICKET, Api, body_of, last_request

LINKED = {
    "manager": {"id": 1, "username": "alice", "name": "Alice Smith"},
    "telegram_id": 4242,
}


async def test_create_link_code_posts_an_empty_object(api: Api, mock: respx.MockRouter) -> None:
    route = mock.post("telegram/link/").respond(
        201, json={"code": "K7QM-2XPA", "expires_at": "2026-01-01T10:10:00Z"}
    )
    code = await api.run(lambda c: c.telegram.create_link_code())
    assert isinstance(code, LinkCode)
    assert code.code == "K7QM-2XPA"
    assert code.expires_at.minute == 10
    assert body_of(last_request(route)) == {}


async def test_create_link_code_is_not_resent_after_a_500(api: Api, mock: respx.MockRouter) -> None:
    route = mock.post("telegram/link/").respond(500, json={"code": "server_error", "detail": "x"})
    with pytest.raises(APIStatusError, match="500"):
        await api.run(lambda c: c.telegram.create_link_code())
    assert route.call_count == 1


async def test_link_and_unlink(api: Api, mock: respx.MockRouter) -> None:
    mock.get("telegram/link/").respond(
        json={"telegram_id": 4242, "linked_at": "2026-01-01T10:00:00Z"}
    )
    deleted = mock.delete("telegram/link/").respond(204)
    link = await api.run(lambda c: c.telegram.link())
    assert isinstance(link, TelegramLink)
    assert link.telegram_id == 4242
    assert await api.run(lambda c: c.telegram.unlink()) is None
    assert deleted.call_count == 1


async def test_an_unlinked_manager_has_no_telegram_id(api: Api, mock: respx.MockRouter) -> None:
    mock.get("telegram/link/").respond(json={"telegram_id": None, "linked_at": None})
    link = await api.run(lambda c: c.telegram.link())
    assert (link.telegram_id, link.linked_at) == (None, None)


async def test_confirm_link_posts_the_code_and_the_id(api: Api, mock: respx.MockRouter) -> None:
    route = mock.post("telegram/link/confirm/").respond(json=LINKED)
    linked = await api.run(lambda c: c.telegram.confirm_link("k7qm2xpa", 4242))
    assert isinstance(linked, LinkedManager)
    assert (linked.manager.id, linked.manager.name, linked.telegram_id) == (1, "Alice Smith", 4242)
    assert body_of(last_request(route)) == {"code": "k7qm2xpa", "telegram_id": 4242}


@pytest.mark.parametrize(("replaces", "sent"), [(None, None), (5, 5)], ids=["first", "replacing"])
async def test_set_topic_puts_the_topic(
    api: Api, mock: respx.MockRouter, replaces: int | None, sent: int | None
) -> None:
    route = mock.put("tickets/16/telegram-topic/").respond(json={"chat_id": -100, "topic_id": 5})
    topic = await api.run(
        lambda c: c.telegram.set_topic(16, chat_id=-100, topic_id=9, replaces=replaces)
    )
    assert topic == TelegramTopic(chat_id=-100, topic_id=5)
    assert body_of(last_request(route)) == {"chat_id": -100, "topic_id": 9, "replaces": sent}


@pytest.mark.parametrize(
    ("status", "code", "error_class"),
    [
        (400, "invalid_link_code", InvalidLinkCodeError),
        (400, "invalid", BadRequestError),
        (403, "telegram_not_linked", TelegramNotLinkedError),
        (403, "permission_denied", PermissionDeniedError),
        (409, "invalid_link_code", None),  # a code under another status keeps the status' class
    ],
)
async def test_errors_are_mapped_by_code(
    api: Api, mock: respx.MockRouter, status: int, code: str, error_class: type[Exception] | None
) -> None:
    mock.post("telegram/link/confirm/").respond(status, json={"code": code, "detail": "no"})
    with pytest.raises(APIStatusError) as caught:
        await api.run(lambda c: c.telegram.confirm_link("x", 1))
    assert caught.value.status_code == status
    assert caught.value.code == code
    if error_class is None:
        assert not isinstance(caught.value, InvalidLinkCodeError)
    else:
        assert type(caught.value) is error_class
    assert issubclass(TelegramNotLinkedError, PermissionDeniedError)
    assert issubclass(InvalidLinkCodeError, BadRequestError)


async def test_acting_sends_the_header_and_the_original_does_not(
    make: Callable[..., Api], mock: respx.MockRouter
) -> None:
    api = make()
    route = mock.post("tickets/16/messages/").respond(201, json=MESSAGE)
    acting = Api(api.client.acting(4242))
    await acting.run(lambda c: c.messages.send(16, "On it"))
    sent = last_request(route)
    assert sent.headers[C.ACTING_HEADER] == "4242"
    assert sent.headers["Authorization"].startswith("Api-Key ")
    await api.run(lambda c: c.messages.send(16, "plain"))
    assert C.ACTING_HEADER not in last_request(route).headers
    assert acting.client._requester.http is api.client._requester.http
    assert type(acting.client) is type(api.client)


async def test_acting_reaches_every_resource(
    make: Callable[..., Api], mock: respx.MockRouter
) -> None:
    acting = Api(make().client.acting(7))
    routes = [
        mock.post("tickets/16/assign/").respond(json=TICKET),
        mock.put("tickets/16/telegram-topic/").respond(json={"chat_id": -1, "topic_id": 2}),
        mock.get("tickets/16/").respond(json=TICKET),
    ]
    await acting.run(lambda c: c.tickets.assign(16))
    await acting.run(lambda c: c.telegram.set_topic(16, chat_id=-1, topic_id=2))
    await acting.run(lambda c: c.with_options(max_retries=0).tickets.get(16))
    assert [last_request(r).headers[C.ACTING_HEADER] for r in routes] == ["7", "7", "7"]


@pytest.mark.parametrize("value", [True, "4242", 1.0, None])
def test_acting_takes_an_int(value: Any) -> None:
    for client in (
        SupportClient("http://test/support/", api_key="k"),
        AsyncSupportClient("http://test/support/", api_key="k"),
    ):
        with pytest.raises(TypeError):
            client.acting(value)


def test_models_carry_the_topic_and_via_staff_chat() -> None:
    plain = Ticket.model_validate(TICKET)
    assert plain.telegram_topic is None
    assert plain.last_message is not None
    assert plain.last_message.via_staff_chat is False
    topic = {"chat_id": -100, "topic_id": 5}
    ticket = Ticket.model_validate({**TICKET, "telegram_topic": topic})
    assert ticket.telegram_topic == TelegramTopic(chat_id=-100, topic_id=5)
    assert Message.model_validate({**MESSAGE, "via_staff_chat": True}).via_staff_chat is True

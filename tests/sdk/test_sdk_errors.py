"""Error responses become the SDK's exception classes, with the error body's fields."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
import respx

from support_client import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    ServiceUnavailableError,
    SupportError,
)
from support_client._exceptions import from_error_body
from tests.sdk.common import ERROR_BODY, STATUS_ERRORS, Api, last_request

# --- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "error_class"), STATUS_ERRORS)
async def test_error_status_raises_its_class_with_the_error_body(
    make: Callable[..., Api],
    mock: respx.MockRouter,
    status: int,
    error_class: type[APIStatusError],
) -> None:
    route = mock.get("tickets/16/").respond(status, json=ERROR_BODY)

    with pytest.raises(error_class) as caught:
        await make(max_retries=0).run(lambda c: c.tickets.get(16))

    error = caught.value
    assert type(error) is error_class
    assert isinstance(error, APIStatusError)
    assert error.status_code == status
    assert error.code == "invalid"
    assert error.detail == "Invalid input."
    assert error.errors == {"text": ["May not be blank."]}
    assert error.body == ERROR_BODY
    assert error.response is not None
    assert error.response.status_code == status
    assert error.request is not None
    assert error.request.url == last_request(route).url
    assert route.call_count == 1


@pytest.mark.parametrize(("status", "error_class"), STATUS_ERRORS)
def test_error_classes_form_one_hierarchy(status: int, error_class: type[APIStatusError]) -> None:
    assert issubclass(error_class, APIStatusError)
    assert issubclass(APIStatusError, APIError)
    assert issubclass(APIError, SupportError)
    assert issubclass(SupportError, Exception)


@pytest.mark.parametrize(("status", "error_class"), STATUS_ERRORS)
def test_a_websocket_error_frame_raises_the_class_of_its_status(
    status: int, error_class: type[APIStatusError]
) -> None:
    frame = {"type": "error", "request_id": "r1", "status": status, **ERROR_BODY}

    error = from_error_body(status, frame)

    assert type(error) is error_class
    assert (error.status_code, error.code, error.response) == (status, "invalid", None)


def test_every_5xx_is_an_internal_server_error() -> None:
    assert issubclass(ServiceUnavailableError, InternalServerError)
    assert type(from_error_body(507, {})) is InternalServerError


def test_timeout_error_is_a_connection_error() -> None:
    assert issubclass(APITimeoutError, APIConnectionError)
    assert issubclass(APIConnectionError, APIError)
    assert not issubclass(APIConnectionError, APIStatusError)


async def test_error_without_field_errors_has_empty_errors(
    api: Api, mock: respx.MockRouter
) -> None:
    mock.post("tickets/16/assign/").respond(
        409, json={"code": "already_assigned", "detail": "Another manager has it."}
    )

    with pytest.raises(ConflictError) as caught:
        await api.run(lambda c: c.tickets.assign(16))

    assert caught.value.code == "already_assigned"
    assert caught.value.detail == "Another manager has it."
    assert caught.value.errors == {}
    assert "already_assigned" in str(caught.value)


async def test_non_json_error_body_still_raises_its_class(
    make: Callable[..., Api], mock: respx.MockRouter
) -> None:
    html = "<html><body><h1>502 Bad Gateway</h1></body></html>"
    mock.get("tickets/16/").respond(502, text=html, headers={"Content-Type": "text/html"})

    with pytest.raises(InternalServerError) as caught:
        await make(max_retries=0).run(lambda c: c.tickets.get(16))

    error = caught.value
    assert error.status_code == 502
    assert error.code is None
    assert error.detail is None
    assert error.errors == {}
    assert error.body == html


async def test_empty_error_body_still_raises_its_class(
    make: Callable[..., Api], mock: respx.MockRouter
) -> None:
    mock.get("tickets/16/").respond(404)

    with pytest.raises(NotFoundError) as caught:
        await make(max_retries=0).run(lambda c: c.tickets.get(16))

    assert (caught.value.status_code, caught.value.code, caught.value.detail) == (404, None, None)


async def test_a_4xx_status_the_server_never_sends_raises_api_status_error(
    api: Api, mock: respx.MockRouter
) -> None:
    mock.get("tickets/16/").respond(418, json={"code": "teapot", "detail": "I'm a teapot."})

    with pytest.raises(APIStatusError) as caught:
        await api.run(lambda c: c.tickets.get(16))

    assert type(caught.value) is APIStatusError
    assert caught.value.status_code == 418
    assert caught.value.code == "teapot"


@pytest.mark.parametrize(
    "response",
    [httpx.Response(200, text="<html>proxy page</html>"), httpx.Response(200, json={"id": "x"})],
    ids=["not JSON", "not a ticket"],
)
async def test_an_unexpected_2xx_body_is_a_support_error(
    api: Api, mock: respx.MockRouter, response: httpx.Response
) -> None:
    mock.get("tickets/16/").mock(return_value=response)
    with pytest.raises(APIResponseValidationError) as raised:
        await api.run(lambda c: c.tickets.get(16))
    assert isinstance(raised.value, SupportError)

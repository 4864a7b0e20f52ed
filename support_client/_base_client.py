"""Configuration, requests, retries and error mapping, shared by both clients."""

from __future__ import annotations

import asyncio
import datetime
import email.utils
import os
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import httpx
import pydantic

from support_client import _constants as C
from support_client._exceptions import (
    APIConnectionError,
    APIResponseValidationError,
    APITimeoutError,
    SupportError,
    make_status_error,
)

Params = Mapping[str, Any]
M = TypeVar("M", bound=pydantic.BaseModel)
NOT_GIVEN: Any = object()


@dataclass(frozen=True)
class ClientOptions:
    """Everything a request needs besides its own arguments."""

    base_url: str
    api_key: str | None = None
    token: str | None = None
    timeout: httpx.Timeout = field(default_factory=lambda: C.DEFAULT_TIMEOUT)
    max_retries: int = C.DEFAULT_MAX_RETRIES
    headers: Mapping[str, str] = field(default_factory=dict)
    websocket_path: str = C.DEFAULT_WEBSOCKET_PATH

    @classmethod
    def resolve(
        cls,
        base_url: str | None,
        api_key: str | None,
        token: str | None,
        timeout: float | httpx.Timeout | None,
        max_retries: int | None,
        headers: Mapping[str, str] | None,
        websocket_path: str | None = None,
    ) -> ClientOptions:
        """Arguments first, then ``SUPPORT_*`` environment variables."""
        base_url = base_url or os.environ.get(C.ENV_BASE_URL)
        if not base_url:
            raise SupportError(
                f"No base URL: pass base_url= or set {C.ENV_BASE_URL} "
                "(e.g. https://example.org/support/)."
            )
        if api_key is None and token is None:
            api_key = os.environ.get(C.ENV_API_KEY) or None
            token = None if api_key else os.environ.get(C.ENV_TOKEN) or None
        if api_key and token:
            raise SupportError("Pass api_key= (a bot) or token= (a manager), not both.")
        if not api_key and not token:
            raise SupportError(
                f"No credential: pass api_key= or token=, or set {C.ENV_API_KEY} or {C.ENV_TOKEN}."
            )
        url = httpx.URL(base_url).copy_with(query=None, fragment=None)
        path = url.path if url.path.endswith("/") else url.path + "/"
        return cls(
            base_url=str(url.copy_with(path=path)),
            api_key=api_key,
            token=token,
            timeout=as_timeout(timeout),
            max_retries=C.DEFAULT_MAX_RETRIES if max_retries is None else max_retries,
            headers=dict(headers or {}),
            websocket_path="/" + (websocket_path or C.DEFAULT_WEBSOCKET_PATH).lstrip("/"),
        )

    @property
    def auth_header(self) -> str:
        return f"Api-Key {self.api_key}" if self.api_key else f"Token {self.token}"

    def request_headers(self) -> httpx.Headers:
        """Defaults, then the caller's headers, then the credential (names in any case)."""
        headers = httpx.Headers({"Accept": "application/json", "User-Agent": C.USER_AGENT})
        headers.update(self.headers)
        headers["Authorization"] = self.auth_header
        return headers

    def url(self, path: str) -> str:
        return self.base_url + path.lstrip("/")

    @property
    def websocket_url(self) -> str:
        """``ws(s)://host/<websocket_path>`` for a base URL of ``http(s)://host/<mount>/``."""
        url = httpx.URL(self.base_url)
        scheme = "wss" if url.scheme == "https" else "ws"
        return str(url.copy_with(scheme=scheme, path=self.websocket_path, query=None))

    def with_changes(
        self, timeout: float | httpx.Timeout | None = None, max_retries: int | None = None
    ) -> ClientOptions:
        changed = self
        if timeout is not None:
            changed = replace(changed, timeout=as_timeout(timeout))
        if max_retries is not None:
            changed = replace(changed, max_retries=max_retries)
        return changed


def as_timeout(value: float | httpx.Timeout | None) -> httpx.Timeout:
    if value is None:
        return C.DEFAULT_TIMEOUT
    if isinstance(value, httpx.Timeout):
        return value
    return httpx.Timeout(value)


def extend_read(timeout: httpx.Timeout, seconds: float) -> httpx.Timeout:
    """*timeout* with *seconds* more to read: a long-poll is held that long on purpose."""
    return httpx.Timeout(
        connect=timeout.connect,
        read=(timeout.read or 30.0) + seconds,
        write=timeout.write,
        pool=timeout.pool,
    )


def retry_delay(attempt: int, response: httpx.Response | None) -> float | None:
    """Seconds to wait before retry *attempt* (1-based); ``None``: don't retry.

    A ``Retry-After`` (seconds or an HTTP date) wins; otherwise full-jitter
    exponential backoff, which keeps many clients from retrying in step.
    """
    if response is not None:
        header = response.headers.get("Retry-After")
        if header:
            wait = parse_retry_after(header)
            if wait is not None:
                return wait if wait <= C.MAX_RETRY_AFTER else None
    return backoff(attempt)


def backoff(attempt: int) -> float:
    """Full jitter: a random wait under ``INITIAL * 2**(attempt - 1)``, at most ``MAX``."""
    ceiling = min(C.MAX_RETRY_DELAY, C.INITIAL_RETRY_DELAY * 2 ** (attempt - 1))
    return random.uniform(0, ceiling)


def parse_retry_after(header: str) -> float | None:
    header = header.strip()
    try:
        return max(0.0, float(header))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # asctime form: HTTP dates are always GMT
        when = when.replace(tzinfo=datetime.UTC)
    return max(0.0, when.timestamp() - time.time())


def should_retry_status(status: int, idempotent: bool = True) -> bool:
    """429 and 5xx; for a request that must not run twice, only the statuses that
    say it did not run (429, 503): a 500 or a proxy's 502/504 may come after the work."""
    if not idempotent:
        return status in (429, 503)
    return status == 429 or status >= 500


def is_safe_to_resend(error: httpx.TransportError, idempotent: bool) -> bool:
    """Resend after a transport error? Always when idempotent; else only if nothing was sent."""
    return idempotent or isinstance(error, httpx.ConnectError | httpx.ConnectTimeout)


def connection_error(error: httpx.TransportError, request: httpx.Request) -> APIConnectionError:
    if isinstance(error, httpx.TimeoutException):
        return APITimeoutError(f"Request timed out: {error}", request=request)
    return APIConnectionError(f"Connection error: {error}", request=request)


class Attempts:
    """The retry policy of one request, as a state machine that both clients drive.

    After each attempt, hand :meth:`after` its outcome: the response, or the
    transport error it raised. It answers with the response to return (a
    success, an error not worth retrying, or the last try) or the seconds to
    wait before the next attempt, and raises the :class:`APIConnectionError`
    that ends the request. Only the sending and the sleeping are the client's.
    """

    def __init__(self, request: httpx.Request, max_retries: int, idempotent: bool) -> None:
        self.request = request
        self.max_retries = max_retries
        self.idempotent = idempotent
        self.made = 0

    def after(self, outcome: httpx.Response | httpx.TransportError) -> httpx.Response | float:
        self.made += 1
        last = self.made > self.max_retries
        if isinstance(outcome, httpx.TransportError):
            if last or not is_safe_to_resend(outcome, self.idempotent):
                raise connection_error(outcome, self.request) from outcome
            return backoff(self.made)
        if last or not should_retry_status(outcome.status_code, self.idempotent):
            return outcome
        wait = retry_delay(self.made, outcome)
        return outcome if wait is None else wait


def parse_json(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        raise make_status_error(response)
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError as error:
        raise APIResponseValidationError(
            f"{response.status_code} response is not JSON: {response.text[:200]!r}",
            request=response.request,
        ) from error


def validate(model: type[M], data: Any) -> M:
    """*data* as *model*; a mismatch is the SDK's :class:`APIResponseValidationError`."""
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as error:
        raise APIResponseValidationError(f"Unexpected {model.__name__}: {error}") from error


def validate_list(model: type[M], data: Any) -> list[M]:
    if not isinstance(data, list):
        raise APIResponseValidationError(f"Expected a list of {model.__name__}, got {data!r:.200}")
    return [validate(model, item) for item in data]


class SyncRequester:
    """Sends API requests, with retries, over one ``httpx.Client``."""

    def __init__(self, options: ClientOptions, http: httpx.Client) -> None:
        self.options = options
        self.http = http

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json: Any = None,
        idempotent: bool = True,
        timeout: httpx.Timeout | None = None,
    ) -> Any:
        return parse_json(
            self.send(
                method, path, params=params, json=json, idempotent=idempotent, timeout=timeout
            )
        )

    def send(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json: Any = None,
        idempotent: bool = True,
        timeout: httpx.Timeout | None = None,
    ) -> httpx.Response:
        request = self.http.build_request(
            method,
            self.options.url(path),
            params=_clean(params),
            json=json,
            headers=self.options.request_headers(),
            timeout=timeout or self.options.timeout,
        )
        attempts = Attempts(request, self.options.max_retries, idempotent)
        while True:
            try:
                step = attempts.after(self.http.send(request))
            except httpx.TransportError as error:
                step = attempts.after(error)
            if isinstance(step, httpx.Response):
                return step
            time.sleep(step)


class AsyncRequester:
    """Sends API requests, with retries, over one ``httpx.AsyncClient``."""

    def __init__(self, options: ClientOptions, http: httpx.AsyncClient) -> None:
        self.options = options
        self.http = http

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json: Any = None,
        idempotent: bool = True,
        timeout: httpx.Timeout | None = None,
    ) -> Any:
        response = await self.send(
            method, path, params=params, json=json, idempotent=idempotent, timeout=timeout
        )
        return parse_json(response)

    async def send(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json: Any = None,
        idempotent: bool = True,
        timeout: httpx.Timeout | None = None,
    ) -> httpx.Response:
        request = self.http.build_request(
            method,
            self.options.url(path),
            params=_clean(params),
            json=json,
            headers=self.options.request_headers(),
            timeout=timeout or self.options.timeout,
        )
        attempts = Attempts(request, self.options.max_retries, idempotent)
        while True:
            try:
                step = attempts.after(await self.http.send(request))
            except httpx.TransportError as error:
                step = attempts.after(error)
            if isinstance(step, httpx.Response):
                return step
            await asyncio.sleep(step)


def _clean(params: Params | None) -> dict[str, Any] | None:
    """Drop ``None`` values; JSON-style booleans for the API's filters."""
    if params is None:
        return None
    out: dict[str, Any] = {}
    for key, value in params.items():
        if value is None:
            continue
        out[key] = ("true" if value else "false") if isinstance(value, bool) else value
    return out

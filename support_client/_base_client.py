"""Configuration, requests, retries and error mapping, shared by both clients.

A resource method describes its request as a :class:`Call`; a requester
(:class:`SyncRequester` or :class:`AsyncRequester`) sends it, retrying as
:class:`Attempts` says, and returns the answer validated as the method's result.
A call with files is sent as ``multipart/form-data`` (:mod:`._uploads`), each
attempt from the files' start; a :class:`Download` streams the answer's bytes
into a sink (:mod:`._downloads`), a retry asking for the rest only.
"""

from __future__ import annotations

import asyncio
import datetime
import email.utils
import os
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Generic, Self, TypeVar

import httpx
import pydantic

from support_client import _constants as C
from support_client._downloads import Resume, Sink, in_thread_if
from support_client._exceptions import (
    APIConnectionError,
    APIResponseValidationError,
    APITimeoutError,
    SupportError,
    make_status_error,
)
from support_client._uploads import Multipart, Upload, form_fields

Params = Mapping[str, Any]
R = TypeVar("R")
M = TypeVar("M", bound=pydantic.BaseModel)
HttpT = TypeVar("HttpT", httpx.Client, httpx.AsyncClient)


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
    #: The linked manager's Telegram id a staff bot acts for (``client.acting(id)``).
    acting_telegram_id: int | None = None

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
        headers.update(self.acting_headers)
        return headers

    @property
    def acting_headers(self) -> dict[str, str]:
        """The acting header, when acting (the server refuses it on streams: 400)."""
        if self.acting_telegram_id is None:
            return {}
        return {C.ACTING_HEADER: str(self.acting_telegram_id)}

    def acting(self, telegram_id: int) -> ClientOptions:
        if isinstance(telegram_id, bool) or not isinstance(telegram_id, int):
            raise TypeError(f"A Telegram id is an int, not {type(telegram_id).__name__}.")
        return replace(self, acting_telegram_id=telegram_id)

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
        read=None if timeout.read is None else timeout.read + seconds,
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
        if isinstance(outcome, httpx.TransportError):
            return self.after_error(outcome)
        self.made += 1
        last = self.made > self.max_retries
        if last or not should_retry_status(outcome.status_code, self.idempotent):
            return outcome
        wait = retry_delay(self.made, outcome)
        return outcome if wait is None else wait

    def after_error(self, error: httpx.TransportError) -> float:
        """The seconds to wait after a transport error, or the error that ends the request."""
        self.made += 1
        if self.made > self.max_retries or not is_safe_to_resend(error, self.idempotent):
            raise connection_error(error, self.request) from error
        return backoff(self.made)


@dataclass(frozen=True)
class Call:
    """One request to the API, as a resource method describes it."""

    method: str
    #: Relative to the base URL: ``tickets/16/assign/``.
    path: str
    #: The query; ``None`` values are left out, booleans are ``true``/``false``.
    params: Params | None = None
    #: The JSON body, if any.
    json: Any = None
    #: Whether sending it twice does no harm: else it is resent only when the
    #: first try surely did not run (see :func:`should_retry_status`).
    idempotent: bool = True
    #: Seconds the server may hold the answer (a long-poll), added to the read timeout.
    hold: float = 0
    #: Files to attach: the body is then ``multipart/form-data``, ``json``'s fields as
    #: form fields and each file a ``files`` part.
    files: tuple[Upload, ...] = ()


@dataclass(frozen=True)
class Download(Generic[R]):
    """A ``GET`` whose answer is a file's bytes, streamed into the sink *into* makes."""

    #: Relative to the base URL, or an absolute path on its host (``/support/attachments/12/``),
    #: or a URL (another host gets no credential).
    url: str
    into: Callable[[], Sink[R]]


def answer(response: httpx.Response, result: pydantic.TypeAdapter[R], call: Call) -> R:
    """The body of *response* as *result*; an error status raises its class."""
    if response.status_code >= 400:
        raise make_status_error(response)
    try:
        data = response.json() if response.content else None
    except ValueError as error:
        raise APIResponseValidationError(
            f"{response.status_code} response is not JSON: {response.text[:200]!r}",
            request=response.request,
        ) from error
    try:
        return result.validate_python(data)
    except pydantic.ValidationError as error:
        raise APIResponseValidationError(
            f"Unexpected answer to {call.method} {call.path}: {error}", request=response.request
        ) from error


def validate(model: type[M], data: Any) -> M:
    """*data* as *model*; a mismatch is the SDK's :class:`APIResponseValidationError`."""
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as error:
        raise APIResponseValidationError(f"Unexpected {model.__name__}: {error}") from error


class Requester(Generic[HttpT]):
    """The options and the HTTP client that calls go through."""

    def __init__(self, options: ClientOptions, http: HttpT) -> None:
        self.options = options
        self.http: HttpT = http

    def with_options(
        self, timeout: float | httpx.Timeout | None = None, max_retries: int | None = None
    ) -> Self:
        """A requester over the same HTTP client with these options changed."""
        return type(self)(self.options.with_changes(timeout, max_retries), self.http)

    def acting(self, telegram_id: int) -> Self:
        """A requester over the same HTTP client that acts for *telegram_id*'s manager."""
        return type(self)(self.options.acting(telegram_id), self.http)

    def build(self, call: Call, body: Multipart | None = None) -> httpx.Request:
        request = self.http.build_request(
            call.method,
            self.options.url(call.path),
            params=_clean(call.params),
            json=None if body is not None else call.json,
            headers=self.options.request_headers(),
            timeout=extend_read(self.options.timeout, call.hold),
        )
        if body is not None:
            request.stream = body
            request.headers["Content-Type"] = body.content_type
            request.headers["Content-Length"] = str(body.length)
        return request

    def body(self, call: Call) -> Multipart | None:
        """The multipart body of a call with files (not opened yet); ``None`` for JSON."""
        if not call.files:
            return None
        return Multipart(form_fields(call.json or {}), call.files)

    def build_download(self, download: Download[Any], resume: Resume) -> httpx.Request:
        base = httpx.URL(self.options.base_url)
        url = base.join(download.url)
        headers = self.options.request_headers()
        if (url.scheme, url.netloc) != (base.scheme, base.netloc):
            del headers["Authorization"]  # the desk's credential is for the desk only
        headers.update(resume.headers())
        return self.http.build_request("GET", url, headers=headers, timeout=self.options.timeout)


class SyncRequester(Requester[httpx.Client]):
    """Sends calls, with retries, over one ``httpx.Client``."""

    def perform(self, call: Call, result: pydantic.TypeAdapter[R]) -> R:
        body = self.body(call)
        if body is not None:
            body.open()
        try:
            request = self.build(call, body)
            attempts = Attempts(request, self.options.max_retries, call.idempotent)
            while True:
                try:
                    step = attempts.after(self.http.send(request))
                except httpx.TransportError as error:
                    step = attempts.after(error)
                if isinstance(step, httpx.Response):
                    return answer(step, result, call)
                time.sleep(step)
                request = self.build(call, body)  # the files from their start again
        finally:
            if body is not None:
                body.close()

    def receive(self, download: Download[R]) -> R:
        sink = download.into()
        resume = Resume()
        sink.start()
        try:
            attempts: Attempts | None = None
            while True:
                request = self.build_download(download, resume)
                attempts = attempts or Attempts(request, self.options.max_retries, True)
                try:
                    response = self.http.send(request, stream=True, follow_redirects=True)
                    try:
                        if response.is_success:
                            if resume.accept(response):
                                sink.restart()
                            for chunk in response.iter_bytes():
                                sink.write(chunk)
                                resume.got(chunk)
                            return sink.finish()
                        step = attempts.after(response)
                        if isinstance(step, httpx.Response):
                            response.read()
                            raise make_status_error(response)
                        wait = step
                    finally:
                        response.close()
                except httpx.TransportError as error:
                    wait = attempts.after_error(error)
                time.sleep(wait)
        except BaseException:
            sink.abort()
            raise


class AsyncRequester(Requester[httpx.AsyncClient]):
    """Sends calls, with retries, over one ``httpx.AsyncClient``."""

    async def perform(self, call: Call, result: pydantic.TypeAdapter[R]) -> R:
        body = self.body(call)
        if body is not None:
            await body.aopen()  # opening and measuring files: in a thread
        try:
            request = self.build(call, body)
            attempts = Attempts(request, self.options.max_retries, call.idempotent)
            while True:
                try:
                    step = attempts.after(await self.http.send(request))
                except httpx.TransportError as error:
                    step = attempts.after(error)
                if isinstance(step, httpx.Response):
                    return answer(step, result, call)
                await asyncio.sleep(step)
                request = self.build(call, body)  # the files from their start again
        finally:
            if body is not None:
                await body.aclose()

    async def receive(self, download: Download[R]) -> R:
        sink = download.into()
        resume = Resume()

        async def run(function: Callable[..., Any], *args: Any) -> Any:
            return await in_thread_if(sink.blocking, function, *args)

        await run(sink.start)
        try:
            attempts: Attempts | None = None
            while True:
                request = self.build_download(download, resume)
                attempts = attempts or Attempts(request, self.options.max_retries, True)
                try:
                    response = await self.http.send(request, stream=True, follow_redirects=True)
                    try:
                        if response.is_success:
                            if resume.accept(response):
                                await run(sink.restart)
                            async for chunk in response.aiter_bytes():
                                await run(sink.write, chunk)
                                resume.got(chunk)
                            result: R = await run(sink.finish)
                            return result
                        step = attempts.after(response)
                        if isinstance(step, httpx.Response):
                            await response.aread()
                            raise make_status_error(response)
                        wait = step
                    finally:
                        await response.aclose()
                except httpx.TransportError as error:
                    wait = attempts.after_error(error)
                await asyncio.sleep(wait)
        except BaseException:
            await run(sink.abort)
            raise


#: Either requester: a resource (:mod:`support_client._resource`) is generic in it.
RequesterT = TypeVar("RequesterT", SyncRequester, AsyncRequester)


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

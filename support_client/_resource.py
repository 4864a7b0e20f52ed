"""One base for the API's resources, and for both clients.

A resource method is declared once, as the :class:`Call` its arguments make,
under ``@endpoint(Model)`` naming what the answer is::

    class Tickets(Resource[RequesterT]):
        @endpoint(Ticket)
        def get(self, ticket_id: int) -> Call:
            return Call("GET", f"tickets/{ticket_id}/")

``client.tickets.get(16)`` then sends it through the client's requester
(retries, errors) and returns the answer validated as a ``Ticket``; on
``AsyncSupportClient`` the same method is a coroutine function. The types
follow: ``Tickets[SyncRequester]().get`` is ``(ticket_id: int) -> Ticket``,
``Tickets[AsyncRequester]().get`` is ``(ticket_id: int) -> Coroutine[…, Ticket]``.

A method that uploads says so in its ``Call`` (``files=``: the requester sends
``multipart/form-data``); one whose answer is a file's bytes returns a
:class:`Download` under ``@streamed(Result)``, which names the sink the bytes
go to and so what the call returns::

    class Attachments(Resource[RequesterT]):
        @streamed(bytes)
        def read(self, attachment: Attachment) -> Download[bytes]:
            return Download(attachment.url, BytesSink)
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, Generic, ParamSpec, Self, TypeVar, overload

import pydantic

from support_client._base_client import (
    AsyncRequester,
    Call,
    Download,
    RequesterT,
    SyncRequester,
)

P = ParamSpec("P")
R = TypeVar("R")


class Resource(Generic[RequesterT]):
    """A group of endpoints (``client.tickets``, …) over one requester."""

    def __init__(self, requester: RequesterT) -> None:
        self._requester: RequesterT = requester


class Endpoint(Generic[P, R]):
    """A resource method: sends what *build* makes through the requester's *run*, returns *R*."""

    def __init__(
        self,
        build: Callable[Concatenate[Any, P], Any],
        result: Any,
        run: Callable[[SyncRequester | AsyncRequester, Any], Any],
    ) -> None:
        self._build = build
        self._run = run
        self.__doc__ = build.__doc__
        # What help() and IDEs show of a bound method: its arguments, the result.
        signature = inspect.signature(build)
        self._signature = signature.replace(
            parameters=list(signature.parameters.values())[1:], return_annotation=result
        )

    def __repr__(self) -> str:
        return f"<endpoint {self._build.__qualname__}>"

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self._name = name

    @overload
    def __get__(self, resource: None, owner: type[Any]) -> Self: ...
    @overload
    def __get__(self, resource: Resource[SyncRequester], owner: type[Any]) -> Callable[P, R]: ...
    @overload
    def __get__(
        self, resource: Resource[AsyncRequester], owner: type[Any]
    ) -> Callable[P, Coroutine[Any, Any, R]]: ...
    def __get__(self, resource: Resource[Any] | None, owner: type[Any]) -> Any:
        if resource is None:
            return self
        requester: SyncRequester | AsyncRequester = resource._requester
        method: Any
        if isinstance(requester, AsyncRequester):
            method = self._async_method(resource, requester)
        else:
            method = self._sync_method(resource, requester)
        for name in ("__module__", "__name__", "__qualname__", "__doc__"):
            setattr(method, name, getattr(self._build, name))
        method.__signature__ = self._signature
        resource.__dict__[self._name] = method  # made once per resource
        return method

    def _sync_method(self, resource: Resource[Any], requester: SyncRequester) -> Callable[P, R]:
        def method(*args: P.args, **kwargs: P.kwargs) -> R:
            result: R = self._run(requester, self._build(resource, *args, **kwargs))
            return result

        return method

    def _async_method(
        self, resource: Resource[Any], requester: AsyncRequester
    ) -> Callable[P, Coroutine[Any, Any, R]]:
        async def method(*args: P.args, **kwargs: P.kwargs) -> R:
            result: R = await self._run(requester, self._build(resource, *args, **kwargs))
            return result

        return method


def endpoint(
    result: type[R],
) -> Callable[[Callable[Concatenate[Any, P], Call]], Endpoint[P, R]]:
    """``@endpoint(Ticket)`` over a method that returns its :class:`Call`; see the module doc."""
    adapter = pydantic.TypeAdapter(result)

    def decorate(build: Callable[Concatenate[Any, P], Call]) -> Endpoint[P, R]:
        return Endpoint(build, result, lambda requester, call: requester.perform(call, adapter))

    return decorate


def streamed(
    result: type[R],
) -> Callable[[Callable[Concatenate[Any, P], Download[R]]], Endpoint[P, R]]:
    """``@streamed(bytes)`` over a method that returns its :class:`Download`: the answer's
    bytes go to the download's sink, and what the sink makes is the result."""

    def decorate(build: Callable[Concatenate[Any, P], Download[R]]) -> Endpoint[P, R]:
        return Endpoint(build, result, lambda requester, download: requester.receive(download))

    return decorate


def given(**fields: Any) -> dict[str, Any]:
    """The *fields* that are not ``None``: a body with only what the caller passed."""
    return {name: value for name, value in fields.items() if value is not None}

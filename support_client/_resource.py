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
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, Generic, ParamSpec, Self, TypeVar, overload

import pydantic

from support_client._base_client import AsyncRequester, Call, RequesterT, SyncRequester

P = ParamSpec("P")
R = TypeVar("R")


class Resource(Generic[RequesterT]):
    """A group of endpoints (``client.tickets``, …) over one requester."""

    def __init__(self, requester: RequesterT) -> None:
        self._requester: RequesterT = requester


class Endpoint(Generic[P, R]):
    """A resource method: sends the :class:`Call` that *build* makes, returns the answer as *R*."""

    def __init__(self, build: Callable[Concatenate[Any, P], Call], result: type[R]) -> None:
        self._build = build
        self._result = pydantic.TypeAdapter(result)
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
            return requester.perform(self._build(resource, *args, **kwargs), self._result)

        return method

    def _async_method(
        self, resource: Resource[Any], requester: AsyncRequester
    ) -> Callable[P, Coroutine[Any, Any, R]]:
        async def method(*args: P.args, **kwargs: P.kwargs) -> R:
            return await requester.perform(self._build(resource, *args, **kwargs), self._result)

        return method


def endpoint(
    result: type[R],
) -> Callable[[Callable[Concatenate[Any, P], Call]], Endpoint[P, R]]:
    """``@endpoint(Ticket)`` over a method that returns its :class:`Call`; see the module doc."""

    def decorate(build: Callable[Concatenate[Any, P], Call]) -> Endpoint[P, R]:
        return Endpoint(build, result)

    return decorate


def given(**fields: Any) -> dict[str, Any]:
    """The *fields* that are not ``None``: a body with only what the caller passed."""
    return {name: value for name, value in fields.items() if value is not None}

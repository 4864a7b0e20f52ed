"""Ratings: ``POST/PATCH tickets/{id}/rating/`` (bots), once per resolved ticket; shown on
the ticket; ``ticket.rated``. Every refusal answers its code and changes nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from rest_framework.test import APIClient

from support import events, ratings
from support.actors import Actor
from support.exceptions import Invalid, NotFound, PermissionDenied, TicketNotResolved
from support.models import Rating
from tests.conftest import Desk, assert_refused, new_events, snapshot

pytestmark = pytest.mark.django_db

RATING = "/support/tickets/{id}/rating/"


def everything() -> tuple[Any, ...]:
    return (*snapshot(), list(Rating.objects.order_by("id").values()))


def send(client: APIClient, method: str, ticket_id: int, body: Any) -> Any:
    data = body if isinstance(body, str) else json.dumps(body)
    call = getattr(client, method)
    return call(RATING.format(id=ticket_id), data, content_type="application/json")


# -- what a rating does ------------------------------------------------------------------------


def test_a_rating_is_stored_shown_on_the_ticket_and_sent(clients, desk: Desk):
    start = events.current_position()
    response = send(clients["bot"], "post", desk.resolved.pk, {"score": 4, "comment": "quick"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert list(body) == ["score", "comment", "created_at"]
    assert (body["score"], body["comment"]) == (4, "quick")
    assert new_events(start) == [("ticket.rated", {"ticket": desk.resolved.pk, "rating": body})]
    shown = clients["manager"].get(f"/support/tickets/{desk.resolved.pk}/").json()
    assert shown["rating"] == body
    listed = {t["id"]: t["rating"] for t in clients["manager"].get("/support/tickets/").json()}
    assert listed[desk.resolved.pk] == body
    assert listed[desk.open.pk] is None


def test_a_second_press_changes_nothing_and_answers_the_first(clients, desk: Desk):
    first = send(clients["bot"], "post", desk.resolved.pk, {"score": 2})
    assert first.status_code == 201
    before = everything()
    for body in ({"score": 5}, {"score": 2}, {"score": 1, "comment": "changed my mind"}):
        again = send(clients["bot"], "post", desk.resolved.pk, body)
        assert again.status_code == 200, again.content
        assert again.json() == first.json()
    assert everything() == before


def test_a_comment_is_added_once(clients, desk: Desk):
    rated = send(clients["bot"], "post", desk.resolved.pk, {"score": 5}).json()
    assert rated["comment"] == ""
    start = events.current_position()
    response = send(clients["bot"], "patch", desk.resolved.pk, {"comment": "thanks!"})
    assert response.status_code == 200, response.content
    assert response.json() == {**rated, "comment": "thanks!"}
    assert new_events(start) == [
        ("ticket.rated", {"ticket": desk.resolved.pk, "rating": response.json()})
    ]
    before = everything()
    again = send(clients["bot"], "patch", desk.resolved.pk, {"comment": "another"})
    assert (again.status_code, again.json()["comment"]) == (200, "thanks!")
    assert everything() == before


def test_a_patch_of_nothing_answers_the_rating_and_changes_nothing(clients, desk: Desk):
    rated = send(clients["bot"], "post", desk.resolved.pk, {"score": 4}).json()
    before = everything()
    response = send(clients["bot"], "patch", desk.resolved.pk, {})
    assert (response.status_code, response.json()) == (200, rated)
    assert everything() == before
    nothing = send(clients["bot"], "patch", desk.open.pk, {})  # no rating: still 404
    assert (nothing.status_code, nothing.json()["code"]) == (404, "not_found")


def test_a_rating_given_with_a_comment_keeps_it(clients, desk: Desk):
    send(clients["bot"], "post", desk.resolved.pk, {"score": 3, "comment": "ok"})
    before = everything()
    again = send(clients["bot"], "patch", desk.resolved.pk, {"comment": "more"})
    assert again.json()["comment"] == "ok"
    assert everything() == before


def test_the_rating_stays_when_the_ticket_is_reopened(clients, desk: Desk, manager_actor):
    from support import services

    rated = send(clients["bot"], "post", desk.resolved.pk, {"score": 5}).json()
    services.reopen(manager_actor, desk.resolved.pk)
    assert clients["manager"].get(f"/support/tickets/{desk.resolved.pk}/").json()["rating"] == rated
    again = send(clients["bot"], "post", desk.resolved.pk, {"score": 1})
    assert (again.status_code, again.json()) == (200, rated)


# -- the permission table ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "body", "ok"),
    [("post", {"score": 5}, 201), ("patch", {"comment": "nice"}, 200)],
    ids=["POST", "PATCH"],
)
@pytest.mark.parametrize(
    ("caller", "status", "code"),
    [
        ("bot", None, None),
        ("manager", 403, "permission_denied"),
        ("plain", 403, "permission_denied"),
        ("anon", 401, "not_authenticated"),
    ],
)
def test_the_permission_table(
    clients, desk: Desk, bot_actor, method, body, ok, caller, status, code
):
    if method == "patch":
        ratings.rate(bot_actor, desk.resolved.pk, score=4)
    before = everything()
    response = send(clients[caller], method, desk.resolved.pk, body)
    if status is None:
        assert response.status_code == ok, response.content
        return
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert everything() == before


@pytest.mark.parametrize("method", ["post", "patch"])
def test_a_manager_is_refused_before_the_body_is_read(clients, desk: Desk, method):
    before = everything()
    for ticket_id, body in ((desk.resolved.pk, {"nope": 1}), (999999, {"score": 5}), (1, "{bad")):
        response = send(clients["manager"], method, ticket_id, body)
        assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    assert everything() == before


def test_a_staff_bot_acting_for_a_manager_is_a_manager(desk: Desk, manager):
    from support.botkeys import create_bot_key

    key, _ = create_bot_key("staff", staff=True)
    with pytest.raises(PermissionDenied):
        ratings.rate(Actor.acting(manager, key), desk.resolved.pk, score=5)


# -- the bad input table ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "ticket", "body", "status", "code", "field"),
    [
        pytest.param("post", "resolved", {}, 400, "invalid", "score", id="no score"),
        pytest.param("post", "resolved", {"score": 0}, 400, "invalid", "score", id="score 0"),
        pytest.param("post", "resolved", {"score": 6}, 400, "invalid", "score", id="score 6"),
        pytest.param("post", "resolved", {"score": -1}, 400, "invalid", "score", id="negative"),
        pytest.param("post", "resolved", {"score": "5"}, 400, "invalid", "score", id="a string"),
        pytest.param("post", "resolved", {"score": 4.5}, 400, "invalid", "score", id="a float"),
        pytest.param("post", "resolved", {"score": True}, 400, "invalid", "score", id="a bool"),
        pytest.param("post", "resolved", {"score": None}, 400, "invalid", "score", id="null"),
        pytest.param("post", "resolved", {"score": 2**70}, 400, "invalid", "score", id="huge"),
        pytest.param(
            "post", "resolved", {"score": 5, "comment": " "}, 400, "invalid", "comment", id="blank"
        ),
        pytest.param(
            "post", "resolved", {"score": 5, "comment": "x" * 1001}, 400, "invalid", "comment",
            id="1001-char comment",
        ),
        pytest.param(
            "post", "resolved", {"score": 5, "comment": "a\x00"}, 400, "invalid", "comment",
            id="NUL",
        ),
        pytest.param(
            "post", "resolved", '{"score": 5, "comment": "\\ud800"}', 400, "invalid", "comment",
            id="lone surrogate",
        ),
        pytest.param(
            "post", "resolved", {"score": 5, "comment": 3}, 400, "invalid", "comment",
            id="comment as number",
        ),
        pytest.param(
            "post", "resolved", {"score": 5, "ticket": 1}, 400, "invalid", "ticket",
            id="unknown field",
        ),
        pytest.param("post", "resolved", "[]", 400, "invalid", "non_field_errors", id="a list"),
        pytest.param("post", "resolved", "null", 400, "invalid", "non_field_errors", id="null"),
        pytest.param("post", "resolved", "{bad", 400, "bad_json", None, id="malformed JSON"),
        pytest.param(
            "post", "open", {"score": 5}, 409, "ticket_not_resolved", None, id="not resolved"
        ),
        pytest.param("post", 999999, {"score": 5}, 404, "not_found", None, id="unknown ticket"),
        pytest.param(
            "patch", "rated", {"comment": None}, 400, "invalid", "comment", id="patch: null"
        ),
        pytest.param(
            "patch", "rated", {"comment": ""}, 400, "invalid", "comment", id="patch: empty"
        ),
        pytest.param(
            "patch", "rated", {"comment": "x" * 1001}, 400, "invalid", "comment",
            id="patch: too long",
        ),
        pytest.param(
            "patch", "rated", {"comment": "x", "score": 1}, 400, "invalid", "score",
            id="patch: the score",
        ),
        pytest.param(
            "patch", "resolved", {"comment": "x"}, 404, "not_found", None, id="patch: no rating"
        ),
        pytest.param(
            "patch", 999999, {"comment": "x"}, 404, "not_found", None, id="patch: unknown ticket"
        ),
    ],
)  # fmt: skip
def test_bad_input_is_refused_and_changes_nothing(
    clients, desk: Desk, bot_actor, method, ticket, body, status, code, field
):
    ratings.rate(bot_actor, desk.others.pk, score=3)  # "rated": resolved and rated below
    targets = {"resolved": desk.resolved.pk, "open": desk.open.pk, "rated": desk.others.pk}
    ticket_id = targets[ticket] if isinstance(ticket, str) else ticket
    before = everything()
    response = send(clients["bot"], method, ticket_id, body)
    assert_refused(response, status, code, field)
    assert everything() == before


@pytest.fixture
def desk(desk: Desk, manager_actor: Actor, other_actor: Actor) -> Desk:
    """The desk, with ``others`` resolved too (its manager resolves it)."""
    from support import services

    services.resolve(other_actor, desk.others.pk)
    return desk


def test_the_longest_comment_and_every_score_are_accepted(clients, desk: Desk):
    response = send(clients["bot"], "post", desk.resolved.pk, {"score": 1, "comment": "x" * 1000})
    assert response.status_code == 201
    for score in (1, 5):
        assert ratings._clean_score(score) == score


@pytest.mark.parametrize(
    ("ticket_id", "kwargs", "error"),
    [
        ("1", {"score": 5}, Invalid),
        (True, {"score": 5}, Invalid),
        (999999, {"score": 5}, NotFound),
        ("resolved", {"score": 0}, Invalid),
        ("resolved", {"score": None}, Invalid),
        ("resolved", {"score": 5, "comment": ["x"]}, Invalid),
        ("open", {"score": 5}, TicketNotResolved),
    ],
)
def test_the_service_checks_what_other_callers_pass(
    desk: Desk, bot_actor, ticket_id, kwargs, error
):
    targets = {"resolved": desk.resolved.pk, "open": desk.open.pk}
    before = everything()
    with pytest.raises(error):
        ratings.rate(bot_actor, targets.get(ticket_id, ticket_id), **kwargs)
    assert everything() == before

"""django-eventstream reads the same log through its storage interface."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from django_eventstream.storage import EventDoesNotExist
from django_eventstream.utils import make_id

from support import events, services
from support.cursors import CHANNEL
from support.models import Event
from support.realtime.storage import EventLogStorage


@pytest.fixture
def storage() -> EventLogStorage:
    return EventLogStorage()


def test_storage_serves_the_log_with_the_same_cursor(storage, make_ticket, bot_actor):
    start = storage.get_current_id(CHANNEL)
    ticket = make_ticket()
    services.resolve(bot_actor, ticket.pk)
    served = storage.get_events(CHANNEL, start)
    logged = list(Event.objects.filter(id__gt=start).order_by("id"))
    assert [(e.id, e.type) for e in served] == [(row.pk, row.type) for row in logged]
    assert [json.loads(e.data) for e in served] == [row.envelope() for row in logged]
    # The SSE id django-eventstream derives is the envelope's cursor.
    assert all(make_id({CHANNEL: e.id}) == json.loads(e.data)["event_id"] for e in served)
    assert storage.get_current_id(CHANNEL) == logged[-1].pk == events.current_position()
    assert storage.get_events(CHANNEL, logged[-1].pk) == []


def test_limit_is_honoured(storage, make_ticket):
    make_ticket()
    assert len(storage.get_events(CHANNEL, 0, limit=1)) == 1


def test_expired_cursor_raises_event_does_not_exist(storage, make_ticket, bot_actor):
    ticket = make_ticket()
    Event.objects.update(created_at=timezone.now() - timedelta(days=30))
    services.resolve(bot_actor, ticket.pk)
    events.trim()
    with pytest.raises(EventDoesNotExist) as raised:
        storage.get_events(CHANNEL, 0)
    assert raised.value.current_id == events.current_position()


def test_appending_to_the_log_through_eventstream_is_refused(storage, db):
    with pytest.raises(RuntimeError, match=r"support\.services"):
        storage.append_event(CHANNEL, "ticket.created", {})
    assert Event.objects.count() == 0


def test_other_channels_are_not_backed_by_the_log(storage, make_ticket):
    make_ticket()
    assert storage.get_events("other", 0) == []
    assert storage.get_current_id("other") == 0
    assert storage.append_event("other", "x", {"a": 1}).id is None

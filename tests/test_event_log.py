"""The durable event log: atomic with its change, ordered by commit, trimmed, resumable."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.test import override_settings
from django.utils import timezone

from support import events, services
from support.exceptions import CursorExpired, Invalid
from support.models import Event, Message, Ticket


def test_envelope_is_type_payload_and_cursor(make_ticket, v1_examples):
    ticket = make_ticket()
    created = Event.objects.get(type="ticket.created").envelope()
    assert list(created) == ["type", "ticket", "event_id"]
    assert created["ticket"]["id"] == ticket.pk
    example = v1_examples["websocket_server_to_client"][0]["ticket"]
    assert set(example) <= set(created["ticket"])
    assert isinstance(created["event_id"], str)


def test_assigned_event_has_the_1x_shape(make_ticket, manager_actor, v1_examples):
    ticket = make_ticket()
    services.assign(manager_actor, ticket.pk)
    envelope = Event.objects.get(type="ticket.assigned").envelope()
    example = v1_examples["websocket_server_to_client"][1]
    assert {k: v for k, v in envelope.items() if k != "event_id"}.keys() == example.keys()
    assert envelope["id"] == ticket.pk
    assert envelope["support_manager"] == manager_actor.manager_id


def test_message_event_has_the_1x_shape(make_ticket, v1_examples):
    make_ticket(text="some_text")
    envelope = Event.objects.get(type="ticket.message.new").envelope()
    example = v1_examples["websocket_server_to_client"][2]
    assert list(envelope) == ["type", "message", "event_id"]
    assert list(envelope["message"])[: len(example["message"])] == list(example["message"])


def test_rolled_back_change_leaves_no_event(make_ticket, bot_actor):
    ticket = make_ticket()
    events_before = Event.objects.count()
    messages_before = Message.objects.count()

    def doomed() -> None:
        with transaction.atomic():
            services.post_message(bot_actor, ticket.pk, text="doomed")
            raise RuntimeError("the caller's transaction fails after the service call")

    with pytest.raises(RuntimeError):
        doomed()
    assert Event.objects.count() == events_before
    assert Message.objects.count() == messages_before


@pytest.mark.django_db(transaction=True)
def test_append_outside_a_transaction_is_refused():
    with pytest.raises(RuntimeError, match="atomic"):
        events.append(events.TICKET_RESOLVED, {"id": 1})


@pytest.mark.django_db(transaction=True)
def test_publish_happens_only_after_commit(bot_actor, tg_user, monkeypatch):
    published: list[dict[str, Any]] = []
    monkeypatch.setattr(events, "publish", published.append)
    with transaction.atomic():
        ticket = services.open_ticket(bot_actor, user_id=tg_user.pk, title="t", text="x")
        assert published == []
    assert [e["type"] for e in published] == ["ticket.created", "ticket.message.new"]
    assert published[0]["ticket"]["id"] == ticket.pk

    def doomed() -> None:
        with transaction.atomic():
            services.resolve(bot_actor, ticket.pk)
            raise RuntimeError

    with pytest.raises(RuntimeError):
        doomed()
    assert len(published) == 2


@pytest.mark.django_db(transaction=True)
def test_publish_reaches_the_channel_layer(bot_actor, tg_user):
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)("support.events", channel)
    ticket = services.open_ticket(bot_actor, user_id=tg_user.pk, title="t")
    message = async_to_sync(layer.receive)(channel)
    assert message == {"type": "support.event", "event_id": Event.objects.get().cursor}
    assert Event.objects.get().data["ticket"]["id"] == ticket.pk


@pytest.mark.django_db(transaction=True)
def test_a_broken_channel_layer_does_not_fail_the_change(bot_actor, tg_user, caplog):
    with override_settings(CHANNEL_LAYERS={"default": {"BACKEND": "no.such.Layer"}}):
        from channels.layers import channel_layers

        channel_layers.backends.clear()
        ticket = services.open_ticket(bot_actor, user_id=tg_user.pk, title="t")
    channel_layers.backends.clear()
    assert Ticket.objects.filter(pk=ticket.pk).exists()
    assert "Could not publish event" in caplog.text


def test_read_after_and_current_position(make_ticket, bot_actor):
    ticket = make_ticket()
    start = events.current_position()
    services.resolve(bot_actor, ticket.pk)
    services.reopen(bot_actor, ticket.pk)
    read = events.read_after(start)
    assert [e.type for e in read] == ["ticket.resolved", "ticket.reopened"]
    assert events.current_position() == read[-1].pk
    assert events.read_after(events.current_position()) == []
    assert [e.type for e in events.read_after(start, limit=1)] == ["ticket.resolved"]


@pytest.mark.parametrize(
    "bad", ["abc", "-1", "1.5", "\uff11\uff12", "9" * 30, " 1", "other:1", "support:", "support:x"]
)
def test_bad_cursor_is_invalid(bad):
    with pytest.raises(Invalid):
        events.parse_cursor(bad)


def test_cursor_round_trip():
    assert events.parse_cursor(None) is None
    assert events.parse_cursor("") is None
    assert events.parse_cursor("support:42") == 42
    assert events.parse_cursor("42") == 42


def test_trim_expires_old_cursors(make_ticket, bot_actor):
    ticket = make_ticket()  # two events
    old_cursor = events.current_position()
    Event.objects.update(created_at=timezone.now() - timedelta(days=8))
    services.resolve(bot_actor, ticket.pk)
    assert events.trim() == 2
    assert [e.type for e in Event.objects.all()] == ["ticket.resolved"]
    with pytest.raises(CursorExpired):
        events.read_after(old_cursor - 1)
    # A reader that had seen everything trimmed loses nothing by it.
    assert [e.type for e in events.read_after(old_cursor)] == ["ticket.resolved"]
    assert events.trim() == 0


@override_settings(SUPPORT_EVENT_RETENTION=timedelta(hours=1))
def test_retention_is_a_setting(make_ticket):
    make_ticket()
    Event.objects.update(created_at=timezone.now() - timedelta(hours=2))
    assert events.trim() == 2
    assert events.current_position() == events.trimmed_through() > 0


@pytest.mark.django_db(transaction=True)
def test_cursors_follow_commit_order_under_concurrent_writers(bot_actor, tg_user):
    """Writers race; a reader polling the log must see every event exactly once, in order.

    Without the writer lock, a transaction that inserted id N and committed
    after N+1 would be skipped by a reader that had already moved past N+1.
    """
    tickets = [
        services.open_ticket(bot_actor, user_id=tg_user.pk, title=f"t{i}").pk for i in range(4)
    ]
    start = events.current_position()
    writers, per_writer = 4, 25
    errors: list[BaseException] = []
    done = threading.Event()

    def write(ticket_id: int) -> None:
        try:
            for i in range(per_writer):
                services.post_message(bot_actor, ticket_id, text=f"m{i}")
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connection.close()

    seen: list[int] = []

    def read() -> None:
        position = start
        try:
            while True:
                finished = done.is_set()
                batch = events.read_after(position)
                seen.extend(e.pk for e in batch)
                if batch:
                    position = batch[-1].pk
                elif finished:
                    return
        finally:
            connection.close()

    reader = threading.Thread(target=read)
    threads = [threading.Thread(target=write, args=(t,)) for t in tickets]
    reader.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    reader.join()

    assert errors == []
    committed = list(Event.objects.filter(id__gt=start).order_by("id").values_list("id", flat=True))
    assert len(committed) == writers * per_writer
    assert seen == committed


def test_trim_command(make_ticket):
    from io import StringIO

    from django.core.management import call_command

    make_ticket()
    Event.objects.update(created_at=timezone.now() - timedelta(days=8))
    out = StringIO()
    call_command("support_trim_events", stdout=out)
    assert out.getvalue().startswith("Deleted 2 event(s)")
    assert not Event.objects.exists()


def test_following_the_log_costs_one_query(make_ticket, bot_actor, django_assert_num_queries):
    ticket = make_ticket()
    position = events.current_position()
    services.resolve(bot_actor, ticket.pk)
    with django_assert_num_queries(1):
        assert [e.type for e in events.read_after(position)] == ["ticket.resolved"]


def test_a_trim_between_reading_events_and_the_mark_never_leaves_a_gap(
    make_ticket, bot_actor, monkeypatch
):
    """A trim that commits while ``read_after`` runs: all the events, or ``CursorExpired``."""
    ticket = make_ticket()  # two events, about to fall out of the retention window
    Event.objects.update(created_at=timezone.now() - timedelta(days=8))
    services.resolve(bot_actor, ticket.pk)
    cursor = events.current_position() - 3  # before all three
    real_mark = events.trimmed_through

    def trim_then_mark() -> int:
        events.trim()  # commits between read_after's two statements
        return real_mark()

    monkeypatch.setattr(events, "trimmed_through", trim_then_mark)
    try:
        read = [e.type for e in events.read_after(cursor)]
    except CursorExpired:
        read = None
    assert read in (["ticket.created", "ticket.message.new", "ticket.resolved"], None)

"""Hypothesis-generated frames against the live WebSocket endpoint.

One manager connection receives every generated frame: arbitrary text
(malformed JSON, deep nesting, huge, any unicode), arbitrary JSON values,
command-shaped objects with real and made-up ``type``s and mistyped or
extra fields, well-formed commands, and binary frames. After each frame a
``ticket.resolve`` probe with a fresh ``request_id`` follows on a known
ticket; everything the server says between the two is the frame's answer.

The protocol (docs/events.md, "Commands"): a frame that is not a valid command is
answered with exactly one ``{"type": "error", ...}`` frame (string ``code``
from the documented list, string ``detail``, ``request_id`` echoed when the
frame had a usable one, else ``null``); a valid command gets its ``ack``
when it carries a ``request_id``, or a documented error; the connection
stays open (the probe is acked) and the server never crashes.

Bounded and reproducible: ``derandomize=True`` (a fixed seed per test), no
example database, no deadline, ``MAX_EXAMPLES`` frames.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, event, given, note, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.harness.server import WEBSOCKET_MAX_SIZE, Credentials, LiveServer, running_server
from tests.live_clients import auth

pytestmark = pytest.mark.live

MAX_EXAMPLES = 200
#: Seconds to wait for the server's answer to one frame and its probe.
ANSWER_TIMEOUT = 15.0
#: Tickets opened before the run; the last one answers the probes.
TICKETS = 6
PROBE_TICKET = TICKETS

# The protocol, as docs/events.md documents it (support/realtime/commands.py):
# frames of at most 65,536 characters, and a usable request_id string of at
# most 128 characters. The server itself (daphne, as docs/deployment.md starts
# it) refuses a message over WEBSOCKET_MAX_SIZE bytes before reading it: it
# ends the connection (1009, "message too big", or dropped).
MAX_FRAME = 64 * 1024
CLOSE_TOO_BIG = 1009
MAX_REQUEST_ID = 128
COMMANDS: dict[str, dict[str, tuple[bool, type]]] = {
    "ticket.assign": {},
    "ticket.unassign": {},
    "ticket.resolve": {},
    "ticket.reopen": {},
    "ticket.message.new": {"text": (True, str), "idempotency_key": (False, str)},
    "ticket.messages.viewed": {"up_to": (False, int)},
}
COMMON_FIELDS = {"type", "request_id", "ticket_id"}
#: What a well-formed command may still be refused with (the service layer's rules;
#: ``idempotency_conflict`` is a message key the bot used first).
SERVICE_ERRORS = {
    "invalid",
    "not_found",
    "permission_denied",
    "already_assigned",
    "assigned_to_other",
    "ticket_resolved",
    "idempotency_conflict",
}
MISSING = object()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, Credentials]]:
    with running_server(tmp_path_factory.mktemp("fuzz-websocket"), tickets=TICKETS) as live:
        yield live


# -- the oracle ---------------------------------------------------------------


@dataclass(frozen=True)
class Refused:
    """Not a valid command: exactly one error frame with one of ``codes``."""

    codes: frozenset[str]
    request_id: Any  # the request_id the error must echo (None: null)


@dataclass(frozen=True)
class TooBig:
    """Over the server's own limit: it closes the connection (1009), unread."""


@dataclass(frozen=True)
class Command:
    """A well-formed command: the service layer decides."""

    request_id: Any  # MISSING when the frame has none


def usable_request_id(frame: dict[str, Any]) -> Any:
    value = frame.get("request_id")
    if isinstance(value, str) and len(value) <= MAX_REQUEST_ID:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


def shape_errors(frame: dict[str, Any], fields: dict[str, tuple[bool, type]]) -> list[str]:
    errors = []
    if "request_id" in frame and usable_request_id(frame) is None:
        errors.append("request_id")
    ticket_id = frame.get("ticket_id")
    if isinstance(ticket_id, bool) or not isinstance(ticket_id, int):
        errors.append("ticket_id")
    for name, (required, kind) in fields.items():
        if name not in frame:
            if required:
                errors.append(name)
            continue
        value = frame[name]
        if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
            errors.append(name)
    errors.extend(sorted(set(frame) - COMMON_FIELDS - set(fields)))
    return errors


def expect(payload: str | bytes) -> Refused | TooBig | Command:
    """What the protocol promises for one frame (the server speaks Python's JSON)."""
    if len(payload.encode() if isinstance(payload, str) else payload) > WEBSOCKET_MAX_SIZE:
        return TooBig()
    if isinstance(payload, bytes):
        return Refused(frozenset({"bad_json"}), None)
    if len(payload) > MAX_FRAME:
        return Refused(frozenset({"frame_too_large"}), None)
    try:
        frame = json.loads(payload)
    except (ValueError, RecursionError):
        return Refused(frozenset({"bad_json"}), None)
    if not isinstance(frame, dict):
        return Refused(frozenset({"bad_json"}), None)
    request_id = usable_request_id(frame)
    kind = frame.get("type")
    if not isinstance(kind, str):
        return Refused(frozenset({"invalid"}), request_id)
    if kind not in COMMANDS:
        return Refused(frozenset({"unknown_type"}), request_id)
    if shape_errors(frame, COMMANDS[kind]):
        return Refused(frozenset({"invalid"}), request_id)
    return Command(request_id if "request_id" in frame else MISSING)


# -- the frames ---------------------------------------------------------------

huge_ints = st.integers(min_value=2**63 - 2, max_value=10**30) | st.integers(
    min_value=-(10**30), max_value=-(2**63) + 2
)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | huge_ints
    | st.floats()  # NaN and infinities too: Python's JSON writes and reads them
    | st.text(max_size=30)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
ticket_ids = (
    st.integers(min_value=1, max_value=TICKETS)
    | st.integers(min_value=-3, max_value=40)
    | huge_ints
    | st.sampled_from([0, 2**63 - 1, -(2**63)])
    | st.builds(float, st.integers(min_value=1, max_value=TICKETS))
    | st.builds(str, st.integers(min_value=1, max_value=TICKETS))
    | json_values
)
request_ids = (
    st.text(max_size=20)
    | st.text(min_size=MAX_REQUEST_ID - 2, max_size=MAX_REQUEST_ID + 2)
    | st.integers()
    | huge_ints
    | json_values
)
command_types = (
    st.sampled_from(sorted(COMMANDS))
    | st.sampled_from(["ack", "error", "ticket", "ticket.", "TICKET.ASSIGN", "ticket.assign "])
    | st.text(max_size=24)
    | json_values
)
texts = (
    st.text(min_size=1, max_size=60)
    | st.just("")
    | st.builds(lambda char, size: char * size, st.characters(), st.integers(4090, 4100))
    | json_values
)


@st.composite
def command_objects(draw: st.DrawFn, *, well_typed: bool) -> dict[str, Any]:
    """A command-shaped object: mostly right, or anything in the right places."""
    if well_typed:
        frame: dict[str, Any] = {
            "type": draw(st.sampled_from(sorted(COMMANDS))),
            "ticket_id": draw(st.integers(min_value=1, max_value=TICKETS + 2)),
        }
        if draw(st.booleans()):
            frame["request_id"] = draw(st.text(max_size=20) | st.integers())
        if frame["type"] == "ticket.message.new":
            frame["text"] = draw(st.text(min_size=1, max_size=40))
            if draw(st.booleans()):
                frame["idempotency_key"] = draw(st.sampled_from(["k1", "k2", "k3"]))
        if frame["type"] == "ticket.messages.viewed" and draw(st.booleans()):
            frame["up_to"] = draw(st.integers(min_value=-5, max_value=100) | huge_ints)
        return frame
    optional = {
        "type": command_types,
        "ticket_id": ticket_ids,
        "request_id": request_ids,
        "text": texts,
        "idempotency_key": st.text(max_size=10) | st.just("") | json_values,
        "up_to": st.integers(min_value=-5, max_value=100) | huge_ints | json_values,
    }
    frame = draw(st.fixed_dictionaries({}, optional=optional))
    frame.update(draw(st.dictionaries(st.text(max_size=10), json_values, max_size=2)))
    return frame


@st.composite
def mutated_commands(draw: st.DrawFn) -> dict[str, Any]:
    """A well-typed command with one thing wrong (or, by chance, still right)."""
    frame = draw(command_objects(well_typed=True))
    key = draw(st.sampled_from(sorted(frame)))
    mutation = draw(st.sampled_from(["retype", "drop", "extra", "type"]))
    if mutation == "retype":
        frame[key] = draw(json_values | huge_ints)
    elif mutation == "drop":
        del frame[key]
    elif mutation == "extra":
        frame[draw(st.text(max_size=12))] = draw(json_values)
    else:
        frame["type"] = draw(command_types)
    return frame


def dumps(value: Any, ensure_ascii: bool) -> str:
    return json.dumps(value, ensure_ascii=ensure_ascii)


json_texts = st.builds(dumps, json_values, st.booleans())
command_texts = st.builds(dumps, command_objects(well_typed=False), st.booleans())
valid_texts = st.builds(dumps, command_objects(well_typed=True), st.booleans())
mutated_texts = st.builds(dumps, mutated_commands(), st.booleans())
truncated_texts = st.builds(
    lambda text, cut: text[: max(1, len(text) * cut // 100)], valid_texts, st.integers(1, 99)
)
huge_texts = st.builds(
    lambda char, size: char * size,
    st.characters() | st.sampled_from(["x", "é", "\U0001f600"]),
    st.integers(MAX_FRAME - 10, MAX_FRAME + 10) | st.integers(1, 3 * MAX_FRAME),
)
padded_commands = st.builds(
    lambda frame, size: json.dumps({**frame, "text": "x" * size}),
    command_objects(well_typed=True),
    st.integers(MAX_FRAME - 100, MAX_FRAME + 100),
)
deep_texts = st.builds(
    lambda opener, depth: opener * depth,
    st.sampled_from(["[", '{"a":', '{"type": "ticket.resolve", "ticket_id": 1, "x": [']),
    st.integers(min_value=100, max_value=20_000),
)
binary_frames = st.binary(max_size=200) | st.builds(
    lambda text: text.encode(), valid_texts | command_texts
)
frames: st.SearchStrategy[str | bytes] = st.one_of(
    st.text(),
    json_texts,
    command_texts,
    valid_texts,
    mutated_texts,
    truncated_texts,
    huge_texts,
    padded_commands,
    deep_texts,
    binary_frames,
)


# -- the connection -----------------------------------------------------------


class Desk:
    """One manager WebSocket, reopened only after the server closed it (a failure)."""

    def __init__(self, server: LiveServer, token: str) -> None:
        self.url = server.ws_url
        self.headers = auth(token)
        self.stack = ExitStack()
        self.ws: ClientConnection | None = None
        self.probes = itertools.count()
        self.closes: list[str] = []

    def connection(self) -> ClientConnection:
        if self.ws is None:
            self.stack.close()
            # No keepalive pings: their payload comes from the global `random`, which
            # Hypothesis watches while it draws examples.
            self.ws = self.stack.enter_context(
                connect(
                    self.url,
                    additional_headers=self.headers,
                    max_size=None,
                    open_timeout=10,
                    ping_interval=None,
                )
            )
        return self.ws

    def close(self) -> None:
        self.ws = None
        self.stack.close()

    def refused(self, payload: str | bytes) -> None:
        """Send *payload*, over the server's limit: the server ends the connection unread,
        with 1009 or by dropping it (daphne's autobahn fails a connection by dropping it)."""
        ws = self.connection()

        def send_and_read_until_closed() -> None:
            ws.send(payload)
            while True:
                ws.recv(timeout=ANSWER_TIMEOUT)  # events that were on their way

        with pytest.raises(ConnectionClosed) as closed:
            send_and_read_until_closed()
        self.close()
        received = closed.value.rcvd
        assert received is None or received.code == CLOSE_TOO_BIG, closed.value

    def exchange(self, payload: str | bytes) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Send *payload*, then a probe; the answers before the probe's, and the probe's."""
        ws = self.connection()
        probe_id = f"probe-{next(self.probes)}"
        probe = {"type": "ticket.resolve", "ticket_id": PROBE_TICKET, "request_id": probe_id}
        try:
            ws.send(payload)
            ws.send(json.dumps(probe))
            answers: list[dict[str, Any]] = []
            while True:
                raw = ws.recv(timeout=ANSWER_TIMEOUT)
                assert isinstance(raw, str), f"the server sent a binary frame: {raw!r}"
                answer = json.loads(raw)
                assert isinstance(answer, dict), f"not a JSON object: {raw!r}"
                if "event_id" in answer:
                    continue  # the stream's events interleave with answers
                if answer.get("request_id") == probe_id:
                    return answers, answer
                answers.append(answer)
        except ConnectionClosed as closed:
            self.close()
            self.closes.append(f"{closed.rcvd!r} after {payload[:200]!r}")
            pytest.fail(f"the server closed the connection: {closed.rcvd!r}")
        except TimeoutError:
            self.close()
            pytest.fail(f"no answer within {ANSWER_TIMEOUT}s")


def check_error(answer: dict[str, Any], codes: set[str] | frozenset[str], request_id: Any) -> None:
    assert answer.get("type") == "error", answer
    assert isinstance(answer.get("code"), str), answer
    assert isinstance(answer.get("detail"), str), answer
    assert answer["code"] in codes, answer
    echoed = answer.get("request_id", MISSING)
    assert type(echoed) is type(request_id), (answer, request_id)
    assert echoed == request_id, (answer, request_id)
    if "errors" in answer:
        errors = answer["errors"]
        assert isinstance(errors, dict), answer
        for messages in errors.values():
            assert isinstance(messages, list), answer
            assert all(isinstance(message, str) for message in messages), answer


def check_answers(expected: Refused | Command, answers: list[dict[str, Any]]) -> None:
    if isinstance(expected, Refused):
        assert len(answers) == 1, f"expected one error frame, got {answers}"
        check_error(answers[0], expected.codes, expected.request_id)
        return
    if expected.request_id is MISSING:
        # No request_id: silence on success, or one error frame.
        assert len(answers) <= 1, answers
        if answers:
            check_error(answers[0], SERVICE_ERRORS, None)
        return
    assert len(answers) == 1, f"expected an ack or an error, got {answers}"
    answer = answers[0]
    if answer.get("type") == "ack":
        echoed = answer.get("request_id", MISSING)
        assert type(echoed) is type(expected.request_id), answer
        assert echoed == expected.request_id, answer
        assert isinstance(answer.get("data"), dict), answer
        assert isinstance(answer["data"].get("id"), int), answer
    else:
        check_error(answer, SERVICE_ERRORS, expected.request_id)


class Frame:
    """A payload with a short repr: Hypothesis prints failing examples, and some are 200 kB."""

    def __init__(self, payload: str | bytes) -> None:
        self.payload = payload

    def __repr__(self) -> str:
        if len(self.payload) <= 300:
            return f"Frame({self.payload!r})"
        head, tail = self.payload[:150], self.payload[-50:]
        return f"Frame({head!r} ... {tail!r}, {len(self.payload)} long)"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))


def describe(payload: str | bytes) -> str:
    kind = "binary" if isinstance(payload, bytes) else "text"
    size = len(payload)
    return f"{kind}, {'huge' if size > MAX_FRAME else 'small' if size < 200 else 'large'}"


def test_every_frame_is_answered_by_the_protocol(live: tuple[LiveServer, Credentials]) -> None:
    server, credentials = live
    desk = Desk(server, credentials.managers[0])

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        # No shrinking: each example costs two round trips, and shrinking a 60 kB
        # frame can use all of Hypothesis' five-minute shrink budget. The failing
        # frame is printed as found (derandomize makes it the same on every run).
        phases=[Phase.explicit, Phase.generate],
    )
    @given(frame=frames.map(Frame))
    def exchange(frame: Frame) -> None:
        payload = frame.payload
        expected = expect(payload)
        event(describe(payload))
        event(type(expected).__name__)
        note(f"frame: {frame!r}")
        note(f"expected: {expected}")
        if isinstance(expected, TooBig):
            desk.refused(payload)
            return
        answers, probe = desk.exchange(payload)
        note(f"answers: {answers}")
        check_answers(expected, answers)
        assert probe.get("type") == "ack", f"the probe after the frame failed: {probe}"
        assert probe["data"]["id"] == PROBE_TICKET, probe

    try:
        exchange()
    finally:
        desk.close()
    assert not desk.closes, desk.closes
    assert server.process is not None
    assert server.process.poll() is None, "the server died"
    log = server.log.read_text(errors="replace")
    assert "Traceback" not in log, log[log.index("Traceback") - 300 :][:3000]

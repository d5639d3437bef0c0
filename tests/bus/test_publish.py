"""The bus: envelope, per-topic sequence numbers, two-frame messages on a real PUB socket."""

import math
import time
from collections.abc import Iterator
from typing import Any

import msgpack
import msgspec
import pytest
import zmq
from hypothesis import given, settings
from hypothesis import strategies as st

from publisher.bus import publish
from publisher.bus.publish import Bus, new_session_id
from publisher.core.schema import TickPayload, heartbeat_message, status_message


@pytest.fixture
def context() -> Iterator[zmq.Context[Any]]:
    ctx: zmq.Context[Any] = zmq.Context()
    yield ctx
    ctx.destroy(linger=0)


def receive_until(bus: Bus, sub: zmq.Socket[Any], topic: str, deadline: float) -> list[Any]:
    """Publish until the slow-joining subscriber sees a message; returns its frames."""
    while time.monotonic() < deadline:
        bus.publish(topic, "hb", {"gateway": "connected", "seqs": {}})
        if sub.poll(50):
            return sub.recv_multipart()
    raise AssertionError("subscriber received nothing")


def test_session_id_is_in_range() -> None:
    """A session id is positive and below 2**63."""
    for _ in range(100):
        assert 0 < new_session_id() < 2**63


def test_messages_are_two_frames_with_the_envelope(context: zmq.Context[Any]) -> None:
    """Each message is [topic, msgpack map] carrying v, type, pub, sid, seq and ts."""
    bus = Bus(name="t1", endpoints=["tcp://127.0.0.1:*"], send_hwm=1000, context=context)
    sub = context.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(bus.endpoints[0])
    frames = receive_until(bus, sub, "hb.t1", time.monotonic() + 10)
    assert len(frames) == 2
    assert frames[0] == b"hb.t1"
    payload = msgpack.unpackb(frames[1])
    assert payload["v"] == 1
    assert payload["type"] == "hb"
    assert payload["pub"] == "t1"
    assert payload["sid"] == bus.sid
    assert isinstance(payload["seq"], int) and payload["seq"] >= 1
    assert abs(payload["ts"] - time.time_ns()) < 60 * 10**9
    sub.close()
    bus.close()


def test_seq_counts_per_topic(context: zmq.Context[Any]) -> None:
    """Sequence numbers start at 1 and count up independently per topic."""
    bus = Bus(name="t2", endpoints=["tcp://127.0.0.1:*"], send_hwm=1000, context=context)
    a1 = bus.publish("tick.A", "tick", {})
    b1 = bus.publish("tick.B", "tick", {})
    a2 = bus.publish("tick.A", "tick", {})
    assert (a1["seq"], b1["seq"], a2["seq"]) == (1, 1, 2)
    assert bus.tick_seqs() == {"tick.A": 2, "tick.B": 1}
    bus.publish("status.t2", "status", {})
    assert "status.t2" not in bus.tick_seqs()
    bus.close()


def test_sent_callback_counts_by_type(context: zmq.Context[Any]) -> None:
    """The on_sent hook hears the type of every message sent."""
    seen: list[str] = []
    bus = Bus(
        name="t3",
        endpoints=["tcp://127.0.0.1:*"],
        send_hwm=1000,
        context=context,
        on_sent=seen.append,
    )
    bus.publish("tick.A", "tick", {})
    bus.publish("status.t3", "status", {})
    assert seen == ["tick", "status"]
    bus.close()


PAYLOAD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),
    st.floats(allow_nan=False),  # NaN != NaN; its bytes are checked below
    st.text(max_size=40),
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=12), PAYLOAD_VALUES, max_size=16))
def test_the_encoder_writes_exactly_what_msgpack_writes(payload: dict[str, Any]) -> None:
    """The bus encodes with msgspec for speed; subscribers may rely on msgpack's own bytes."""
    encode = msgspec.msgpack.Encoder().encode
    assert encode(payload) == msgpack.packb(payload)


def test_special_floats_encode_as_msgpack_does() -> None:
    for value in (math.nan, math.inf, -math.inf, -0.0, 1.7976931348623157e308):
        assert msgspec.msgpack.Encoder().encode({"price": value}) == msgpack.packb({"price": value})


# -- the wire schema: status and heartbeat are Structs, sent as the dicts they replace ----------

names = st.text(max_size=20)
wire_ints = st.integers(-(2**63), 2**64 - 1)


class Sent:
    """Frames the bus hands to ZeroMQ, caught at ``_send_frame`` (no subscriber to wait for)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.frames: list[bytes] = []
        monkeypatch.setattr(publish, "_send_frame", self.send)

    def send(self, socket: object, data: bytes, flags: int = 0) -> None:
        self.frames.append(bytes(data))

    def messages(self) -> list[tuple[bytes, bytes]]:
        pairs = iter(self.frames)
        return list(zip(pairs, pairs, strict=True))


def fixed_bus(context: zmq.Context[Any], name: str = "ibpub") -> Bus:
    """A bus whose session id and clock are known, so its bytes can be predicted exactly."""
    return Bus(
        name=name,
        endpoints=["inproc://schema-" + str(new_session_id())],
        send_hwm=1000,
        context=context,
        sid=5823457712398741234,
        clock_ns=lambda: 1767268801123456789,
    )


@settings(max_examples=200, deadline=None)
@given(
    scope=names,
    state=names,
    key=st.none() | names,
    code=st.none() | wire_ints,
    message=st.text(max_size=60),
    seq=st.integers(1, 2**64 - 1),
)
def test_status_message_encodes_as_the_dict_it_replaces(
    scope: str, state: str, key: str | None, code: int | None, message: str, seq: int
) -> None:
    """The schema's status Struct is byte-identical to the envelope-plus-body dict of before."""
    built = status_message(
        pub="ibpub", sid=7, seq=seq, ts=11, scope=scope, state=state, key=key, code=code,
        message=message,
    )  # fmt: skip
    before = {
        "v": 1, "type": "status", "pub": "ibpub", "sid": 7, "seq": seq, "ts": 11,
        "scope": scope, "state": state, "key": key, "code": code, "message": message,
    }  # fmt: skip
    assert msgspec.msgpack.encode(built) == msgpack.packb(before)


@settings(max_examples=200, deadline=None)
@given(
    gateway=names,
    seqs=st.dictionaries(st.text(max_size=20), st.integers(0, 2**64 - 1), max_size=20),
)
def test_heartbeat_message_encodes_as_the_dict_it_replaces(
    gateway: str, seqs: dict[str, int]
) -> None:
    """The schema's heartbeat Struct is byte-identical to the dict of before."""
    built = heartbeat_message(pub="p", sid=7, seq=3, ts=11, gateway=gateway, seqs=seqs)
    before = {
        "v": 1, "type": "hb", "pub": "p", "sid": 7, "seq": 3, "ts": 11,
        "gateway": gateway, "seqs": seqs,
    }  # fmt: skip
    assert msgspec.msgpack.encode(built) == msgpack.packb(before)


def test_publish_status_and_heartbeat_send_what_publish_sent(
    context: zmq.Context[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """On the bus itself: the typed publishers send the frames ``publish`` sends for the same
    body, and each returns the payload it sent."""
    typed, generic = fixed_bus(context), fixed_bus(context)
    sent = Sent(monkeypatch)
    for bus in (typed, generic):
        bus.queue_tick("tick.AAPL", {"v": 1, "type": "tick", "key": "AAPL", "seq": 0, "ts": 0})
    status = typed.publish_status("instrument", "delayed", key="AAPL", code=10167, message="m")
    heartbeat = typed.publish_heartbeat("connected")
    typed_frames = sent.messages()
    sent.frames.clear()
    generic.publish(
        generic.status_topic,
        "status",
        {"scope": "instrument", "state": "delayed", "key": "AAPL", "code": 10167, "message": "m"},
    )
    generic.publish(
        generic.heartbeat_topic, "hb", {"gateway": "connected", "seqs": generic.tick_seqs()}
    )
    assert typed_frames == sent.messages()
    assert [topic for topic, _ in typed_frames] == [b"tick.AAPL", b"status.ibpub", b"hb.ibpub"]
    assert typed_frames[1][1] == msgspec.msgpack.encode(status)
    assert heartbeat.seqs == {"tick.AAPL": 1} and status.seq == 1
    typed.close()
    generic.close()


def test_publish_status_reports_its_kind_and_counts_its_topic(context: zmq.Context[Any]) -> None:
    """The typed publishers tell ``on_sent`` their type and number their topics like publish."""
    seen: list[str] = []
    bus = Bus(
        name="t4", endpoints=["tcp://127.0.0.1:*"], send_hwm=1000, context=context,
        on_sent=seen.append,
    )  # fmt: skip
    bus.publish_status("publisher", "starting", message="sid 1")
    second = bus.publish_status("gateway", "connecting")
    bus.publish_heartbeat("connecting")
    assert seen == ["status", "status", "hb"]
    assert (second.seq, bus.last_seq("status.t4"), bus.last_seq("hb.t4")) == (2, 2, 1)
    assert (second.key, second.code, second.message) == (None, None, "")
    bus.close()


FLOATS = st.floats(allow_nan=False)  # NaN != NaN; its bytes are checked above
TICK_BODIES = st.one_of(
    st.builds(lambda p, a: {"price": p, "attrib": a}, st.none() | FLOATS, st.integers(0, 7)),
    st.builds(lambda p: {"price": p}, st.none() | FLOATS),
    st.builds(lambda s: {"size": s}, st.none() | FLOATS),
    st.builds(lambda v: {"value": v}, FLOATS | st.integers(-(2**63), 2**63) | st.text()),
)
"""The datum of a tick in the order the tick path writes it (price before attrib)."""


@given(datum=TICK_BODIES, tick_type=st.integers(0, 300), mdt=st.integers(1, 4))
def test_the_tick_literal_is_the_schema_in_its_key_order(
    datum: dict[str, Any], tick_type: int, mdt: int
) -> None:
    """The tick path's dict literal (envelope, instrument, datum, mdt, ts_recv: the order of
    publisher/core/tickpath.py) has the keys of TickPayload in the Struct's field order, and
    decodes as one with the subscriber's typed decoder."""
    payload: dict[str, Any] = {
        "v": 1, "type": "tick", "pub": "ibpub", "sid": 7, "seq": 1, "ts": 11, "key": "AAPL",
        "conid": 265598, "field": "bid", "tick_type": tick_type, **datum, "mdt": mdt,
        "ts_recv": 10,
    }  # fmt: skip
    fields = [name for name in TickPayload.__struct_fields__ if name in payload]
    assert list(payload) == fields
    decoded = msgspec.msgpack.Decoder(TickPayload).decode(msgpack.packb(payload))
    assert msgspec.to_builtins(decoded) == payload

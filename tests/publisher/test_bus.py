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

from publisher.bus.publish import Bus, new_session_id


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

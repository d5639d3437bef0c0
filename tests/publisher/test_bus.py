"""The bus: envelope, per-topic sequence numbers, two-frame messages on a real PUB socket."""

import time
from collections.abc import Iterator
from typing import Any

import msgpack
import pytest
import zmq

from publisher.bus import Bus, new_session_id


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

"""Status and heartbeat messages on a real bus, and the latest status kept per (scope, key)."""

from collections.abc import Iterator
from typing import Any

import msgpack
import pytest
import zmq

from publisher.bus.publish import Bus
from publisher.core.instruments import DELAYED
from publisher.service.status import StatusPublisher

RECV_MS = 10_000


class Wire:
    """A real Bus on a free port and a SUB socket that reads what it sends."""

    def __init__(self, context: zmq.Context[Any]) -> None:
        self.bus = Bus(name="t", endpoints=["tcp://127.0.0.1:*"], send_hwm=1000, context=context)
        self.sub: zmq.Socket[Any] = context.socket(zmq.SUB)
        self.sub.setsockopt(zmq.LINGER, 0)
        self.sub.setsockopt(zmq.RCVTIMEO, RECV_MS)
        self.sub.subscribe(b"")
        self.sub.connect(self.bus.endpoints[0])

    def receive(self, send: Any, prefix: str) -> tuple[str, dict[str, Any]]:
        """Send (again and again until the slow-joining SUB is connected); the first message
        whose topic starts with ``prefix``."""
        poller = zmq.Poller()
        poller.register(self.sub, zmq.POLLIN)
        for _ in range(RECV_MS // 50):
            send()
            while poller.poll(50):
                topic, payload = self.sub.recv_multipart()
                if topic.decode().startswith(prefix):
                    return topic.decode(), msgpack.unpackb(payload)
        raise AssertionError(f"nothing on {prefix}* arrived")

    def close(self) -> None:
        self.sub.close()
        self.bus.close()


@pytest.fixture
def wire() -> Iterator[Wire]:
    context: zmq.Context[Any] = zmq.Context()
    w = Wire(context)
    yield w
    w.close()
    context.term()


def test_a_status_has_the_contracts_keys_in_order(wire: Wire) -> None:
    """v type pub sid seq ts, then scope, state, key, code, message: nothing more, in order."""
    status = StatusPublisher(wire.bus)
    topic, body = wire.receive(
        lambda: status.status("instrument", DELAYED, key="AAPL", code=10167, message="m"),
        "status.",
    )
    assert topic == "status.t"
    envelope = ["v", "type", "pub", "sid", "seq", "ts"]
    assert list(body) == [*envelope, "scope", "state", "key", "code", "message"]
    assert (body["type"], body["scope"], body["state"]) == ("status", "instrument", "delayed")
    assert (body["key"], body["code"], body["message"]) == ("AAPL", 10167, "m")


def test_an_instrument_state_is_published_as_a_plain_string(wire: Wire) -> None:
    """The StrEnum member goes out as its value's exact type, str."""
    payload = StatusPublisher(wire.bus).status("instrument", DELAYED, key="AAPL")
    assert type(payload.state) is str


def test_a_heartbeat_carries_the_gateway_state_and_the_tick_seqs(wire: Wire) -> None:
    """The hb body is the gateway state and every tick topic's last seq."""
    wire.bus.publish("tick.AAPL", "tick", {"key": "AAPL"})
    status = StatusPublisher(wire.bus)
    topic, body = wire.receive(lambda: status.heartbeat("connected"), "hb.")
    assert topic == "hb.t"
    assert (body["type"], body["gateway"], body["seqs"]) == ("hb", "connected", {"tick.AAPL": 1})


def test_the_latest_status_of_each_pair_is_kept_as_sent(wire: Wire) -> None:
    """A later status of the same (scope, key) replaces the earlier; others stay, by seq."""
    status = StatusPublisher(wire.bus)
    status.status("gateway", "connecting")
    first = status.status("instrument", "pending", key="AAPL")
    status.status("gateway", "connected")
    assert status.latest()[0] == first
    assert [p.state for p in status.latest()] == ["pending", "connected"]


def test_a_forgotten_pair_is_no_longer_kept(wire: Wire) -> None:
    """forget drops a removed instrument's latest status."""
    status = StatusPublisher(wire.bus)
    status.status("instrument", "pending", key="AAPL")
    status.forget("instrument", "AAPL")
    assert status.latest() == []

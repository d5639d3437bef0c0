"""Status and heartbeat bodies, and the latest status kept per (scope, key)."""

from typing import Any

from publisher.core.instruments import DELAYED
from publisher.service.status import StatusPublisher


class FakeBus:
    """Records what is published and stamps a seq per message, as the bus does."""

    status_topic = "status.t"
    heartbeat_topic = "hb.t"

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, dict[str, Any]]] = []

    def publish(self, topic: str, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        self.sent.append((topic, kind, body))
        return {"type": kind, "seq": len(self.sent), **body}

    def tick_seqs(self) -> dict[str, int]:
        return {"tick.AAPL": 7}


def test_a_status_body_has_the_contracts_keys_in_order() -> None:
    """scope, state, key, code, message: nothing more, in the contract's order."""
    bus = FakeBus()
    StatusPublisher(bus).status("instrument", DELAYED, key="AAPL", code=10167, message="m")
    ((topic, kind, body),) = bus.sent
    assert (topic, kind) == ("status.t", "status")
    assert list(body.items()) == [
        ("scope", "instrument"),
        ("state", "delayed"),
        ("key", "AAPL"),
        ("code", 10167),
        ("message", "m"),
    ]


def test_an_instrument_state_is_published_as_a_plain_string() -> None:
    """The StrEnum member goes out as its value's exact type, str."""
    bus = FakeBus()
    StatusPublisher(bus).status("instrument", DELAYED, key="AAPL")
    assert type(bus.sent[0][2]["state"]) is str


def test_a_heartbeat_carries_the_gateway_state_and_the_tick_seqs() -> None:
    """The hb body is the gateway state and every tick topic's last seq."""
    bus = FakeBus()
    StatusPublisher(bus).heartbeat("connected")
    assert bus.sent == [("hb.t", "hb", {"gateway": "connected", "seqs": {"tick.AAPL": 7}})]


def test_the_latest_status_of_each_pair_is_kept_as_sent() -> None:
    """A later status of the same (scope, key) replaces the earlier; others stay, by seq."""
    status = StatusPublisher(FakeBus())
    status.status("gateway", "connecting")
    first = status.status("instrument", "pending", key="AAPL")
    status.status("gateway", "connected")
    assert status.latest()[0] == first
    assert [p["state"] for p in status.latest()] == ["pending", "connected"]


def test_a_forgotten_pair_is_no_longer_kept() -> None:
    """forget drops a removed instrument's latest status."""
    status = StatusPublisher(FakeBus())
    status.status("instrument", "pending", key="AAPL")
    status.forget("instrument", "AAPL")
    assert status.latest() == []

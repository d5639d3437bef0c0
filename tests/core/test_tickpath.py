"""The tick path's batching: ticks queued per read, sent in order, counted and timed per flush."""

import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import zmq
from prometheus_client import CollectorRegistry

from publisher.bus.publish import Bus
from publisher.config import InstrumentSpec
from publisher.core.instruments import PENDING, SUBSCRIBED, Instrument
from publisher.core.tickpath import BATCH, TickPath
from publisher.gateway.ticktypes import IBAPI_TICK_NAMES
from publisher.observability.metrics import BuildInfo, PublisherMetrics
from tests.support.listener import Listener, Message, heartbeat_seen
from tests.support.metrics import MetricReader
from tests.support.waiting import wait_for


class Setup:
    """A TickPath on a real PUB socket, a listener on it and a fresh registry."""

    def __init__(self, context: zmq.Context[Any]) -> None:
        registry = CollectorRegistry()
        self.metrics = PublisherMetrics(registry, BuildInfo("t", "t", 1))
        self.reader = MetricReader(registry)
        messages = self.metrics.messages
        self.bus = Bus(
            name="t",
            endpoints=["tcp://127.0.0.1:*"],
            send_hwm=100_000,
            context=context,
            on_sent=lambda kind: messages[kind].inc(),
        )
        self.listener = Listener(context, self.bus.endpoints[0])
        self.states: list[tuple[str, str]] = []
        spec = InstrumentSpec(key="AAPL", sec_type="STK", symbol="AAPL")
        self.inst = Instrument(spec, self.metrics.instrument_counter("AAPL"))
        self.inst.con_id = 265598
        self.inst.state = SUBSCRIBED
        self.path = TickPath(
            self.bus,
            self.metrics.tick_latency,
            time.time_ns,
            self.on_ticking,
            by_req={1: self.inst},
            tick_names=IBAPI_TICK_NAMES,
            tick_messages=messages["tick"],
        )

    def on_ticking(self, inst: Instrument) -> None:
        """What the subscription machine does with a pending instrument's first tick."""
        inst.state = SUBSCRIBED
        self.states.append((inst.key, SUBSCRIBED))
        self.bus.publish("status.t", "status", {"scope": "instrument", "state": SUBSCRIBED})

    def wait_connected(self) -> None:
        """Heartbeats until the slow-joining listener hears one; then forget them."""

        def heard() -> bool:
            self.bus.publish("hb.t", "hb", {"gateway": "connected", "seqs": {}})
            self.listener.pump()
            return heartbeat_seen(self.listener.messages)

        wait_for(heard, "the listener to hear a heartbeat", every=0)
        self.bus.publish("hb.t", "hb", {"gateway": "connected", "seqs": {}})
        self.listener.until(lambda ms: ms and ms[-1]["seq"] == self.bus.last_seq("hb.t"), "hbs")
        self.listener.messages.clear()

    def receive(self, count: int) -> list[Message]:
        got: list[Message] = self.listener.until(
            lambda ms: ms if len(ms) >= count else None, f"{count} messages"
        )
        return got[:count]

    def value(self, name: str, **labels: str) -> float:
        return self.reader.value(name, **labels)

    def close(self) -> None:
        self.listener.close()
        self.bus.close()


@pytest.fixture
def setup() -> Iterator[Setup]:
    context: zmq.Context[Any] = zmq.Context()
    s = Setup(context)
    s.wait_connected()
    yield s
    s.close()
    context.term()


def test_a_reads_ticks_arrive_in_order_after_the_flush(setup: Setup) -> None:
    """Ticks handed over during one read reach subscribers in order, seq 1, 2, 3 ..."""
    for i in range(BATCH * 2 + 5):
        setup.path.on_size(1, 0, Decimal(100 + i))
    setup.path.flush()
    got = setup.receive(BATCH * 2 + 5)
    assert [m["seq"] for m in got] == list(range(1, BATCH * 2 + 6))
    assert [m["size"] for m in got] == [float(100 + i) for i in range(BATCH * 2 + 5)]
    assert {m["topic"] for m in got} == {"tick.AAPL"}


def test_counters_and_latency_agree_with_the_ticks_sent(setup: Setup) -> None:
    """After a flush the tick counters and the latency histogram's count equal the ticks sent."""
    for _ in range(7):
        setup.path.on_price(1, 1, 230.5, 0)  # a price tick ...
        setup.path.on_size(1, 0, Decimal(300))  # ... and the size ibapi raises after it
    setup.path.flush()
    assert setup.value("ibpub_ticks_total", instrument="AAPL") == 14
    assert setup.value("ibpub_messages_published_total", type="tick") == 14
    assert setup.value("ibpub_tick_latency_seconds_count") == 14
    assert setup.value("ibpub_messages_published_total", type="hb") >= 1


def test_a_status_raised_by_a_tick_follows_that_tick(setup: Setup) -> None:
    """The first tick of a pending instrument goes out before the status it causes."""
    setup.inst.state = PENDING
    setup.path.on_price(1, 2, 231.0, 0)
    setup.path.flush()
    got = setup.receive(2)
    assert [m["topic"] for m in got] == ["tick.AAPL", "status.t"]
    assert setup.states == [("AAPL", SUBSCRIBED)]
    assert setup.value("ibpub_tick_latency_seconds_count") == 1


def test_closing_the_bus_sends_what_is_queued(setup: Setup) -> None:
    """Ticks still queued when the bus closes are sent, not dropped."""
    setup.path.on_size(1, 3, Decimal(5))
    setup.bus.close()
    assert setup.receive(1)[0]["field"] == "ask_size"


def test_late_ticks_for_unknown_requests_are_ignored(setup: Setup) -> None:
    """A tick for a cancelled request id publishes nothing and counts nothing."""
    setup.path.on_price(99, 1, 1.0, 0)
    setup.path.flush()
    assert setup.value("ibpub_tick_latency_seconds_count") == 0
    assert setup.bus.last_seq("tick.AAPL") == 0

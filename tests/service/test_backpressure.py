"""A gateway that outruns the publisher: the lag is reported, never silent, and the stream goes on.

A burst gateway (:mod:`tests.support.burst`) writes a pre-generated burst of tick frames as fast
as loopback TCP takes them, so the publisher's socket never runs dry while the burst lasts, as
with a real gateway replaying a backlog. The publisher must say on the bus that it is reading
flat out, then that it caught up, on the same connection.

The frames are generated before the burst starts, in the test, while the gateway's own threads
go on answering the publisher's probes: a gateway busy generating them would answer no
``reqCurrentTime``, and the publisher would rightly reconnect.
"""

from collections.abc import Callable, Iterator

import pytest

from publisher.sim import Catalogue
from publisher.sim.burst import PROTOBUF_VERSION, generate
from tests.support.burst import BurstGateway
from tests.support.config import FAST_FAULTS, Table
from tests.support.listener import Message
from tests.support.stack import Stack
from tests.support.waiting import wait_for

BURST_FRAMES = 300_000
"""About 8 MB of frames, seconds of reading for the publisher on any machine."""
BEHIND_AFTER = 0.2
"""Seconds of reads that all leave data waiting before the publisher says it is behind: a
small fraction of how long the burst takes to read."""
PROBE_TIMEOUT = 60.0
"""The probe's answer queues behind the burst bytes already in the socket buffers (megabytes):
on a slow machine reading them takes seconds, and this test is about the backlog, not about
detecting a dead gateway."""
CLIENT_ID = 11


@pytest.fixture
def gateway() -> Iterator[BurstGateway]:
    burst = BurstGateway(PROTOBUF_VERSION)
    yield burst
    burst.close()


def gateway_status(text: str, since: int = 0) -> Callable[[list[Message]], int]:
    """A condition: a gateway status whose message contains ``text`` (position after it)."""

    def seen(messages: list[Message]) -> int:
        for position in range(since, len(messages)):
            m = messages[position]
            if m["type"] == "status" and m["scope"] == "gateway" and text in m["message"]:
                return position + 1
        return 0

    return seen


def catalogue_instruments() -> tuple[Table, ...]:
    """Every contract the burst gateway knows, by conid (it answers contract details for them;
    the frames then tick all of them)."""
    return tuple(
        {
            "key": i.spec.local_symbol.replace(" ", ""),
            "sec_type": i.spec.sec_type,
            "symbol": i.spec.symbol,
            "exchange": i.spec.exchange,
            "currency": i.spec.currency,
            "con_id": i.con_id,
        }
        for i in Catalogue.builtin()
    )


def test_a_burst_is_reported_as_behind_then_as_caught_up(
    stack: Stack, gateway: BurstGateway
) -> None:
    """Behind, then caught up, on the bus and on the same connection; the gauge is back at 0
    and every tick of the burst is published."""
    instruments = catalogue_instruments()
    stack.gateway_port = gateway.port
    publisher = stack.start_publisher(
        client_id=CLIENT_ID,
        instruments=instruments,
        behind_after=BEHIND_AFTER,
        gateway={**FAST_FAULTS, "probe_timeout": PROBE_TIMEOUT},
    )
    peer = gateway.wait_peer(CLIENT_ID, len(instruments))
    frames = generate(
        PROTOBUF_VERSION, list(peer.streams), list(peer.streams.values()), BURST_FRAMES, 1
    )
    statuses = stack.listen((b"status.", b"hb."))
    peer.burst(frames)
    behind = statuses.until(gateway_status("reading the gateway flat out"), "behind")
    statuses.until(gateway_status("keeping up with the gateway again", behind), "caught up", 300)
    metrics = publisher.metrics
    assert metrics.value("ibpub_gateway_behind_seconds") == 0.0
    assert metrics.value("ibpub_gateway_reconnects_total") == 0
    assert not [m for m in statuses.statuses("gateway") if m["state"] != "connected"]
    # Nothing was dropped on the way: every tick of the burst was published.
    expected = frames.callbacks[-1]

    def published() -> float:
        return metrics.value("ibpub_messages_published_total", type="tick")

    wait_for(lambda: published() >= expected, f"{expected} ticks published", 300)
    assert published() == expected


def test_the_simulators_flood_fault_sends_every_tick_at_once(stack: Stack) -> None:
    """``flood=TICKS`` (``ibpub sim --scenario``) sends that many ticks on top of the stream,
    and the publisher publishes them all."""
    publisher = stack.start_publisher(gateway=FAST_FAULTS)
    listener = stack.listen()
    stack.start_gateway(rate=0, seed=3)
    metrics = publisher.metrics
    wait_for(lambda: metrics.value("ibpub_instruments", state="subscribed") >= 3, "subscriptions")
    sent = stack.faults(lambda faults: faults.flood(3_000))
    assert sent == 3_000
    listener.until(lambda ms: len([m for m in ms if m["type"] == "tick"]) >= sent, "the flood")

"""A gateway that outruns the publisher: the lag is reported, never silent, and the stream goes on.

A feeder process (the benchmark's gateway, :mod:`bench.feeder`) writes a burst of pre-generated
tick frames as fast as loopback TCP takes them, so the publisher's socket never runs dry while
the burst lasts, as with a real gateway replaying a backlog. The publisher must say on the bus
that it is reading flat out, then that it caught up, on the same connection.
"""

from collections.abc import Callable, Iterator

import pytest

from bench.frames import PROTOBUF_VERSION
from bench.handles import Feed
from publisher.config import InstrumentSpec
from publisher.service.root import PublisherService
from publisher.sim import Catalogue
from tests.helpers import wait_for
from tests.resilience.support import Listener, Message, Stack, stack

BURST_FRAMES = 300_000
"""About 8 MB of frames, seconds of reading for the publisher on any machine."""
BEHIND_AFTER = 0.2
"""Seconds of reads that all leave data waiting before the publisher says it is behind: a
small fraction of how long the burst takes to read."""
CLIENT_ID = 11  # tests/resilience/support.settings


@pytest.fixture
def running() -> Iterator[Stack]:
    with stack() as s:
        yield s


def gateway_status(text: str, since: int = 0) -> Callable[[list[Message]], int]:
    """A condition: a gateway status whose message contains ``text`` (position after it)."""

    def seen(messages: list[Message]) -> int:
        for position in range(since, len(messages)):
            m = messages[position]
            if m["type"] == "status" and m["scope"] == "gateway" and text in m["message"]:
                return position + 1
        return 0

    return seen


def published(service: PublisherService) -> float:
    """``ibpub_messages_published_total{type="tick"}``."""
    value = service.registry.get_sample_value("ibpub_messages_published_total", {"type": "tick"})
    return value or 0.0


def catalogue_specs() -> tuple[InstrumentSpec, ...]:
    """Every contract the feeder knows, by conid (the feeder answers contract details for
    them; the frames it generates tick all of them)."""
    return tuple(
        InstrumentSpec(
            key=i.spec.local_symbol.replace(" ", ""),
            sec_type=i.spec.sec_type,
            symbol=i.spec.symbol,
            exchange=i.spec.exchange,
            currency=i.spec.currency,
            con_id=i.con_id,
        )
        for i in Catalogue.builtin()
    )


def test_a_burst_is_reported_as_behind_then_as_caught_up(running: Stack) -> None:
    """Behind, then caught up, on the bus and on the same connection; the gauge is back at 0."""
    feed = Feed(PROTOBUF_VERSION)
    try:
        running.gateway_port = feed.port
        specs = catalogue_specs()
        running.start_publisher(behind_after=BEHIND_AFTER, instruments=specs)
        session = feed.wait_session(
            lambda s: s.client_id == CLIENT_ID and len(s.streams) >= len(specs), 60
        )
        prepared = feed.prepare(session.session, BURST_FRAMES, 1)
        service = running.service
        assert isinstance(service, PublisherService) and service.bus is not None
        statuses = Listener(running.context, service.bus.endpoints[0], (b"status.", b"hb."))
        try:
            statuses.until(lambda ms: any(m["type"] == "hb" for m in ms), "a heartbeat")
            feed.burst(session.session, BURST_FRAMES, 120)
            behind = statuses.until(gateway_status("reading the gateway flat out"), "behind")
            assert statuses.messages[behind - 1]["state"] == "connected"
            assert service.registry.get_sample_value("ibpub_gateway_backlog_bytes") is not None
            caught_up = statuses.until(
                gateway_status("keeping up with the gateway again", behind), "caught up", 120
            )
            # "... again after N s flat out": at least as long as it took to say "behind".
            words = statuses.messages[caught_up - 1]["message"].split()
            assert float(words[words.index("after") + 1]) >= BEHIND_AFTER
        finally:
            statuses.close()
        assert running.value("ibpub_gateway_behind_seconds") == 0.0
        assert running.value("ibpub_gateway_reconnects_total") == 0
        # Nothing was dropped on the way: every tick of the burst was published.
        expected = prepared.callbacks[-1]
        wait_for(lambda: published(service) >= expected, f"{expected} ticks published")
        assert published(service) == expected
    finally:
        feed.stop()


def test_the_simulators_flood_fault_sends_every_tick_at_once(running: Stack) -> None:
    """``flood=TICKS`` (``ibpub sim --scenario``) sends that many ticks on top of the stream,
    and the publisher publishes them all."""
    listener = running.start_publisher()
    running.start_gateway(rate=0)
    listener.until(lambda ms: running.value("ibpub_instruments", state="subscribed") >= 3, "subs")
    sent = running.core(lambda core: core.faults.flood(3_000))
    assert sent == 3_000
    listener.until(lambda ms: len([m for m in ms if m["type"] == "tick"]) >= sent, "the flood")

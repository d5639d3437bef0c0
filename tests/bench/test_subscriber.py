"""bench/subscriber.py: the captured stream is the publisher's, and both consumers get all of it."""

from bench import subscriber
from bench.report import record_verdict
from bench.subscriber import Rates
from publisher.sim.burst import PROTOBUF_VERSION
from subscribers.wire import Tick, decode


def test_the_capture_holds_every_tick_the_publisher_sent_in_order() -> None:
    messages = subscriber.capture(PROTOBUF_VERSION, 300)
    assert len(messages) > 300  # a bid/ask/last frame publishes two ticks
    decoded = [decode(topic, payload) for topic, payload in messages]
    assert all(isinstance(m, Tick) for m in decoded)
    last: dict[str, int] = {}
    for msg in decoded:
        assert msg.seq == last.get(msg.topic, 0) + 1, msg.topic
        last[msg.topic] = msg.seq


def test_a_small_measure_loses_nothing_and_gives_both_rates() -> None:
    rates = subscriber.measure(PROTOBUF_VERSION, 300, repeats=1)
    assert rates.gaps == 0 and rates.messages > 300
    assert rates.raw > 0 and rates.library > 0
    assert rates.record > 0 and rates.record_lost == 0


def test_the_verdict_needs_the_ratio_and_no_loss() -> None:
    assert Rates(10, 100.0, 80.0, 0).met
    assert not Rates(10, 100.0, 79.0, 0).met
    assert not Rates(10, 100.0, 90.0, 1).met
    assert Rates(10, 0.0, 1.0, 0).ratio == 0.0


def test_the_record_verdict_needs_half_the_raw_rate_and_nothing_unwritten() -> None:
    assert Rates(10, 100.0, 80.0, 0, 50.0, 0).record_met
    assert not Rates(10, 100.0, 80.0, 0, 49.0, 0).record_met
    assert not Rates(10, 100.0, 80.0, 0, 60.0, 1).record_met
    assert "4b ibsub record" in record_verdict(Rates(10, 100.0, 80.0, 0, 60.0, 0))
    assert "PASS (0.60x, 0 lost)" in record_verdict(Rates(10, 100.0, 80.0, 0, 60.0, 0))

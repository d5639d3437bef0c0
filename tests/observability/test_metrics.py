"""Unit tests of publisher.observability.metrics: each metric moves as it should."""

from collections.abc import Mapping

import pytest
from prometheus_client import CollectorRegistry

from publisher.observability.metrics import (
    AGGREGATE_INSTRUMENT,
    INSTRUMENT_STATES,
    LATENCY_BUCKETS,
    BuildInfo,
    PublisherMetrics,
)
from tests.support.metrics import MetricReader

BUILD = BuildInfo(version="1.2.3", ibapi_version="10.50.2", schema=1)


class FakeState:
    """A StateView with settable instrument states and last tick times."""

    def __init__(self) -> None:
        self.states: dict[str, str] = {}
        self.last: dict[str, float] = {}

    def instrument_states(self) -> Mapping[str, str]:
        return self.states

    def last_tick_times(self) -> Mapping[str, float]:
        return self.last


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def metrics(registry: CollectorRegistry) -> PublisherMetrics:
    return PublisherMetrics(registry, BUILD)


def test_tick_counter_counts_per_instrument(
    registry: CollectorRegistry, metrics: PublisherMetrics
) -> None:
    """Each instrument's bound child counts its own ticks under its key."""
    aapl, msft = metrics.instrument_counter("AAPL"), metrics.instrument_counter("MSFT")
    aapl.inc()
    aapl.inc()
    msft.inc()
    assert registry.get_sample_value("ibpub_ticks_total", {"instrument": "AAPL"}) == 2
    assert registry.get_sample_value("ibpub_ticks_total", {"instrument": "MSFT"}) == 1


def test_bound_instrument_starts_at_zero(
    registry: CollectorRegistry, metrics: PublisherMetrics
) -> None:
    """Binding an instrument exports it at 0, so rate() sees a silent instrument."""
    metrics.instrument_counter("SPY")
    assert registry.get_sample_value("ibpub_ticks_total", {"instrument": "SPY"}) == 0


def test_per_instrument_off_counts_every_tick_under_one_label(registry: CollectorRegistry) -> None:
    """With per-instrument labels off, all instruments share instrument="_all"."""
    metrics = PublisherMetrics(registry, BUILD, per_instrument=False)
    metrics.instrument_counter("AAPL").inc()
    metrics.instrument_counter("MSFT").inc()
    assert registry.get_sample_value("ibpub_ticks_total", {"instrument": AGGREGATE_INSTRUMENT}) == 2
    assert MetricReader(registry).get("ibpub_ticks_total", instrument="AAPL") is None


def test_messages_are_counted_by_type(
    registry: CollectorRegistry, metrics: PublisherMetrics
) -> None:
    """The tick, status and hb children count separately and all start at 0."""
    metrics.messages["tick"].inc(5)
    metrics.messages["hb"].inc()
    counts = {
        kind: registry.get_sample_value("ibpub_messages_published_total", {"type": kind})
        for kind in ("tick", "status", "hb")
    }
    assert counts == {"tick": 5, "status": 0, "hb": 1}


def test_tick_latency_buckets_span_5us_to_1s(metrics: PublisherMetrics) -> None:
    """The latency histogram's finite buckets run from 5 us to 1 s, increasing."""
    assert LATENCY_BUCKETS[0] == 5e-6
    assert LATENCY_BUCKETS[-1] == 1.0
    assert list(LATENCY_BUCKETS) == sorted(set(LATENCY_BUCKETS))


def test_tick_latency_observation_lands_in_its_bucket(
    registry: CollectorRegistry, metrics: PublisherMetrics
) -> None:
    """A 30 us observation counts in le=5e-05 and above, not in le=2.5e-05."""
    metrics.tick_latency.observe(30e-6)

    def bucket(le: str) -> float | None:
        return registry.get_sample_value("ibpub_tick_latency_seconds_bucket", {"le": le})

    assert bucket("2.5e-05") == 0
    assert bucket("5e-05") == 1
    assert bucket("+Inf") == 1
    assert registry.get_sample_value("ibpub_tick_latency_seconds_count") == 1
    assert registry.get_sample_value("ibpub_tick_latency_seconds_sum") == pytest.approx(30e-6)


def test_gateway_connected_is_a_0_or_1_gauge(
    registry: CollectorRegistry, metrics: PublisherMetrics
) -> None:
    """ibpub_gateway_connected starts at 0 and reads what the service sets."""
    assert registry.get_sample_value("ibpub_gateway_connected") == 0
    metrics.gateway_connected.set(1)
    assert registry.get_sample_value("ibpub_gateway_connected") == 1


def test_reconnects_and_decode_errors_count(
    registry: CollectorRegistry, metrics: PublisherMetrics
) -> None:
    """The label-free counters start at 0 and count increments."""
    metrics.reconnects.inc()
    metrics.decode_errors.inc(3)
    assert registry.get_sample_value("ibpub_gateway_reconnects_total") == 1
    assert registry.get_sample_value("ibpub_decode_errors_total") == 3


def test_gateway_errors_are_counted_by_code(
    registry: CollectorRegistry, metrics: PublisherMetrics
) -> None:
    """Each IB code gets its own child; repeats of a code add up."""
    metrics.gateway_error(2104)
    metrics.gateway_error(1100)
    metrics.gateway_error(1100)
    assert registry.get_sample_value("ibpub_gateway_errors_total", {"code": "2104"}) == 1
    assert registry.get_sample_value("ibpub_gateway_errors_total", {"code": "1100"}) == 2


def test_gateway_rtt_is_a_histogram(registry: CollectorRegistry, metrics: PublisherMetrics) -> None:
    """An RTT observation shows in the count and sum of ibpub_gateway_rtt_seconds."""
    metrics.gateway_rtt.observe(0.002)
    assert registry.get_sample_value("ibpub_gateway_rtt_seconds_count") == 1
    assert registry.get_sample_value("ibpub_gateway_rtt_seconds_sum") == pytest.approx(0.002)


def test_build_info_carries_the_three_versions(registry: CollectorRegistry) -> None:
    """ibpub_build_info is 1 with version, ibapi_version and schema labels."""
    PublisherMetrics(registry, BUILD)
    labels = {"version": "1.2.3", "ibapi_version": "10.50.2", "schema": "1"}
    assert registry.get_sample_value("ibpub_build_info", labels) == 1


def test_instrument_states_are_counted_at_scrape_time(
    registry: CollectorRegistry, metrics: PublisherMetrics
) -> None:
    """ibpub_instruments{state} reflects the view at each scrape, every state present."""
    view = FakeState()
    metrics.watch(view, clock=lambda: 0.0)
    view.states = {"AAPL": "subscribed", "MSFT": "subscribed", "BOGUS": "failed"}
    first = {
        s: registry.get_sample_value("ibpub_instruments", {"state": s}) for s in INSTRUMENT_STATES
    }
    assert first == {"pending": 0, "subscribed": 2, "delayed": 0, "stale": 0, "failed": 1}
    view.states["MSFT"] = "pending"
    assert registry.get_sample_value("ibpub_instruments", {"state": "pending"}) == 1


def test_last_tick_age_is_computed_at_scrape_time(
    registry: CollectorRegistry, metrics: PublisherMetrics
) -> None:
    """The age is the clock now minus each instrument's last tick, absent before the first."""
    view = FakeState()
    now = [1000.0]
    metrics.watch(view, clock=lambda: now[0])
    view.last = {"AAPL": 997.5}
    assert registry.get_sample_value("ibpub_last_tick_age_seconds", {"instrument": "AAPL"}) == 2.5
    assert MetricReader(registry).get("ibpub_last_tick_age_seconds", instrument="MSFT") is None
    now[0] = 1010.0
    assert registry.get_sample_value("ibpub_last_tick_age_seconds", {"instrument": "AAPL"}) == 12.5


def test_last_tick_age_never_goes_negative(
    registry: CollectorRegistry, metrics: PublisherMetrics
) -> None:
    """A tick stamped after the scrape clock (a clock step) reads as age 0."""
    view = FakeState()
    metrics.watch(view, clock=lambda: 100.0)
    view.last = {"AAPL": 101.0}
    assert registry.get_sample_value("ibpub_last_tick_age_seconds", {"instrument": "AAPL"}) == 0


def test_aggregate_last_tick_age_is_the_newest_tick(registry: CollectorRegistry) -> None:
    """With per-instrument labels off, the one age series is since the newest tick of any."""
    metrics = PublisherMetrics(registry, BUILD, per_instrument=False)
    view = FakeState()
    metrics.watch(view, clock=lambda: 100.0)
    view.last = {"AAPL": 90.0, "MSFT": 99.0}
    age = registry.get_sample_value(
        "ibpub_last_tick_age_seconds", {"instrument": AGGREGATE_INSTRUMENT}
    )
    assert age == 1.0
    assert registry.get_sample_value("ibpub_last_tick_age_seconds", {"instrument": "AAPL"}) is None

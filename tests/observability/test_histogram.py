"""FastHistogram: prometheus-client's Histogram exposition, at a fraction of the cost."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from publisher.observability.histogram import FastHistogram
from publisher.observability.metrics import LATENCY_BUCKETS


def exposition(registry: CollectorRegistry) -> list[str]:
    """The text format, without the ``_created`` series (which /metrics leaves out anyway)."""
    text = generate_latest(registry).decode()
    return [line for line in text.splitlines() if "_created" not in line]


@given(
    st.lists(
        st.one_of(
            st.floats(min_value=0, max_value=2.0),
            st.sampled_from([0.0, *LATENCY_BUCKETS, 1.5, 10.0]),
        ),
        max_size=60,
    )
)
def test_exposition_matches_prometheus_histogram(values: list[float]) -> None:
    """Any observations give the same buckets, count and sum as prometheus-client's Histogram."""
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    fast = FastHistogram("x_seconds", "Help.", LATENCY_BUCKETS, ours)
    reference = Histogram("x_seconds", "Help.", buckets=LATENCY_BUCKETS, registry=theirs)
    for value in values:
        fast.observe(value)
        reference.observe(value)
    assert exposition(ours) == exposition(theirs)


@given(
    st.lists(
        st.tuples(st.sampled_from([0.0, *LATENCY_BUCKETS, 1e-5, 0.3, 10.0]), st.integers(0, 200)),
        max_size=20,
    )
)
def test_observe_many_counts_as_that_many_observations(batches: list[tuple[float, int]]) -> None:
    """A batch's shared latency counted at once: the same buckets and count as one observe
    per tick, and the same sum up to float rounding."""
    many, one = CollectorRegistry(), CollectorRegistry()
    fast = FastHistogram("x_seconds", "Help.", LATENCY_BUCKETS, many)
    reference = FastHistogram("x_seconds", "Help.", LATENCY_BUCKETS, one)
    for value, count in batches:
        fast.observe_many(value, count)
        for _ in range(count):
            reference.observe(value)
    assert exposition(many)[:-1] == exposition(one)[:-1]  # every line but the sum, last
    summed = "x_seconds_sum"
    assert many.get_sample_value(summed) == pytest.approx(one.get_sample_value(summed))


def test_a_value_on_a_bound_counts_in_that_bucket() -> None:
    """le is inclusive: an observation equal to a bound lands in that bound's bucket."""
    registry = CollectorRegistry()
    FastHistogram("y_seconds", "Help.", (1.0, 2.0), registry).observe(1.0)
    assert registry.get_sample_value("y_seconds_bucket", {"le": "1.0"}) == 1
    assert registry.get_sample_value("y_seconds_count") == 1


def test_buckets_must_be_increasing_and_finite() -> None:
    """Unsorted, repeated or infinite bounds are refused at construction."""
    for bad in ((2.0, 1.0), (1.0, 1.0), (1.0, float("inf")), ()):
        with pytest.raises(ValueError):
            FastHistogram("z_seconds", "Help.", bad, CollectorRegistry())


def test_the_name_is_checked_by_the_registry() -> None:
    """Registering the same name twice fails, as with any prometheus-client metric."""
    registry = CollectorRegistry()
    FastHistogram("dup_seconds", "Help.", (1.0,), registry)
    with pytest.raises(ValueError):
        Histogram("dup_seconds", "Help.", registry=registry)

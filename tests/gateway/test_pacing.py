"""The request pacer: a token bucket that keeps requests under IB's 50 per second."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from publisher.gateway.pacing import IB_MESSAGES_PER_SECOND, RequestPacer


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_goes_out_at_once_and_the_rest_waits() -> None:
    """The first `burst` requests leave immediately; the others are queued, in order."""
    clock = FakeClock()
    pacer = RequestPacer(rate=40.0, burst=5, clock=clock)
    sent: list[int] = []
    for i in range(8):
        pacer.submit(lambda i=i: sent.append(i))  # type: ignore[misc]
    assert pacer.drain() == 5
    assert sent == [0, 1, 2, 3, 4] and len(pacer) == 3
    assert pacer.next_ready() == 100.0 + 1 / 40


def test_three_hundred_requests_take_seven_and_a_half_seconds() -> None:
    """300 queued requests are spread over (300 - burst) / rate seconds."""
    clock = FakeClock()
    pacer = RequestPacer(rate=40.0, burst=5, clock=clock)
    for _ in range(300):
        pacer.submit(lambda: None)
    pacer.drain()
    while len(pacer):
        ready = pacer.next_ready()
        assert ready is not None
        clock.now = ready
        pacer.drain()
    assert clock.now - 100.0 == pytest.approx((300 - 5) / 40)


@given(st.lists(st.floats(min_value=0.0, max_value=0.2), min_size=1, max_size=400))
def test_no_one_second_window_exceeds_ibs_limit(gaps: list[float]) -> None:
    """Whatever the drain timing, no one-second window carries 50 requests or more."""
    clock = FakeClock()
    pacer = RequestPacer(clock=clock)
    stamps: list[float] = []
    for _ in range(600):
        pacer.submit(lambda: stamps.append(clock.now))
    for gap in gaps:
        clock.now += gap
        pacer.drain()
    start = 0
    for end, stamp in enumerate(stamps):
        while stamp - stamps[start] >= 1.0:
            start += 1
        assert end - start + 1 < IB_MESSAGES_PER_SECOND


def test_urgent_requests_jump_the_queue() -> None:
    """A liveness probe is sent before queued subscriptions."""
    clock = FakeClock()
    pacer = RequestPacer(rate=10.0, burst=1, clock=clock)
    sent: list[str] = []
    pacer.submit(lambda: sent.append("sub1"))
    pacer.submit(lambda: sent.append("sub2"))
    pacer.submit(lambda: sent.append("probe"), urgent=True)
    pacer.drain()
    assert sent == ["probe"]


def test_clear_forgets_everything_queued() -> None:
    """Requests queued for a dead connection are dropped."""
    pacer = RequestPacer(clock=FakeClock())
    for _ in range(20):
        pacer.submit(lambda: None)
    pacer.clear()
    assert len(pacer) == 0 and pacer.next_ready() is None


def test_slow_down_halves_the_rate_but_not_below_the_floor() -> None:
    """Error 100 halves the rate, never below the minimum."""
    pacer = RequestPacer(rate=40.0, clock=FakeClock())
    for _ in range(10):
        pacer.slow_down()
    assert pacer.rate == 5.0

"""The seeded random-walk market: determinism, tick shapes and price/size invariants."""

from collections import defaultdict

import pytest

from publisher.sim.catalogue import Catalogue, Instrument
from publisher.sim.market import Market
from publisher.sim.protocol import PriceTick, SizeTick, StringTick, TickEvent, TickType

CATALOGUE = Catalogue.builtin()


def _builtin(con_id: int) -> Instrument:
    instrument = CATALOGUE.by_con_id(con_id)
    assert instrument is not None, con_id
    return instrument


AAPL = _builtin(265598)
ESZ6 = _builtin(649180695)
assert AAPL is not None and ESZ6 is not None


def fixed_clock() -> float:
    return 1_795_000_000.0


def _run(seed: int, instruments: list[Instrument], count: int) -> list[tuple[int, TickEvent]]:
    market = Market(seed, clock=fixed_clock)
    initial: list[tuple[int, TickEvent]] = []
    for req_id, instrument in enumerate(instruments, start=1):
        sub_id, ticks = market.subscribe(req_id, instrument)
        initial += [(sub_id, t) for t in ticks]
    return initial + market.next_ticks(count)


def test_same_seed_and_subscription_order_give_the_same_ticks() -> None:
    """Two markets with one seed and the same subscriptions produce identical sequences."""
    assert _run(7, [AAPL, ESZ6], 2000) == _run(7, [AAPL, ESZ6], 2000)


def test_different_seeds_give_different_ticks() -> None:
    """Changing the seed changes the sequence."""
    assert _run(7, [AAPL, ESZ6], 200) != _run(8, [AAPL, ESZ6], 200)


def test_initial_quote_is_a_full_quote_in_tws_order() -> None:
    """A new subscription starts with bid/ask/last (with sizes), volume, H/L/C/O and a timestamp."""
    _sub_id, ticks = Market(1, clock=fixed_clock).subscribe(9, AAPL)
    shapes = [(type(t).__name__, t.tick_type) for t in ticks]
    assert shapes == [
        ("PriceTick", TickType.BID),
        ("PriceTick", TickType.ASK),
        ("PriceTick", TickType.LAST),
        ("SizeTick", TickType.VOLUME),
        ("PriceTick", TickType.HIGH),
        ("PriceTick", TickType.LOW),
        ("PriceTick", TickType.CLOSE),
        ("PriceTick", TickType.OPEN),
        ("StringTick", TickType.LAST_TIMESTAMP),
    ]
    assert all(t.req_id == 9 for t in ticks)
    bid, ask, last = ticks[0], ticks[1], ticks[2]
    assert isinstance(bid, PriceTick) and isinstance(ask, PriceTick) and isinstance(last, PriceTick)
    assert bid.price < ask.price and bid.size > 0 and ask.size > 0 and last.size > 0
    assert ticks[-1] == StringTick(9, TickType.LAST_TIMESTAMP, "1795000000")


def test_next_ticks_returns_exactly_the_requested_count() -> None:
    """One step is one tick (one frame), so pacing by count is exact."""
    market = Market(3, clock=fixed_clock)
    market.subscribe(1, AAPL)
    assert [len(market.next_ticks(n)) for n in (0, 1, 17, 500)] == [0, 1, 17, 500]


def test_no_subscriptions_means_no_ticks() -> None:
    """An idle market produces nothing."""
    assert Market(1).next_ticks(100) == []


@pytest.mark.parametrize("instrument", list(CATALOGUE), ids=lambda i: i.spec.local_symbol)
def test_prices_respect_min_tick_and_sizes_the_lot(instrument: Instrument) -> None:
    """Every price is a whole number of minTicks and every size a positive multiple of the lot."""
    tick, lot = instrument.spec.min_tick, instrument.lot
    for _sub, event in _run(11, [instrument], 5000):
        if isinstance(event, PriceTick):
            assert abs(event.price / tick - round(event.price / tick)) < 1e-6, event
            assert event.price > 0
        if isinstance(event, PriceTick | SizeTick) and event.size:
            assert event.size % lot == 0 and event.size > 0, event


def test_bid_stays_below_ask() -> None:
    """The simulated book is never crossed or locked."""
    quote: dict[int, dict[int, float]] = defaultdict(dict)
    for sub_id, event in _run(5, [AAPL, ESZ6], 20000):
        if isinstance(event, PriceTick) and event.tick_type in (TickType.BID, TickType.ASK):
            quote[sub_id][event.tick_type] = event.price
            if len(quote[sub_id]) == 2:
                assert quote[sub_id][TickType.BID] < quote[sub_id][TickType.ASK]


def test_a_trade_is_followed_by_volume_and_timestamp() -> None:
    """After a LAST tick the same stream sends VOLUME and then LAST_TIMESTAMP."""
    market = Market(2, clock=fixed_clock)
    market.subscribe(1, AAPL)
    ticks = [t for _, t in market.next_ticks(3000)]
    trades = [i for i, t in enumerate(ticks) if t.tick_type == TickType.LAST]
    assert trades
    for i in trades:
        follow = ticks[i + 1 : i + 3]
        assert [t.tick_type for t in follow] == [TickType.VOLUME, TickType.LAST_TIMESTAMP]


def test_unsubscribed_streams_stop_ticking() -> None:
    """After unsubscribe only the remaining stream produces ticks."""
    market = Market(4, clock=fixed_clock)
    first, _ = market.subscribe(1, AAPL)
    second, _ = market.subscribe(2, ESZ6)
    market.unsubscribe(first)
    assert {sub for sub, _ in market.next_ticks(500)} == {second}
    assert len(market) == 1


def test_snapshot_does_not_start_a_stream() -> None:
    """A snapshot returns a full quote and leaves nothing streaming."""
    market = Market(1, clock=fixed_clock)
    assert len(market.snapshot(3, AAPL)) == 9
    assert len(market) == 0

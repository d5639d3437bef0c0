"""ib_async, an independent client, consumes every data kind from the simulator (v178 text):
tick-by-tick, depth (its own DOM), smart depth, real-time bars and option model greeks."""

import asyncio
import itertools
import math
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from ib_async import IB, Option, Stock

from publisher.sim import SimulatedGateway
from publisher.sim.kinds.limits import DataLimits

_client_ids = itertools.count(300)
DEADLINE = 30.0


@pytest.fixture(scope="module")
def gateway() -> Iterator[SimulatedGateway]:
    gw = SimulatedGateway(rate=300, data_limits=DataLimits(bar_seconds=0.2)).start()
    yield gw
    gw.stop()


@pytest.fixture
def ib(gateway: SimulatedGateway) -> Iterator[IB]:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    client = IB()
    client.connect("127.0.0.1", gateway.port, clientId=next(_client_ids), timeout=DEADLINE)
    yield client
    client.disconnect()
    loop.run_until_complete(asyncio.sleep(0))
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in pending:
        task.cancel()
    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    asyncio.set_event_loop(None)
    loop.close()


def _poll(ib: IB, condition: Callable[[], Any], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        ib.sleep(0.02)


def test_tick_by_tick_all_types(ib: IB) -> None:
    """ib_async's tickByTicks (one ticker per contract) get Last, AllLast, BidAsk and
    MidPoint ticks with sane values."""
    (contract,) = ib.qualifyContracts(Stock("AAPL", "SMART", "USD"))
    types = ("Last", "AllLast", "BidAsk", "MidPoint")
    tickers = [ib.reqTickByTickData(contract, t) for t in types]
    ticker = tickers[0]
    assert all(t is ticker for t in tickers)  # ib_async: one ticker per contract
    seen: list[Any] = []

    def kinds() -> set[Any]:
        return {(type(t).__name__, getattr(t, "tickType", None)) for t in seen}

    def collect() -> bool:
        seen.extend(t for t in ticker.tickByTicks if t not in seen)
        return len(kinds()) == 4

    _poll(ib, collect, "ticks of each type")
    assert kinds() == {
        ("TickByTickAllLast", 1),
        ("TickByTickAllLast", 2),
        ("TickByTickBidAsk", None),
        ("TickByTickMidPoint", None),
    }
    for tick in seen:
        name = type(tick).__name__
        if name == "TickByTickAllLast":
            assert tick.price > 0 and tick.size > 0 and tick.exchange
        elif name == "TickByTickBidAsk":
            assert 0 < tick.bidPrice < tick.askPrice and tick.bidSize > 0 and tick.askSize > 0
        else:
            assert 150 < tick.midPoint < 320
    for tick_type in types:
        ib.cancelTickByTickData(contract, tick_type)


@pytest.mark.parametrize("smart", [False, True], ids=["depth", "smart"])
def test_depth_ladder(ib: IB, smart: bool) -> None:
    """ib_async's DOM fills with the requested rows of sane levels (market makers for smart).

    ib_async keys its DOM by position (an insert overwrites, a delete leaves a hole) where
    IB's and subscribers.depth's rows shift, so only what both readings share is checked; the
    exact book is checked with ibapi and DepthBook in test_data_kinds.py."""
    (contract,) = ib.qualifyContracts(Stock("MSFT", "SMART", "USD"))
    ticker = ib.reqMktDepth(contract, numRows=5, isSmartDepth=smart)
    _poll(ib, lambda: len(ticker.domBids) == 5 and len(ticker.domAsks) == 5, "5 rows a side")
    ib.sleep(0.3)
    for level in (*ticker.domBids, *ticker.domAsks):
        assert 450 < level.price < 570 and level.size > 0
    if smart:
        assert all(level.marketMaker for level in ticker.domBids)
    ib.cancelMktDepth(contract, isSmartDepth=smart)


def test_real_time_bars(ib: IB) -> None:
    """reqRealTimeBars gives 5-second bars (labelled 5 s apart) with high >= low."""
    (contract,) = ib.qualifyContracts(Stock("SPY", "SMART", "USD"))
    bars = ib.reqRealTimeBars(contract, 5, "TRADES", False)
    _poll(ib, lambda: len(bars) >= 3, "3 bars")
    assert all(b.high >= max(b.open_, b.close) >= min(b.open_, b.close) >= b.low > 0 for b in bars)
    times = [b.time.timestamp() for b in bars]
    assert all(b - a == 5 for a, b in itertools.pairwise(times))
    ib.cancelRealTimeBars(bars)


def test_option_model_greeks(ib: IB) -> None:
    """An AAPL call qualifies and its ticker gets model greeks with delta in (0, 1)."""
    (contract,) = ib.qualifyContracts(Option("AAPL", "20261218", 230.0, "C", "SMART"))
    assert contract.localSymbol == "AAPL  261218C00230000" and contract.multiplier == "100"
    ticker = ib.reqMktData(contract)
    _poll(ib, lambda: ticker.modelGreeks is not None and ticker.bidGreeks is not None, "greeks")
    greeks = ticker.modelGreeks
    assert greeks is not None
    delta, gamma, vol = greeks.delta, greeks.gamma, greeks.impliedVol
    und, price = greeks.undPrice, greeks.optPrice
    assert delta is not None and gamma is not None and vol is not None
    assert und is not None and price is not None
    assert 0 < delta < 1 and gamma > 0 and 0 < vol < 1 and 200 < und < 260 and price > 0
    assert not math.isnan(ticker.bid) and ticker.bid < ticker.ask
    ib.cancelMktData(contract)

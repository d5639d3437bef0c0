"""IB's own client (unmodified EClient) consumes every data kind beyond top of book from the
simulator, at v200 (classic text) and at the installed maximum (protobuf): tick-by-tick of all
four types, depth and smart depth (applied with subscribers.depth.DepthBook and compared with
the simulator's own book), depth exchanges, real-time bars, option greeks, and IB's limits."""

import itertools
import math
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from ibapi.contract import Contract

from publisher.sim import MAX_SERVER_VERSION, AsyncGateway, SimulatedGateway
from publisher.sim.kinds.book import SMART_MARKET_MAKERS, SimBook
from publisher.sim.kinds.limits import DataLimits
from publisher.sim.protocol.data_events import SIDE_ASK, SIDE_BID
from subscribers.depth import OPERATIONS, SIDES, DepthBook
from tests.sim.support import App, ibapi_contract
from tests.support.waiting import wait_for

VERSIONS = [200, MAX_SERVER_VERSION]


@pytest.fixture(params=VERSIONS, ids=lambda v: f"v{v}")
def gateway(request: pytest.FixtureRequest) -> Iterator[SimulatedGateway]:
    """A fresh gateway per test (the limits count across its sessions), bars every 0.2 s."""
    limits = DataLimits(bar_seconds=0.2)
    gw = SimulatedGateway(rate=400, max_server_version=request.param, data_limits=limits)
    gw.start()
    yield gw
    gw.stop()


@pytest.fixture
def app(gateway: SimulatedGateway) -> Iterator[App]:
    application = App(gateway)
    yield application
    application.close()


def _stock(symbol: str) -> Contract:
    return ibapi_contract(symbol, "STK", "SMART")


def _option(symbol: str, expiry: str, strike: float, right: str) -> Contract:
    contract = ibapi_contract(symbol, "OPT", "SMART", expiry)
    contract.strike, contract.right, contract.multiplier = strike, right, "100"
    return contract


def _codes(app: App) -> list[tuple[int, int, str]]:
    return [e for e in app.wrapper.errors() if e[1] not in (2104, 2106, 2158)]


def test_tick_by_tick_trades_are_the_l1_trades(app: App) -> None:
    """Last and AllLast report the same trades (price, size) as L1 last / last size, in order."""
    app.client.reqMktData(1, _stock("MSFT"), "", False, False, [])
    wait_for(lambda: app.wrapper.named("tickPrice"), "L1 quote")
    app.client.reqTickByTickData(2, _stock("MSFT"), "Last", 0, False)
    app.client.reqTickByTickData(3, _stock("MSFT"), "AllLast", 0, False)
    wait_for(lambda: len(app.wrapper.named("tickByTickAllLast")) >= 20, "20 trades")
    calls = list(app.wrapper.calls)
    l1: list[tuple[float, Decimal]] = []
    for i, (name, args) in enumerate(calls):
        if name == "tickPrice" and args[:2] == (1, 4):
            following = calls[i + 1]
            assert following[0] == "tickSize" and following[1][1] == 5
            l1.append((args[2], following[1][2]))
    trades = app.wrapper.named("tickByTickAllLast")
    last = [(t[3], t[4]) for t in trades if t[0] == 2]
    all_last = [(t[3], t[4]) for t in trades if t[0] == 3]
    assert len(last) >= 5 and len(all_last) >= 5
    assert any(last[i : i + 5] == all_last[:5] for i in range(len(last))), "AllLast != Last"
    assert {t[1] for t in trades if t[0] == 2} == {1} and {t[1] for t in trades if t[0] == 3} == {2}
    run = last[:5]
    assert any(l1[i : i + len(run)] == run for i in range(len(l1))), (run, l1[-20:])
    for _req, _type, when, price, size, _attrib, exchange, _special in trades:
        assert price > 0 and size > 0 and size % 100 == 0 and exchange
        assert abs(when - time.time()) < 60


def test_tick_by_tick_bid_ask_and_midpoint(app: App) -> None:
    """BidAsk never crosses and has sizes; MidPoint is the middle of a real quote."""
    app.client.reqTickByTickData(4, _stock("AAPL"), "BidAsk", 0, False)
    app.client.reqTickByTickData(5, _stock("AAPL"), "MidPoint", 0, False)
    wait_for(lambda: len(app.wrapper.named("tickByTickBidAsk")) >= 20, "20 quotes")
    wait_for(lambda: len(app.wrapper.named("tickByTickMidPoint")) >= 10, "10 midpoints")
    quotes = app.wrapper.named("tickByTickBidAsk")
    for _req, _when, bid, ask, bid_size, ask_size, _attrib in quotes:
        assert 0 < bid < ask and bid_size > 0 and ask_size > 0
    mids = {round((q[2] + q[3]) / 2, 3) for q in quotes}
    reported = [round(m[2], 3) for m in app.wrapper.named("tickByTickMidPoint")]
    assert all(150 < m < 320 for m in reported)
    assert len(set(reported) & mids) >= len(reported) // 2
    app.client.cancelTickByTickData(4)
    app.client.cancelTickByTickData(5)


def _sim_book(gateway: SimulatedGateway, client_id: int, req_id: int) -> dict[str, Any]:
    """The simulator's book for one depth request, read on its loop (a consistent moment)."""

    def read(core: AsyncGateway) -> dict[str, Any]:
        (session,) = [s for s in core.sessions if s.client_id == client_id]
        book: SimBook = session.kinds.depth[req_id]
        walk = book.walk
        return {
            "changes": book.changes,
            "bids": book.rows_of(SIDE_BID),
            "asks": book.rows_of(SIDE_ASK),
            "bid": walk.price(walk.bid),
            "ask": walk.price(walk.ask),
        }

    return gateway.call(read)


def _apply(updates: list[tuple[Any, ...]], rows: int, smart: bool) -> DepthBook:
    book = DepthBook(rows)
    for update in updates:
        if smart:
            _req, position, maker, op, side, price, size, is_smart = update
            assert is_smart and maker in SMART_MARKET_MAKERS
        else:
            _req, position, op, side, price, size = update
            maker = None
        assert book.apply(position, OPERATIONS[op], SIDES[side], price, float(size), maker)
    return book


@pytest.mark.parametrize("smart", [False, True], ids=["depth", "smart"])
def test_depth_book_is_the_simulators_and_its_best_rows_are_l1(
    app: App, gateway: SimulatedGateway, smart: bool
) -> None:
    """Every update applies to DepthBook; after the first N the client's book equals the
    simulator's at that moment, whose best rows are the L1 bid and ask, ``rows`` deep."""
    callback = "updateMktDepthL2" if smart else "updateMktDepth"
    app.client.reqMktData(6, _stock("NVDA"), "", False, False, [])
    wait_for(lambda: app.wrapper.named("tickPrice"), "L1 quote")
    app.client.reqMktDepth(7, _stock("NVDA"), 5, smart, [])
    wait_for(lambda: len(app.wrapper.named(callback)) >= 200, "200 depth updates")
    sim = _sim_book(gateway, app.client_id, 7)
    wait_for(lambda: len(app.wrapper.named(callback)) >= sim["changes"], "the updates so far")
    book = _apply(app.wrapper.named(callback)[: sim["changes"]], 5, smart)
    assert book.bids == [(p, float(s), m) for p, s, m in sim["bids"]]
    assert book.asks == [(p, float(s), m) for p, s, m in sim["asks"]]
    assert len(book.bids) == len(book.asks) == 5
    assert book.bids[0][0] == sim["bid"] and book.asks[0][0] == sim["ask"]
    assert all(a[0] > b[0] for a, b in itertools.pairwise(book.bids))
    assert all(a[0] < b[0] for a, b in itertools.pairwise(book.asks))
    app.client.cancelMktDepth(7, smart)
    assert _apply(app.wrapper.named(callback), 5, smart).spread() is not None


def test_depth_exchanges_are_listed(app: App) -> None:
    """reqMktDepthExchanges answers with the venues, NASDAQ stock depth among them."""
    app.client.reqMktDepthExchanges()
    ((rows,),) = wait_for(lambda: app.wrapper.named("mktDepthExchanges"), "depth exchanges")
    assert ("NASDAQ", "STK") in {(r.exchange, r.secType) for r in rows}


def test_real_time_bars_aggregate_trades_and_quotes(app: App) -> None:
    """TRADES and MIDPOINT bars come every bar period, labelled 5 s apart, with sane values."""
    app.client.reqRealTimeBars(8, _stock("AAPL"), 5, "TRADES", False, [])
    app.client.reqRealTimeBars(9, _stock("AAPL"), 5, "MIDPOINT", False, [])
    wait_for(lambda: len(app.wrapper.named("realtimeBar")) >= 8, "8 bars")
    app.client.cancelRealTimeBars(8)
    app.client.cancelRealTimeBars(9)
    bars = app.wrapper.named("realtimeBar")
    for req_id in (8, 9):
        mine = [b for b in bars if b[0] == req_id]
        times = [b[1] for b in mine]
        assert times[0] % 5 == 0 and all(b - a == 5 for a, b in itertools.pairwise(times))
        for _req, _t, open_, high, low, close, volume, wap, count in mine:
            assert 0 < low <= min(open_, close) <= max(open_, close) <= high
            if req_id == 9:
                assert (volume, wap, count) == (-1, -1, -1)
            elif count:
                assert volume > 0 and low <= float(wap) <= high
    assert sum(b[8] for b in bars if b[0] == 8) > 0, "no trade in any bar"


def _bs(call: bool, s: float, k: float, t: float, v: float, r: float, q: float) -> float:
    """Black-Scholes-Merton, written here independently of the simulator's."""
    d1 = (math.log(s / k) + (r - q + v * v / 2) * t) / (v * math.sqrt(t))
    d2 = d1 - v * math.sqrt(t)

    def n(x: float) -> float:
        return 0.5 * (1 + math.erf(x / math.sqrt(2)))

    if call:
        return s * math.exp(-q * t) * n(d1) - k * math.exp(-r * t) * n(d2)
    return k * math.exp(-r * t) * n(-d2) - s * math.exp(-q * t) * n(-d1)


@pytest.mark.parametrize(("right", "delayed"), [("C", False), ("P", True)])
def test_option_greeks_follow_black_scholes(app: App, right: str, delayed: bool) -> None:
    """An AAPL option streams quotes and computations 10-13 (80-83 delayed); delta has the
    right sign and the model price is Black-Scholes of the reported underlying and vol."""
    if delayed:
        app.client.reqMarketDataType(3)
    app.client.reqMktData(10, _option("AAPL", "20270115", 230.0, right), "", False, False, [])
    wait_for(lambda: len(app.wrapper.named("tickOptionComputation")) >= 40, "40 computations")
    comps = app.wrapper.named("tickOptionComputation")
    expected = {80, 81, 82, 83} if delayed else {10, 11, 12, 13}
    assert {c[1] for c in comps} == expected
    prices = [p for p in app.wrapper.named("tickPrice") if p[0] == 10]
    assert {p[1] for p in prices} >= ({66, 67} if delayed else {1, 2})
    years = (time.mktime(time.strptime("20270115 16", "%Y%m%d %H")) - time.time()) / (365 * 86400)
    for _req, tick_type, _attrib, iv, delta, opt, pv_div, gamma, vega, theta, und in comps:
        assert 0 < iv < 1 and gamma > 0 and vega > 0 and theta < 0 and pv_div >= 0
        assert 0 < delta < 1 if right == "C" else -1 < delta < 0
        assert 200 < und < 260 and opt > 0
        if tick_type in (13, 83):
            model = _bs(right == "C", und, 230.0, years, iv, 0.04, 0.0045)
            assert abs(opt - model) < 0.05 * model + 0.05, (opt, model)
    app.client.cancelMktData(10)


def test_limits_and_errors(app: App) -> None:
    """A 4th depth request gets 309, a 6th tick-by-tick 10190, a reused id 322, depth on
    EUR.CHF 10092; cancelling frees a slot."""
    for req_id, symbol in zip((21, 22, 23, 24), ("AAPL", "MSFT", "SPY", "QQQ"), strict=True):
        app.client.reqMktDepth(req_id, _stock(symbol), 3, False, [])
    app.client.reqMktDepth(21, _stock("AAPL"), 3, False, [])
    for req_id in range(31, 37):
        app.client.reqTickByTickData(req_id, _stock("AAPL"), "BidAsk", 0, False)
    app.client.reqTickByTickData(31, _stock("AAPL"), "Last", 0, False)
    chf = ibapi_contract("EUR", "CASH", "IDEALPRO")
    chf.currency = "CHF"
    app.client.reqMktDepth(25, chf, 3, False, [])
    wait_for(lambda: len(_codes(app)) >= 5, "five errors")
    errors = {(req_id, code): text for req_id, code, text in _codes(app)}
    assert errors == {
        (24, 309): "Max number (3) of market depth requests has been reached",
        (21, 322): "Duplicate ticker id",
        (36, 10190): "Max number of tick-by-tick requests has been reached.",
        (31, 322): "Duplicate ticker id",
        (25, 10092): (
            "Deep market data is not supported for this combination of security type/exchange"
        ),
    }
    app.client.cancelMktDepth(23, False)
    app.client.reqMktDepth(26, _stock("IWM"), 3, False, [])
    wait_for(lambda: any(u[0] == 26 for u in app.wrapper.named("updateMktDepth")), "depth 26")
    assert len(_codes(app)) == 5


def test_option_snapshot_ends_and_option_streams_take_lines(gateway: SimulatedGateway) -> None:
    """A snapshot of an option carries its greeks and ends with tickSnapshotEnd; a streaming
    option counts as a market-data line."""
    app = App(gateway)
    try:
        spy_put = _option("SPY", "20261218", 680.0, "P")
        app.client.reqMktData(40, spy_put, "", True, False, [])
        assert wait_for(lambda: app.wrapper.named("tickSnapshotEnd"), "snapshot end") == [(40,)]
        assert {c[1] for c in app.wrapper.named("tickOptionComputation")} == {10, 11, 12, 13}
        assert gateway.call(lambda core: core.active_market_data()) == 0
        app.client.reqMktData(41, spy_put, "", False, False, [])
        wait_for(lambda: gateway.call(lambda core: core.active_market_data()) == 1, "1 line")
        app.client.cancelMktData(41)
        wait_for(lambda: gateway.call(lambda core: core.active_market_data()) == 0, "0 lines")
    finally:
        app.close()

"""The data kinds on the wire at every layout boundary: ibapi's own EClient encodes each request
and our parser reads it back; each of our frames goes through ibapi's own Decoder."""

from decimal import Decimal
from typing import Any

import pytest
from ibapi.client import EClient

from publisher.sim import MAX_SERVER_VERSION
from publisher.sim.protocol import Encoder, parse_request
from publisher.sim.protocol.data_encoding import (
    bar_frame,
    depth_exchanges_frame,
    depth_frame,
    option_frame,
    tbt_frame,
)
from publisher.sim.protocol.data_events import (
    Bar,
    DepthChange,
    DepthExchange,
    OptionComputation,
    TbtBidAsk,
    TbtLast,
    TbtMidPoint,
)
from publisher.sim.protocol.data_requests import (
    CancelMktDepth,
    CancelRealTimeBars,
    CancelTickByTick,
    ReqMktDepth,
    ReqMktDepthExchanges,
    ReqRealTimeBars,
    ReqTickByTick,
)
from tests.sim.support import RecordingWrapper, decode_frames, ibapi_contract, ibapi_request

VERSIONS = [140, 146, 149, 156, 176, 200, 201, 206, 208, 213, MAX_SERVER_VERSION]


def _decode(version: int, frame: bytes) -> RecordingWrapper:
    wrapper = RecordingWrapper()
    decode_frames(frame, version, wrapper)
    return wrapper


@pytest.mark.parametrize("version", VERSIONS)
def test_requests_round_trip(version: int) -> None:
    """Every data-kind request ibapi sends at ``version`` parses to what was asked."""
    aapl = ibapi_contract("AAPL", "STK", "SMART")
    aapl.conId = 265598

    def parsed(call: Any) -> Any:
        return parse_request(ibapi_request(version, call), version)

    tbt = parsed(lambda c: EClient.reqTickByTickData(c, 3, aapl, "BidAsk", 0, False))
    assert isinstance(tbt, ReqTickByTick)
    assert (tbt.req_id, tbt.tick_type, tbt.contract.con_id, tbt.contract.symbol) == (
        3,
        "BidAsk",
        265598,
        "AAPL",
    )
    assert parsed(lambda c: EClient.cancelTickByTickData(c, 3)) == CancelTickByTick(3)
    smart = version >= 146
    depth = parsed(lambda c: EClient.reqMktDepth(c, 4, aapl, 7, smart, []))
    assert isinstance(depth, ReqMktDepth)
    assert (depth.req_id, depth.num_rows, depth.is_smart, depth.contract.currency) == (
        4,
        7,
        smart,
        "USD",
    )
    assert parsed(lambda c: EClient.cancelMktDepth(c, 4, smart)) == CancelMktDepth(4, smart)
    assert parsed(lambda c: EClient.reqMktDepthExchanges(c)) == ReqMktDepthExchanges()
    bars = parsed(lambda c: EClient.reqRealTimeBars(c, 5, aapl, 5, "MIDPOINT", True, []))
    assert isinstance(bars, ReqRealTimeBars)
    assert (bars.req_id, bars.bar_size, bars.what_to_show, bars.use_rth) == (5, 5, "MIDPOINT", True)
    assert parsed(lambda c: EClient.cancelRealTimeBars(c, 5)) == CancelRealTimeBars(5)


@pytest.mark.parametrize("version", VERSIONS)
def test_frames_decode_with_ibapi(version: int) -> None:
    """Every data-kind frame reaches the right EWrapper callback with our values."""
    enc = Encoder(version)
    w = _decode(version, tbt_frame(enc, TbtLast(1, 2, 1700000000, 230.5, 300, "ARCA", "T")))
    ((req, kind, when, price, size, attrib, exchange, special),) = w.named("tickByTickAllLast")
    assert (req, kind, when, price, size, exchange, special) == (
        1,
        2,
        1700000000,
        230.5,
        Decimal(300),
        "ARCA",
        "T",
    )
    assert not attrib.pastLimit and not attrib.unreported
    w = _decode(version, tbt_frame(enc, TbtBidAsk(1, 17, 1.25, 1.5, 100, 200)))
    assert [a[:6] for a in w.named("tickByTickBidAsk")] == [
        (1, 17, 1.25, 1.5, Decimal(100), Decimal(200))
    ]
    w = _decode(version, tbt_frame(enc, TbtMidPoint(1, 17, 1.375)))
    assert w.named("tickByTickMidPoint") == [(1, 17, 1.375)]
    w = _decode(version, depth_frame(enc, DepthChange(2, 3, 0, 1, 99.5, 700)))
    assert w.named("updateMktDepth") == [(2, 3, 0, 1, 99.5, Decimal(700))]
    w = _decode(version, depth_frame(enc, DepthChange(2, 0, 2, 0, 99.6, 100, "ARCA", True)))
    assert w.named("updateMktDepthL2") == [(2, 0, "ARCA", 2, 0, 99.6, Decimal(100), version >= 146)]
    w = _decode(version, bar_frame(enc, Bar(3, 1700000005, 10.0, 11.0, 9.5, 10.5, 900, 10.25, 7)))
    assert w.named("realtimeBar") == [
        (3, 1700000005, 10.0, 11.0, 9.5, 10.5, Decimal(900), Decimal("10.25"), 7)
    ]
    comp = OptionComputation(4, 13, 0.25, 0.5, 5.5, 0.1, 0.02, 0.3, -0.05, 230.0)
    w = _decode(version, option_frame(enc, comp))
    ((req, kind, _attrib, *values),) = w.named("tickOptionComputation")
    assert (req, kind, values) == (4, 13, [0.25, 0.5, 5.5, 0.1, 0.02, 0.3, -0.05, 230.0])
    blank = OptionComputation(4, 10, None, None, None, None, None, None, None, None)
    ((_r, _k, _a, *values),) = _decode(version, option_frame(enc, blank)).named(
        "tickOptionComputation"
    )
    assert values == [None] * 8
    rows = [DepthExchange("NASDAQ", "STK", "NASDAQ", "Deep2", 1)]
    ((decoded,),) = _decode(version, depth_exchanges_frame(enc, rows)).named("mktDepthExchanges")
    assert [(d.exchange, d.secType) for d in decoded] == [("NASDAQ", "STK")]

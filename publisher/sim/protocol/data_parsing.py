"""Decoding the data-kind requests (:mod:`~publisher.sim.protocol.data_requests`), both encodings.

Text layouts follow ibapi's ``EClient`` at the negotiated version; protobuf ones its
``*Request`` messages. :mod:`~publisher.sim.protocol.parsing` looks here for the ids it does not
know itself. Pure.
"""

from collections.abc import Callable
from typing import Any, Final

from ibapi.protobuf.CancelMarketDepth_pb2 import CancelMarketDepth as CancelMarketDepthProto
from ibapi.protobuf.CancelRealTimeBars_pb2 import CancelRealTimeBars as CancelRealTimeBarsProto
from ibapi.protobuf.CancelTickByTick_pb2 import CancelTickByTick as CancelTickByTickProto
from ibapi.protobuf.MarketDepthRequest_pb2 import MarketDepthRequest as MarketDepthRequestProto
from ibapi.protobuf.RealTimeBarsRequest_pb2 import RealTimeBarsRequest as RealTimeBarsRequestProto
from ibapi.protobuf.TickByTickRequest_pb2 import TickByTickRequest as TickByTickRequestProto

from publisher.sim.protocol.contracts import ContractQuery
from publisher.sim.protocol.data_requests import (
    CancelMktDepth,
    CancelRealTimeBars,
    CancelTickByTick,
    DataRequest,
    ReqMktDepth,
    ReqMktDepthExchanges,
    ReqRealTimeBars,
    ReqTickByTick,
)
from publisher.sim.protocol.reading import (
    Fields,
    pb_bool,
    pb_int,
    pb_str,
    proto_contract,
    text_contract,
)
from publisher.sim.protocol.versions import (
    V_LINKING,
    V_MKT_DEPTH_PRIM_EXCHANGE,
    V_SMART_DEPTH,
    V_TICK_BY_TICK_IGNORE_SIZE,
    ClientMsg,
)


def _text_tick_by_tick(f: Fields, version: int) -> DataRequest:
    req_id = f.integer()  # no version field
    contract = text_contract(f)
    tick_type = f.text()
    number, ignore = 0, False
    if version >= V_TICK_BY_TICK_IGNORE_SIZE:
        number = f.integer(0)
        ignore = f.flag(False)
    return ReqTickByTick(req_id, contract, tick_type, number, ignore)


def _text_depth_contract(f: Fields, version: int) -> ContractQuery:
    """reqMktDepth's contract: primaryExchange only from v149."""
    con_id = f.integer()
    symbol, sec_type, last_trade = f.text(), f.text(), f.text()
    strike = f.number()
    right, multiplier, exchange = f.text(), f.text(), f.text()
    primary = f.text() if version >= V_MKT_DEPTH_PRIM_EXCHANGE else ""
    currency, local_symbol, trading_class = f.text(), f.text(), f.text()
    return ContractQuery(
        con_id=con_id,
        symbol=symbol,
        sec_type=sec_type,
        last_trade_date_or_contract_month=last_trade,
        strike=strike,
        right=right,
        multiplier=multiplier,
        exchange=exchange,
        primary_exchange=primary,
        currency=currency,
        local_symbol=local_symbol,
        trading_class=trading_class,
    )


def _text_mkt_depth(f: Fields, version: int) -> DataRequest:
    f.integer()  # message version (5)
    req_id = f.integer()
    contract = _text_depth_contract(f, version)
    num_rows = f.integer()
    smart = f.flag(False) if version >= V_SMART_DEPTH else False
    if version >= V_LINKING:
        f.text("")  # mktDepthOptions, "for internal use only"
    return ReqMktDepth(req_id, contract, num_rows, smart)


def _text_cancel_mkt_depth(f: Fields, version: int) -> DataRequest:
    f.integer()  # message version (1)
    req_id = f.integer()
    smart = f.flag(False) if version >= V_SMART_DEPTH else False
    return CancelMktDepth(req_id, smart)


def _text_real_time_bars(f: Fields, version: int) -> DataRequest:
    f.integer()  # message version (3)
    req_id = f.integer()
    contract = text_contract(f)
    bar_size = f.integer()
    what = f.text()
    rth = f.flag(False)
    if version >= V_LINKING:
        f.text("")  # realTimeBarsOptions
    return ReqRealTimeBars(req_id, contract, bar_size, what, rth)


def _text_cancel_real_time_bars(f: Fields, version: int) -> DataRequest:
    f.integer()  # message version (1)
    return CancelRealTimeBars(f.integer())


DATA_TEXT_PARSERS: Final[dict[int, Callable[[Fields, int], DataRequest]]] = {
    ClientMsg.REQ_TICK_BY_TICK_DATA: _text_tick_by_tick,
    ClientMsg.CANCEL_TICK_BY_TICK_DATA: lambda f, v: CancelTickByTick(f.integer()),
    ClientMsg.REQ_MKT_DEPTH: _text_mkt_depth,
    ClientMsg.CANCEL_MKT_DEPTH: _text_cancel_mkt_depth,
    ClientMsg.REQ_MKT_DEPTH_EXCHANGES: lambda f, v: ReqMktDepthExchanges(),
    ClientMsg.REQ_REAL_TIME_BARS: _text_real_time_bars,
    ClientMsg.CANCEL_REAL_TIME_BARS: _text_cancel_real_time_bars,
}
"""Text request id -> parser, for the data-kind requests."""

DATA_PROTO_PARSERS: Final[dict[int, tuple[Any, Callable[[Any], DataRequest]]]] = {
    ClientMsg.REQ_TICK_BY_TICK_DATA: (
        TickByTickRequestProto,
        lambda p: ReqTickByTick(
            pb_int(p, "reqId"),
            proto_contract(p.contract),
            pb_str(p, "tickType"),
            pb_int(p, "numberOfTicks"),
            pb_bool(p, "ignoreSize"),
        ),
    ),
    ClientMsg.CANCEL_TICK_BY_TICK_DATA: (
        CancelTickByTickProto,
        lambda p: CancelTickByTick(pb_int(p, "reqId")),
    ),
    ClientMsg.REQ_MKT_DEPTH: (
        MarketDepthRequestProto,
        lambda p: ReqMktDepth(
            pb_int(p, "reqId"),
            proto_contract(p.contract),
            pb_int(p, "numRows"),
            pb_bool(p, "isSmartDepth"),
        ),
    ),
    ClientMsg.CANCEL_MKT_DEPTH: (
        CancelMarketDepthProto,
        lambda p: CancelMktDepth(pb_int(p, "reqId"), pb_bool(p, "isSmartDepth")),
    ),
    ClientMsg.REQ_MKT_DEPTH_EXCHANGES: (None, lambda p: ReqMktDepthExchanges()),
    ClientMsg.REQ_REAL_TIME_BARS: (
        RealTimeBarsRequestProto,
        lambda p: ReqRealTimeBars(
            pb_int(p, "reqId"),
            proto_contract(p.contract),
            pb_int(p, "barSize"),
            pb_str(p, "whatToShow"),
            pb_bool(p, "useRTH"),
        ),
    ),
    ClientMsg.CANCEL_REAL_TIME_BARS: (
        CancelRealTimeBarsProto,
        lambda p: CancelRealTimeBars(pb_int(p, "reqId")),
    ),
}
"""Protobuf request id -> (message class or None, builder), for the data-kind requests."""

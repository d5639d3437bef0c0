"""Frames for the data kinds beyond top of book, in the encoding the version calls for.

Functions over an :class:`~publisher.sim.protocol.encoding.Encoder` (so its class stays small):
text layouts as ibapi's ``Decoder`` reads them at that version, protobuf from the version in
:data:`~publisher.sim.protocol.versions.PROTOBUF_SINCE` (depth and option computations with
market data at 206, tick-by-tick and real-time bars with the historical group at 208, depth
exchanges at 213). Pure.
"""

from collections.abc import Sequence

from ibapi.protobuf.DepthMarketDataDescription_pb2 import (
    DepthMarketDataDescription as DepthMarketDataDescriptionProto,
)
from ibapi.protobuf.HistoricalTick_pb2 import HistoricalTick as HistoricalTickProto
from ibapi.protobuf.HistoricalTickBidAsk_pb2 import (
    HistoricalTickBidAsk as HistoricalTickBidAskProto,
)
from ibapi.protobuf.HistoricalTickLast_pb2 import HistoricalTickLast as HistoricalTickLastProto
from ibapi.protobuf.MarketDepth_pb2 import MarketDepth as MarketDepthProto
from ibapi.protobuf.MarketDepthData_pb2 import MarketDepthData as MarketDepthDataProto
from ibapi.protobuf.MarketDepthExchanges_pb2 import (
    MarketDepthExchanges as MarketDepthExchangesProto,
)
from ibapi.protobuf.MarketDepthL2_pb2 import MarketDepthL2 as MarketDepthL2Proto
from ibapi.protobuf.RealTimeBarTick_pb2 import RealTimeBarTick as RealTimeBarTickProto
from ibapi.protobuf.TickAttribBidAsk_pb2 import TickAttribBidAsk as TickAttribBidAskProto
from ibapi.protobuf.TickAttribLast_pb2 import TickAttribLast as TickAttribLastProto
from ibapi.protobuf.TickByTickData_pb2 import TickByTickData as TickByTickDataProto
from ibapi.protobuf.TickOptionComputation_pb2 import (
    TickOptionComputation as TickOptionComputationProto,
)

from publisher.sim.protocol.data_events import (
    Bar,
    DepthChange,
    DepthExchange,
    OptionComputation,
    TbtBidAsk,
    TbtEvent,
    TbtLast,
    TbtMidPoint,
)
from publisher.sim.protocol.encoding import Encoder
from publisher.sim.protocol.fields import decimal_text
from publisher.sim.protocol.versions import (
    V_PRICE_BASED_VOLATILITY,
    V_SERVICE_DATA_TYPE,
    V_SMART_DEPTH,
    ServerMsg,
)

__all__ = ["bar_frame", "depth_exchanges_frame", "depth_frame", "option_frame", "tbt_frame"]

_NOT_COMPUTED = -1.0
"""IB's marker for an implied vol, option price, PV dividend or underlying price not computed."""
_NOT_COMPUTED_GREEK = -2.0
"""IB's marker for a delta, gamma, vega or theta not computed."""


def tbt_frame(enc: Encoder, event: TbtEvent) -> bytes:
    """tickByTick (99): no version field in text."""
    proto = enc.uses_protobuf(ServerMsg.TICK_BY_TICK)
    if isinstance(event, TbtLast):
        if proto:
            last = HistoricalTickLastProto(
                time=event.time,
                tickAttribLast=TickAttribLastProto(
                    pastLimit=event.past_limit, unreported=event.unreported
                ),
                price=event.price,
                size=str(event.size),
                exchange=event.exchange,
                specialConditions=event.special_conditions,
            )
            message = TickByTickDataProto(
                reqId=event.req_id, tickType=event.tick_type, historicalTickLast=last
            )
            return enc.protobuf(ServerMsg.TICK_BY_TICK, message)
        mask = (1 if event.past_limit else 0) | (2 if event.unreported else 0)
        return enc.text(
            ServerMsg.TICK_BY_TICK,
            event.req_id,
            event.tick_type,
            event.time,
            float(event.price),
            event.size,
            mask,
            event.exchange,
            event.special_conditions,
        )
    if isinstance(event, TbtBidAsk):
        if proto:
            bid_ask = HistoricalTickBidAskProto(
                time=event.time,
                tickAttribBidAsk=TickAttribBidAskProto(
                    bidPastLow=event.bid_past_low, askPastHigh=event.ask_past_high
                ),
                priceBid=event.bid,
                priceAsk=event.ask,
                sizeBid=str(event.bid_size),
                sizeAsk=str(event.ask_size),
            )
            message = TickByTickDataProto(
                reqId=event.req_id, tickType=3, historicalTickBidAsk=bid_ask
            )
            return enc.protobuf(ServerMsg.TICK_BY_TICK, message)
        mask = (1 if event.bid_past_low else 0) | (2 if event.ask_past_high else 0)
        return enc.text(
            ServerMsg.TICK_BY_TICK,
            event.req_id,
            3,
            event.time,
            float(event.bid),
            float(event.ask),
            event.bid_size,
            event.ask_size,
            mask,
        )
    return _midpoint(enc, event, proto)


def _midpoint(enc: Encoder, event: TbtMidPoint, proto: bool) -> bytes:
    if proto:
        mid = HistoricalTickProto(time=event.time, price=event.mid, size="0")
        message = TickByTickDataProto(reqId=event.req_id, tickType=4, historicalTickMidPoint=mid)
        return enc.protobuf(ServerMsg.TICK_BY_TICK, message)
    return enc.text(ServerMsg.TICK_BY_TICK, event.req_id, 4, event.time, float(event.mid))


def depth_frame(enc: Encoder, change: DepthChange) -> bytes:
    """updateMktDepth (12), or updateMktDepthL2 (13) when the change names a market maker."""
    l2 = change.market_maker is not None
    msg = ServerMsg.MARKET_DEPTH_L2 if l2 else ServerMsg.MARKET_DEPTH
    if enc.uses_protobuf(msg):
        data = MarketDepthDataProto(
            position=change.position,
            operation=change.operation,
            side=change.side,
            price=change.price,
            size=str(change.size),
        )
        if l2:
            data.marketMaker = change.market_maker or ""
            data.isSmartDepth = change.is_smart
            return enc.protobuf(msg, MarketDepthL2Proto(reqId=change.req_id, marketDepthData=data))
        return enc.protobuf(msg, MarketDepthProto(reqId=change.req_id, marketDepthData=data))
    if l2:
        fields: list[object] = [
            1,
            change.req_id,
            change.position,
            change.market_maker,
            change.operation,
            change.side,
            float(change.price),
            change.size,
        ]
        if enc.version >= V_SMART_DEPTH:
            fields.append(change.is_smart)
        return enc.text(msg, *fields)
    return enc.text(
        msg,
        1,
        change.req_id,
        change.position,
        change.operation,
        change.side,
        float(change.price),
        change.size,
    )


def bar_frame(enc: Encoder, bar: Bar) -> bytes:
    """realtimeBar (50)."""
    if enc.uses_protobuf(ServerMsg.REAL_TIME_BARS):
        message = RealTimeBarTickProto(
            reqId=bar.req_id,
            time=bar.time,
            open=bar.open,
            high=bar.high,
            low=bar.low,
            close=bar.close,
            volume=decimal_text(bar.volume),
            WAP=decimal_text(bar.wap),
            count=bar.count,
        )
        return enc.protobuf(ServerMsg.REAL_TIME_BARS, message)
    return enc.text(
        ServerMsg.REAL_TIME_BARS,
        3,
        bar.req_id,
        bar.time,
        float(bar.open),
        float(bar.high),
        float(bar.low),
        float(bar.close),
        decimal_text(bar.volume),
        decimal_text(bar.wap),
        bar.count,
    )


def _mark(value: float | None, marker: float) -> float:
    return marker if value is None else float(value)


def option_frame(enc: Encoder, comp: OptionComputation) -> bytes:
    """tickOptionComputation (21): from v156 no version field but a tickAttrib."""
    values = (
        _mark(comp.implied_vol, _NOT_COMPUTED),
        _mark(comp.delta, _NOT_COMPUTED_GREEK),
        _mark(comp.opt_price, _NOT_COMPUTED),
        _mark(comp.pv_dividend, _NOT_COMPUTED),
        _mark(comp.gamma, _NOT_COMPUTED_GREEK),
        _mark(comp.vega, _NOT_COMPUTED_GREEK),
        _mark(comp.theta, _NOT_COMPUTED_GREEK),
        _mark(comp.und_price, _NOT_COMPUTED),
    )
    attrib = 1 if comp.price_based else 0
    if enc.uses_protobuf(ServerMsg.TICK_OPTION_COMPUTATION):
        iv, delta, price, pv, gamma, vega, theta, und = values
        message = TickOptionComputationProto(
            reqId=comp.req_id,
            tickType=comp.tick_type,
            tickAttrib=attrib,
            impliedVol=iv,
            delta=delta,
            optPrice=price,
            pvDividend=pv,
            gamma=gamma,
            vega=vega,
            theta=theta,
            undPrice=und,
        )
        return enc.protobuf(ServerMsg.TICK_OPTION_COMPUTATION, message)
    if enc.version >= V_PRICE_BASED_VOLATILITY:
        return enc.text(
            ServerMsg.TICK_OPTION_COMPUTATION, comp.req_id, comp.tick_type, attrib, *values
        )
    return enc.text(ServerMsg.TICK_OPTION_COMPUTATION, 6, comp.req_id, comp.tick_type, *values)


def depth_exchanges_frame(enc: Encoder, rows: Sequence[DepthExchange]) -> bytes:
    """mktDepthExchanges (80): the exchanges depth is available from."""
    if enc.uses_protobuf(ServerMsg.MKT_DEPTH_EXCHANGES):
        message = MarketDepthExchangesProto(
            depthMarketDataDescriptions=[
                DepthMarketDataDescriptionProto(
                    exchange=r.exchange,
                    secType=r.sec_type,
                    listingExch=r.listing_exchange,
                    serviceDataType=r.service_data_type,
                    aggGroup=r.agg_group,
                )
                for r in rows
            ]
        )
        return enc.protobuf(ServerMsg.MKT_DEPTH_EXCHANGES, message)
    fields: list[object] = [len(rows)]
    for r in rows:
        if enc.version >= V_SERVICE_DATA_TYPE:
            fields += [r.exchange, r.sec_type, r.listing_exchange, r.service_data_type, r.agg_group]
        else:
            fields += [r.exchange, r.sec_type, r.service_data_type == "Deep2"]
    return enc.text(ServerMsg.MKT_DEPTH_EXCHANGES, *fields)

"""The ibapi boundary: ``EWrapper`` callbacks in, plain calls on :class:`GatewayEvents` out.

camelCase ends here. Every tick callback forwards its values unchanged (the normaliser decides
what they mean); ibapi objects never leave this module except as plain values (a contract
as the core's :class:`~publisher.core.instruments.ContractMatch`).
"""

from decimal import Decimal
from typing import Any, Protocol

from ibapi.contract import Contract
from ibapi.wrapper import EWrapper

from publisher.config import InstrumentSpec
from publisher.core.instruments import ContractMatch
from publisher.core.normalise import Size

__all__ = ["Adapter", "ContractMatch", "GatewayEvents", "TickSink", "contract_from_spec"]


class GatewayEvents(Protocol):
    """What the service hears from the gateway, in its own words (control, not ticks)."""

    def on_api_ready(self, next_order_id: int) -> None: ...
    def on_contract_match(self, req_id: int, match: ContractMatch) -> None: ...
    def on_contract_end(self, req_id: int) -> None: ...
    def on_gateway_message(self, req_id: int, code: int, message: str) -> None: ...
    def on_market_data_type(self, req_id: int, mdt: int) -> None: ...
    def on_current_time(self, epoch_seconds: int) -> None: ...


class TickSink(Protocol):
    """Where tick callbacks go (the hot path), with IB's raw values."""

    def on_price(self, req_id: int, tick_type: int, price: float, mask: int) -> None: ...
    def on_size(self, req_id: int, tick_type: int, size: Size) -> None: ...
    def on_generic(self, req_id: int, tick_type: int, value: float) -> None: ...
    def on_string(self, req_id: int, tick_type: int, value: str) -> None: ...
    def on_tbt_last(
        self,
        req_id: int,
        tick_type: int,
        time: int,
        price: float,
        size: Size,
        past_limit: bool,
        unreported: bool,
        exchange: str,
        special_conditions: str,
    ) -> None: ...
    def on_tbt_bid_ask(
        self,
        req_id: int,
        time: int,
        bid: float,
        ask: float,
        bid_size: Size,
        ask_size: Size,
        bid_past_low: bool,
        ask_past_high: bool,
    ) -> None: ...
    def on_tbt_midpoint(self, req_id: int, time: int, mid: float) -> None: ...
    def on_depth(
        self,
        req_id: int,
        position: int,
        market_maker: str | None,
        operation: int,
        side: int,
        price: float,
        size: Size,
        is_smart: bool,
    ) -> None: ...
    def on_bar(
        self,
        req_id: int,
        time: int,
        open_: float,
        high: float,
        low: float,
        close: float,
        volume: Size,
        wap: Size,
        count: int,
    ) -> None: ...
    def on_option(
        self,
        req_id: int,
        tick_type: int,
        implied_vol: float | None,
        delta: float | None,
        opt_price: float | None,
        pv_dividend: float | None,
        gamma: float | None,
        vega: float | None,
        theta: float | None,
        und_price: float | None,
    ) -> None: ...


def contract_from_spec(spec: InstrumentSpec, con_id: int = 0) -> Contract:
    """An ibapi ``Contract`` for a configured instrument (qualified when ``con_id`` is set)."""
    contract = Contract()
    contract.conId = con_id or spec.con_id
    contract.symbol = spec.symbol
    contract.secType = spec.sec_type
    contract.exchange = spec.exchange
    contract.primaryExchange = spec.primary_exchange
    contract.currency = spec.currency
    contract.localSymbol = spec.local_symbol
    contract.lastTradeDateOrContractMonth = spec.last_trade_date
    contract.strike = spec.strike
    contract.right = spec.right
    contract.multiplier = spec.multiplier
    contract.tradingClass = spec.trading_class
    return contract


class Adapter(EWrapper):  # type: ignore[misc]  # ibapi is untyped
    """Forwards ibapi callbacks to the service and the tick sink; overrides every hot default.

    ibapi's default ``EWrapper`` methods log every call with ``logAnswer(vars())``; each
    callback that can fire per tick is overridden here so none of that runs on the hot path.
    """

    def __init__(self, events: GatewayEvents, ticks: TickSink) -> None:
        super().__init__()
        self._events = events
        # Bound once: these run per tick.
        self._on_price = ticks.on_price
        self._on_size = ticks.on_size
        self._on_generic = ticks.on_generic
        self._on_string = ticks.on_string
        self._ticks = ticks

    # -- ticks (hot path) -----------------------------------------------------------------

    def tickPrice(self, reqId: int, tickType: int, price: float, attrib: Any) -> None:
        mask = (
            (1 if attrib.canAutoExecute else 0)
            | (2 if attrib.pastLimit else 0)
            | (4 if attrib.preOpen else 0)
        )
        self._on_price(reqId, tickType, price, mask)

    def tickSize(self, reqId: int, tickType: int, size: Decimal) -> None:
        self._on_size(reqId, tickType, size)

    def tickGeneric(self, reqId: int, tickType: int, value: float) -> None:
        self._on_generic(reqId, tickType, value)

    def tickString(self, reqId: int, tickType: int, value: str) -> None:
        self._on_string(reqId, tickType, value)

    # -- the other data kinds: tick-by-tick, depth, bars, option computations ---------------

    def tickByTickAllLast(
        self,
        reqId: int,
        tickType: int,
        time: int,
        price: float,
        size: Decimal,
        tickAttribLast: Any,
        exchange: str,
        specialConditions: str,
    ) -> None:
        self._ticks.on_tbt_last(
            reqId,
            tickType,
            time,
            price,
            size,
            bool(tickAttribLast.pastLimit),
            bool(tickAttribLast.unreported),
            exchange,
            specialConditions,
        )

    def tickByTickBidAsk(
        self,
        reqId: int,
        time: int,
        bidPrice: float,
        askPrice: float,
        bidSize: Decimal,
        askSize: Decimal,
        tickAttribBidAsk: Any,
    ) -> None:
        self._ticks.on_tbt_bid_ask(
            reqId,
            time,
            bidPrice,
            askPrice,
            bidSize,
            askSize,
            bool(tickAttribBidAsk.bidPastLow),
            bool(tickAttribBidAsk.askPastHigh),
        )

    def tickByTickMidPoint(self, reqId: int, time: int, midPoint: float) -> None:
        self._ticks.on_tbt_midpoint(reqId, time, midPoint)

    def updateMktDepth(
        self, reqId: int, position: int, operation: int, side: int, price: float, size: Decimal
    ) -> None:
        self._ticks.on_depth(reqId, position, None, operation, side, price, size, False)

    def updateMktDepthL2(
        self,
        reqId: int,
        position: int,
        marketMaker: str,
        operation: int,
        side: int,
        price: float,
        size: Decimal,
        isSmartDepth: bool,
    ) -> None:
        self._ticks.on_depth(
            reqId, position, marketMaker, operation, side, price, size, bool(isSmartDepth)
        )

    def realtimeBar(
        self,
        reqId: int,
        time: int,
        open_: float,
        high: float,
        low: float,
        close: float,
        volume: Decimal,
        wap: Decimal,
        count: int,
    ) -> None:
        self._ticks.on_bar(reqId, time, open_, high, low, close, volume, wap, count)

    def tickOptionComputation(
        self,
        reqId: int,
        tickType: int,
        tickAttrib: int,
        impliedVol: float | None,
        delta: float | None,
        optPrice: float | None,
        pvDividend: float | None,
        gamma: float | None,
        vega: float | None,
        theta: float | None,
        undPrice: float | None,
    ) -> None:
        self._ticks.on_option(
            reqId, tickType, impliedVol, delta, optPrice, pvDividend, gamma, vega, theta, undPrice
        )

    def mktDepthExchanges(self, depthMktDataDescriptions: Any) -> None:
        pass

    def tickByTickDataProtoBuf(self, tickByTickDataProto: Any) -> None:
        pass

    def updateMarketDepthProtoBuf(self, marketDepthProto: Any) -> None:
        pass

    def updateMarketDepthL2ProtoBuf(self, marketDepthL2Proto: Any) -> None:
        pass

    def realTimeBarTickProtoBuf(self, realTimeBarTickProto: Any) -> None:
        pass

    def tickOptionComputationProtoBuf(self, tickOptionComputationProto: Any) -> None:
        pass

    def marketDepthExchangesProtoBuf(self, marketDepthExchangesProto: Any) -> None:
        pass

    def tickPriceProtoBuf(self, tickPriceProto: Any) -> None:
        pass

    def tickSizeProtoBuf(self, tickSizeProto: Any) -> None:
        pass

    def tickGenericProtoBuf(self, tickGenericProto: Any) -> None:
        pass

    def tickStringProtoBuf(self, tickStringProto: Any) -> None:
        pass

    def tickReqParams(
        self, tickerId: int, minTick: float, bboExchange: str, snapshotPermissions: int
    ) -> None:
        pass

    def tickReqParamsProtoBuf(self, tickReqParamsProto: Any) -> None:
        pass

    def tickSnapshotEnd(self, reqId: int) -> None:
        pass

    def tickSnapshotEndProtoBuf(self, tickSnapshotEndProto: Any) -> None:
        pass

    def marketDataType(self, reqId: int, marketDataType: int) -> None:
        self._events.on_market_data_type(reqId, marketDataType)

    def updateMarketDataTypeProtoBuf(self, marketDataTypeProto: Any) -> None:
        pass

    # -- session ------------------------------------------------------------------------

    def connectAck(self) -> None:
        pass

    def nextValidId(self, orderId: int) -> None:
        self._events.on_api_ready(orderId)

    def nextValidIdProtoBuf(self, nextValidIdProto: Any) -> None:
        pass

    def managedAccounts(self, accountsList: str) -> None:
        pass

    def managedAccountsProtoBuf(self, managedAccountsProto: Any) -> None:
        pass

    def currentTime(self, time: int) -> None:
        self._events.on_current_time(time)

    def currentTimeProtoBuf(self, currentTimeProto: Any) -> None:
        pass

    def connectionClosed(self) -> None:
        pass

    def error(
        self,
        reqId: int,
        errorTime: int,
        errorCode: int,
        errorString: str,
        advancedOrderRejectJson: str = "",
    ) -> None:
        self._events.on_gateway_message(reqId, errorCode, errorString)

    def errorProtoBuf(self, errorMessageProto: Any) -> None:
        pass

    # -- contract details ---------------------------------------------------------------

    def contractDetails(self, reqId: int, contractDetails: Any) -> None:
        c = contractDetails.contract
        self._events.on_contract_match(
            reqId,
            ContractMatch(
                con_id=int(c.conId),
                symbol=str(c.symbol),
                sec_type=str(c.secType),
                local_symbol=str(c.localSymbol),
                exchange=str(c.exchange),
                primary_exchange=str(c.primaryExchange),
                currency=str(c.currency),
                long_name=str(contractDetails.longName),
                min_tick=float(contractDetails.minTick),
                last_trade_date=str(c.lastTradeDateOrContractMonth),
            ),
        )

    def contractDataProtoBuf(self, contractDataProto: Any) -> None:
        pass

    def contractDetailsEnd(self, reqId: int) -> None:
        self._events.on_contract_end(reqId)

    def contractDataEndProtoBuf(self, contractDataEndProto: Any) -> None:
        pass

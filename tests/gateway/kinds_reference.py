"""The reference for the tickByTick/depth fast path tests: ibapi's decoder and the adapter.

The reference is ibapi's ``Decoder`` (text fields split as ``GatewayClient`` splits them, or
``processProtoBuf``) feeding an adapter that converts ibapi's callbacks as the issue-13
interfaces say (``updateMktDepth`` -> ``on_depth(..., None, ..., False)``, attribute objects ->
booleans). That is our ``Adapter`` once it has the callbacks, and until then
:class:`ReferenceAdapter` below. :func:`assert_equivalent` is the property: the fast path
declines a frame or makes exactly the same sink calls, compared by ``repr`` (sizes as the tick
path publishes them, ``normal_size``).
"""

from decimal import Decimal
from typing import Any

from hypothesis import strategies as st
from ibapi.decoder import Decoder

from publisher.core.normalise import Size, normal_size
from publisher.gateway.adapter import Adapter
from publisher.gateway.fastpath import TickFastPath
from publisher.gateway.framing import split_message
from tests.gateway.test_fastpath import NoEvents
from tests.gateway.test_fastpath import Recorder as TickRecorder

CLASSIC = 200
RAW_IDS = 205  # text fields behind a 4-byte message id
PROTOBUF = 226
BEFORE_SMART = 140  # text updateMktDepthL2 without the isSmartDepth field
OLD = 120  # no fast path at all
TEXT_VERSIONS = st.sampled_from([CLASSIC, RAW_IDS, BEFORE_SMART, OLD])
KIND_CALLBACKS = ("tickByTickAllLast", "tickByTickBidAsk", "tickByTickMidPoint", "updateMktDepth")

Call = tuple[str, str]


class Recorder(TickRecorder):
    """The tick sink with the issue-13 methods, recording each call's ``repr``."""

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
    ) -> None:
        values = (req_id, tick_type, time, price, normal_size(size), past_limit, unreported)
        self.calls.append(("tbt_last", repr((*values, exchange, special_conditions))))

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
    ) -> None:
        sizes = (normal_size(bid_size), normal_size(ask_size))
        values = (req_id, time, bid, ask, *sizes, bid_past_low, ask_past_high)
        self.calls.append(("tbt_bid_ask", repr(values)))

    def on_tbt_midpoint(self, req_id: int, time: int, mid: float) -> None:
        self.calls.append(("tbt_midpoint", repr((req_id, time, mid))))

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
    ) -> None:
        values = (req_id, position, market_maker, operation, side, price, normal_size(size))
        self.calls.append(("depth", repr((*values, is_smart))))


class ReferenceAdapter(Adapter):
    """ibapi's callbacks converted as interfaces.md says, until our Adapter has them."""

    def __init__(self, sink: Recorder) -> None:
        super().__init__(NoEvents(), sink)
        self._sink = sink

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
        attrib = tickAttribLast
        self._sink.on_tbt_last(
            reqId,
            tickType,
            time,
            price,
            size,
            attrib.pastLimit,
            attrib.unreported,
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
        flags = tickAttribBidAsk
        self._sink.on_tbt_bid_ask(
            reqId,
            time,
            bidPrice,
            askPrice,
            bidSize,
            askSize,
            flags.bidPastLow,
            flags.askPastHigh,
        )

    def tickByTickMidPoint(self, reqId: int, time: int, midPoint: float) -> None:
        self._sink.on_tbt_midpoint(reqId, time, midPoint)

    def updateMktDepth(
        self, reqId: int, position: int, operation: int, side: int, price: float, size: Decimal
    ) -> None:
        self._sink.on_depth(reqId, position, None, operation, side, price, size, False)

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
        self._sink.on_depth(
            reqId, position, marketMaker, operation, side, price, size, isSmartDepth
        )

    def tickByTickDataProtoBuf(self, proto: Any) -> None:
        pass

    def updateMarketDepthProtoBuf(self, proto: Any) -> None:
        pass

    def updateMarketDepthL2ProtoBuf(self, proto: Any) -> None:
        pass


def reference_adapter(sink: Recorder) -> Adapter:
    """Our Adapter if it converts these callbacks already, else the test's reference."""
    if all(name in vars(Adapter) for name in KIND_CALLBACKS):
        return Adapter(NoEvents(), sink)
    return ReferenceAdapter(sink)


def via_ibapi(payload: bytes, version: int) -> list[Call] | type[BaseException]:
    """What ibapi + the adapter hand the sink (GatewayClient._dispatch's reference path)."""
    sink = Recorder()
    decoder = Decoder(reference_adapter(sink), version)
    try:
        msg_id, body = split_message(payload, version)
        if msg_id > 200:
            decoder.processProtoBuf(body, msg_id - 200)
        else:
            decoder.interpret(tuple(body.split(b"\0")[:-1]), msg_id)
    except Exception as exc:
        return type(exc)
    return sink.calls


def via_fast(payload: bytes, version: int) -> tuple[bool, list[Call] | type[BaseException]]:
    """Whether the fast path handled the frame, and its calls (or what the sink raised)."""
    sink = Recorder()
    try:
        handled = TickFastPath(sink, version).decode(payload)
    except Exception as exc:
        return True, type(exc)
    return handled, sink.calls


def assert_equivalent(payload: bytes, version: int, *, must_handle_valid: bool = False) -> bool:
    """The property; returns whether the fast path handled the frame."""
    reference = via_ibapi(payload, version)
    handled, calls = via_fast(payload, version)
    if not handled:
        assert calls == [], "a declined frame must not reach the sink"
        assert not (must_handle_valid and isinstance(reference, list)), (payload, reference)
        return False
    assert reference == calls, payload
    return True

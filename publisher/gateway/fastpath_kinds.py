"""Dedicated decoders for the other high-rate messages: tickByTick (99) and market depth (12, 13).

The same contract as :mod:`publisher.gateway.fastpath`: for the usual layouts (classic text,
text behind a 4-byte id, protobuf at id + 200) hand the tick sink exactly what ibapi's
``Decoder`` followed by our ``Adapter`` would hand it, and decline (``False``) anything else, so
that ibapi decodes it as before. The conversions are ibapi's own, field by field:

* text: ``int(s or 0)``, ``float(s or 0)``, ``s.decode("UTF-8", errors="backslashreplace")``
  for strings, ``int(s or 0) != 0`` for the smart-depth flag, sizes as in ``fastpath``;
* protobuf tickByTick (``processTickByTickMsgProtoBuf``): an absent reqId is NO_VALID_ID, an
  absent tick type 0; the tick must be the one the type names (else ibapi calls nothing), and
  its absent fields keep ibapi's defaults, which are the protobuf defaults (time 0, price 0.0,
  "" and False) except sizes (absent: unset, None); a MidPoint's size is not handed on, but
  ibapi makes a ``Decimal`` of it when present, so one that does not convert is declined;
* protobuf depth: absent operation and side are UNSET_INTEGER, price UNSET_DOUBLE, size unset;
  an absent position is UNSET_INTEGER for updateMktDepth but 0 for updateMktDepthL2 (as ibapi
  has it); no ``marketDepthData`` at all means no call.

The Adapter turns ``updateMktDepth`` into ``on_depth(..., market_maker=None, ...,
is_smart=False)`` and the attribute objects into plain booleans (interfaces of issue 13); so
does this module. ``tests/gateway/test_fastpath_kinds.py`` checks it against ibapi with
Hypothesis, in every layout.
"""

from collections.abc import Callable
from decimal import Decimal
from typing import Any, Final

from ibapi.const import NO_VALID_ID, UNSET_DOUBLE, UNSET_INTEGER
from ibapi.protobuf.MarketDepth_pb2 import MarketDepth as MarketDepthProto
from ibapi.protobuf.MarketDepthL2_pb2 import MarketDepthL2 as MarketDepthL2Proto
from ibapi.protobuf.TickByTickData_pb2 import TickByTickData as TickByTickProto
from ibapi.server_versions import MIN_SERVER_VER_SMART_DEPTH

from publisher.core.normalise import Size
from publisher.gateway.adapter import TickSink
from publisher.gateway.fastsize import classic_size, size_value

TBT_ID: Final = 99
DEPTH_ID: Final = 12
DEPTH_L2_ID: Final = 13
PROTOBUF_OFFSET: Final = 200
"""A protobuf message's id is its text id + 200 (``EClient.run``)."""
TBT_LAST: Final = 1
TBT_ALL_LAST: Final = 2
TBT_BID_ASK: Final = 3
TBT_MIDPOINT: Final = 4
_LAST_FIELDS: Final = 9  # reqId, type, time, price, size, mask, exchange, conditions, tail
_BID_ASK_FIELDS: Final = 9  # reqId, type, time, bid, ask, bid size, ask size, mask, tail
_MIDPOINT_FIELDS: Final = 5  # reqId, type, time, mid, tail
_DEPTH_FIELDS: Final = 8  # version, reqId, position, operation, side, price, size, tail


def _str(field: bytes) -> str:
    """ibapi's ``decode(str, ...)`` of a bytes field."""
    return field.decode("UTF-8", errors="backslashreplace")


def _proto_size(text: str, present: Callable[[str], bool], name: str) -> Size:
    """ibapi's ``Decimal(field) if HasField(field) else UNSET_DECIMAL``, as a float or None."""
    return size_value(text) if text or present(name) else None


def _ignore(*args: Any) -> None:
    """A sink method the connection's sink lacks: its frames are declined, never handed here."""


class KindsFastPath:
    """Decoders for tickByTick and depth frames; each method says whether it handled the frame.

    ``TickFastPath`` routes to these by message id. A sink without the issue-13 methods (an older
    tick path) gets no fast path for these messages: :attr:`enabled` is False and ibapi decodes.
    """

    __slots__ = (
        "_depth",
        "_smart_field",
        "_tbt_bid_ask",
        "_tbt_last",
        "_tbt_mid",
        "enabled",
    )

    def __init__(self, sink: TickSink, server_version: int) -> None:
        names = ("on_tbt_last", "on_tbt_bid_ask", "on_tbt_midpoint", "on_depth")
        self.enabled = all(callable(getattr(sink, name, None)) for name in names)
        self._tbt_last = getattr(sink, "on_tbt_last", _ignore)
        self._tbt_bid_ask = getattr(sink, "on_tbt_bid_ask", _ignore)
        self._tbt_mid = getattr(sink, "on_tbt_midpoint", _ignore)
        self._depth = getattr(sink, "on_depth", _ignore)
        self._smart_field = server_version >= MIN_SERVER_VER_SMART_DEPTH

    def text_decoders(
        self, head: Callable[[int], bytes]
    ) -> dict[bytes, Callable[[list[bytes]], bool]]:
        """Frame head (the message id as ``head`` spells it) -> decoder of the text fields after
        it; empty if the sink lacks the methods."""
        if not self.enabled:
            return {}
        return {
            head(TBT_ID): self.text_tbt,
            head(DEPTH_ID): self.text_depth,
            head(DEPTH_L2_ID): self.text_depth_l2,
        }

    def proto_decoders(self) -> dict[bytes, Callable[[bytes], bool]]:
        """Frame head (id + 200 as 4 bytes) -> decoder of the protobuf body after it."""
        if not self.enabled:
            return {}
        return {
            binary_head(TBT_ID + PROTOBUF_OFFSET): self.proto_tbt,
            binary_head(DEPTH_ID + PROTOBUF_OFFSET): self.proto_depth,
            binary_head(DEPTH_L2_ID + PROTOBUF_OFFSET): self.proto_depth_l2,
        }

    # -- text ---------------------------------------------------------------------------------

    def text_tbt(self, fields: list[bytes]) -> bool:
        """processTickByTickMsg; a type other than 1-4 (ibapi calls nothing) is declined."""
        count = len(fields)
        if count < _MIDPOINT_FIELDS or fields[-1]:
            return False
        try:
            req_id = int(fields[0] or 0)
            tick_type = int(fields[1] or 0)
            time = int(fields[2] or 0)
            if tick_type in (TBT_LAST, TBT_ALL_LAST):
                if count != _LAST_FIELDS:
                    return False
                price = float(fields[3] or 0)
                size = classic_size(fields[4])
                mask = int(fields[5] or 0)
                exchange = _str(fields[6])
                conditions = _str(fields[7])
            elif tick_type == TBT_BID_ASK:
                if count != _BID_ASK_FIELDS:
                    return False
                bid = float(fields[3] or 0)
                ask = float(fields[4] or 0)
                bid_size = classic_size(fields[5])
                ask_size = classic_size(fields[6])
                mask = int(fields[7] or 0)
            elif tick_type == TBT_MIDPOINT and count == _MIDPOINT_FIELDS:
                mid = float(fields[3] or 0)
            else:
                return False
        except Exception:  # let ibapi meet (and report) whatever does not convert
            return False
        # The sink is called outside the try: an error there is not ibapi's to decode again.
        if tick_type == TBT_MIDPOINT:
            self._tbt_mid(req_id, time, mid)
        elif tick_type == TBT_BID_ASK:
            self._tbt_bid_ask(
                req_id, time, bid, ask, bid_size, ask_size, mask & 1 != 0, mask & 2 != 0
            )
        else:
            self._tbt_last(
                req_id,
                tick_type,
                time,
                price,
                size,
                mask & 1 != 0,
                mask & 2 != 0,
                exchange,
                conditions,
            )
        return True

    def text_depth(self, fields: list[bytes]) -> bool:
        """processMarketDepthMsg -> updateMktDepth."""
        if len(fields) != _DEPTH_FIELDS or fields[7]:
            return False
        try:
            int(fields[0] or 0)  # the message version: ibapi parses it, so it must parse
            req_id = int(fields[1] or 0)
            position = int(fields[2] or 0)
            operation = int(fields[3] or 0)
            side = int(fields[4] or 0)
            price = float(fields[5] or 0)
            size = classic_size(fields[6])
        except Exception:
            return False
        self._depth(req_id, position, None, operation, side, price, size, False)
        return True

    def text_depth_l2(self, fields: list[bytes]) -> bool:
        """processMarketDepthL2Msg -> updateMktDepthL2 (the smart flag from server 146)."""
        smart = self._smart_field
        if len(fields) != _DEPTH_FIELDS + 1 + smart or fields[-1]:
            return False
        try:
            int(fields[0] or 0)
            req_id = int(fields[1] or 0)
            position = int(fields[2] or 0)
            market_maker = _str(fields[3])
            operation = int(fields[4] or 0)
            side = int(fields[5] or 0)
            price = float(fields[6] or 0)
            size = classic_size(fields[7])
            is_smart = int(fields[8] or 0) != 0 if smart else False
        except Exception:
            return False
        self._depth(req_id, position, market_maker, operation, side, price, size, is_smart)
        return True

    # -- protobuf -----------------------------------------------------------------------------

    def proto_tbt(self, body: bytes) -> bool:
        """processTickByTickMsgProtoBuf; ibapi's defaults for absent fields (module docstring)."""
        try:
            proto = TickByTickProto.FromString(body)
            req_id = proto.reqId
            if not req_id and not proto.HasField("reqId"):
                req_id = NO_VALID_ID
            tick_type = proto.tickType  # absent: 0, which ibapi takes too
            which = proto.WhichOneof("tick")
            if tick_type in (TBT_LAST, TBT_ALL_LAST):
                if which != "historicalTickLast":
                    return True  # ibapi calls nothing
                last = proto.historicalTickLast
                size = _proto_size(last.size, last.HasField, "size")
            elif tick_type == TBT_BID_ASK:
                if which != "historicalTickBidAsk":
                    return True
                quote = proto.historicalTickBidAsk
                bid_size = _proto_size(quote.sizeBid, quote.HasField, "sizeBid")
                ask_size = _proto_size(quote.sizeAsk, quote.HasField, "sizeAsk")
            elif tick_type != TBT_MIDPOINT or which != "historicalTickMidPoint":
                return True
            else:
                mid = proto.historicalTickMidPoint
                text = mid.size  # ibapi makes a Decimal of it (and drops it): it must convert
                if text or mid.HasField("size"):
                    Decimal(text)
        except Exception:
            return False
        if tick_type == TBT_MIDPOINT:
            self._tbt_mid(req_id, mid.time, mid.price)
        elif tick_type == TBT_BID_ASK:
            flags = quote.tickAttribBidAsk
            self._tbt_bid_ask(
                req_id,
                quote.time,
                quote.priceBid,
                quote.priceAsk,
                bid_size,
                ask_size,
                flags.bidPastLow,
                flags.askPastHigh,
            )
        else:
            attrib = last.tickAttribLast
            self._tbt_last(
                req_id,
                tick_type,
                last.time,
                last.price,
                size,
                attrib.pastLimit,
                attrib.unreported,
                last.exchange,
                last.specialConditions,
            )
        return True

    def proto_depth(self, body: bytes) -> bool:
        """processMarketDepthMsgProtoBuf -> updateMktDepth."""
        try:
            proto = MarketDepthProto.FromString(body)
            if not proto.HasField("marketDepthData"):
                return True  # ibapi calls nothing
            req_id = proto.reqId
            if not req_id and not proto.HasField("reqId"):
                req_id = NO_VALID_ID
            data = proto.marketDepthData
            has = data.HasField
            position = data.position
            if not position and not has("position"):
                position = UNSET_INTEGER
            operation = data.operation
            if not operation and not has("operation"):
                operation = UNSET_INTEGER
            side = data.side
            if not side and not has("side"):
                side = UNSET_INTEGER
            price = data.price
            if not price and not has("price"):
                price = UNSET_DOUBLE
            size = _proto_size(data.size, has, "size")
        except Exception:
            return False
        self._depth(req_id, position, None, operation, side, price, size, False)
        return True

    def proto_depth_l2(self, body: bytes) -> bool:
        """processMarketDepthL2MsgProtoBuf -> updateMktDepthL2 (absent position: 0)."""
        try:
            proto = MarketDepthL2Proto.FromString(body)
            if not proto.HasField("marketDepthData"):
                return True
            req_id = proto.reqId
            if not req_id and not proto.HasField("reqId"):
                req_id = NO_VALID_ID
            data = proto.marketDepthData
            has = data.HasField
            operation = data.operation
            if not operation and not has("operation"):
                operation = UNSET_INTEGER
            side = data.side
            if not side and not has("side"):
                side = UNSET_INTEGER
            price = data.price
            if not price and not has("price"):
                price = UNSET_DOUBLE
            size = _proto_size(data.size, has, "size")
            market_maker = data.marketMaker  # absent: "", as ibapi's default
            position = data.position  # absent: 0, as ibapi's default here
            is_smart = data.isSmartDepth
        except Exception:
            return False
        self._depth(req_id, position, market_maker, operation, side, price, size, is_smart)
        return True


def text_head(msg_id: int) -> bytes:
    """A classic frame's head: the message id as a NUL-terminated text field."""
    return b"%d\0" % msg_id


def binary_head(msg_id: int) -> bytes:
    """A frame head from server version 201: the message id as 4 bytes."""
    return msg_id.to_bytes(4, "big")

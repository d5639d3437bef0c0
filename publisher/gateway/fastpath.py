"""A dedicated decoder for the two hottest gateway messages: tickPrice and tickSize.

It also routes tickByTick and market depth frames to :mod:`publisher.gateway.fastpath_kinds`.

ibapi stays the decoder of record. This module handles only the usual layouts of these two
messages (classic text, raw-id text, protobuf) and hands the tick sink exactly the values
ibapi's ``Decoder`` followed by our :class:`~publisher.gateway.adapter.Adapter` would hand it.
Anything else, including any frame whose fields do not convert, is declined (``False``) and the
caller gives it to ibapi unchanged, so odd input meets ibapi's own behaviour. What it skips is
ibapi's per-frame overhead: a field iterator with a ``logger.debug`` call per field, the handler
table, a ``TickAttrib`` object per price, and the no-op ``tick*ProtoBuf`` callbacks.

Every value is converted with the very expression ibapi uses (``int(s or 0)``,
``float(s or 0)``), except sizes: ibapi makes a ``Decimal`` that the tick path turns into a
float (:func:`publisher.core.normalise.normal_size`), and here the float comes straight from the
text, with ibapi's "unset" spellings giving None (see :mod:`publisher.gateway.fastsize`).
``tests/gateway/test_fastpath.py`` checks the equivalence on generated frames with
Hypothesis, comparing sizes as the tick path publishes them.
"""

from collections.abc import Callable
from typing import Final

from ibapi.const import NO_VALID_ID, UNSET_DOUBLE, UNSET_INTEGER
from ibapi.protobuf.TickPrice_pb2 import TickPrice as TickPriceProto
from ibapi.protobuf.TickSize_pb2 import TickSize as TickSizeProto
from ibapi.server_versions import MIN_SERVER_VER_PRE_OPEN_BID_ASK, MIN_SERVER_VER_PROTOBUF
from ibapi.ticktype import TickTypeEnum

from publisher.gateway.adapter import TickSink
from publisher.gateway.fastpath_kinds import KindsFastPath, binary_head, text_head
from publisher.gateway.fastsize import classic_size, size_value

SIZE_TICK_OF: Final[dict[int, int]] = {
    TickTypeEnum.BID: TickTypeEnum.BID_SIZE,
    TickTypeEnum.ASK: TickTypeEnum.ASK_SIZE,
    TickTypeEnum.LAST: TickTypeEnum.LAST_SIZE,
    TickTypeEnum.DELAYED_BID: TickTypeEnum.DELAYED_BID_SIZE,
    TickTypeEnum.DELAYED_ASK: TickTypeEnum.DELAYED_ASK_SIZE,
    TickTypeEnum.DELAYED_LAST: TickTypeEnum.DELAYED_LAST_SIZE,
}
"""ibapi raises a tickSize of this type after a tickPrice of the key type (processTickPriceMsg)."""
NOT_SET: Final[int] = TickTypeEnum.NOT_SET
_CLASSIC_PRICE: Final = b"1\0"
_CLASSIC_SIZE: Final = b"2\0"
_RAW_PRICE: Final = (1).to_bytes(4, "big")
_RAW_SIZE: Final = (2).to_bytes(4, "big")
_PROTO_PRICE: Final = (201).to_bytes(4, "big")
_PROTO_SIZE: Final = (202).to_bytes(4, "big")
_PRICE_FIELDS: Final = 7  # version, reqId, tickType, price, size, attrMask, and the empty tail
_SIZE_FIELDS: Final = 5  # version, reqId, tickType, size, and the empty tail
_MASK: Final = 7  # canAutoExecute 1, pastLimit 2, preOpen 4: Adapter.tickPrice's mask


def _decline(payload: bytes) -> bool:
    return False


class TickFastPath:
    """Decodes tickPrice/tickSize frames straight into a tick sink; ``decode`` says if it did.

    Build one per connection once the server version is known. Below server version 132 ibapi
    reads the attribute mask differently, so older servers get no fast path at all.
    """

    __slots__ = ("_on_price", "_on_size", "_proto_more", "_raw_more", "_text_more", "decode")

    def __init__(self, sink: TickSink, server_version: int) -> None:
        self._on_price = sink.on_price
        self._on_size = sink.on_size
        kinds = KindsFastPath(sink, server_version)  # tickByTick and depth, by frame head
        self._text_more = kinds.text_decoders(text_head)
        self._raw_more = kinds.text_decoders(binary_head)
        self._proto_more = kinds.proto_decoders()
        self.decode: Callable[[bytes], bool]
        if server_version < MIN_SERVER_VER_PRE_OPEN_BID_ASK:
            self.decode = _decline
        elif server_version < MIN_SERVER_VER_PROTOBUF:
            self.decode = self._classic
        else:
            self.decode = self._binary_id

    def _classic(self, payload: bytes) -> bool:
        head = payload[:2]
        if head == _CLASSIC_PRICE:
            return self._text_price(payload.split(b"\0")[1:])
        if head == _CLASSIC_SIZE:
            return self._text_size(payload.split(b"\0")[1:])
        more = self._text_more.get(payload[:3])  # "99\0", "12\0", "13\0"
        if more is not None:
            return more(payload[3:].split(b"\0"))
        return False

    def _binary_id(self, payload: bytes) -> bool:
        head = payload[:4]
        if head == _PROTO_PRICE:
            return self._proto_price(payload[4:])
        if head == _PROTO_SIZE:
            return self._proto_size(payload[4:])
        if head == _RAW_PRICE:
            return self._text_price(payload[4:].split(b"\0"))
        if head == _RAW_SIZE:
            return self._text_size(payload[4:].split(b"\0"))
        proto = self._proto_more.get(head)
        if proto is not None:
            return proto(payload[4:])
        more = self._raw_more.get(head)
        if more is not None:
            return more(payload[4:].split(b"\0"))
        return False

    def _text_price(self, fields: list[bytes]) -> bool:
        if len(fields) != _PRICE_FIELDS or fields[6]:
            return False
        try:
            int(fields[0] or 0)  # the message version: ibapi parses it, so it must parse
            req_id = int(fields[1] or 0)
            tick_type = int(fields[2] or 0)
            price = float(fields[3] or 0)  # also "Infinity", as ibapi's special case gives
            size = classic_size(fields[4])
            mask = int(fields[5] or 0) & _MASK
        except Exception:  # let ibapi meet (and report) whatever does not convert
            return False
        self._on_price(req_id, tick_type, price, mask)
        size_type = SIZE_TICK_OF.get(tick_type)
        if size_type is not None:
            self._on_size(req_id, size_type, size)
        return True

    def _text_size(self, fields: list[bytes]) -> bool:
        if len(fields) != _SIZE_FIELDS or fields[4]:
            return False
        try:
            int(fields[0] or 0)
            req_id = int(fields[1] or 0)
            tick_type = int(fields[2] or 0)
            size = classic_size(fields[3])
        except Exception:
            return False
        if tick_type != NOT_SET:
            self._on_size(req_id, tick_type, size)
        return True

    def _proto_price(self, body: bytes) -> bool:
        # An absent field reads as its default (0, 0.0, ""), so a value other than the default
        # proves the field present: HasField (0.2 us a call) is asked only about defaults.
        try:
            proto = TickPriceProto.FromString(body)
            has = proto.HasField
            req_id = proto.reqId
            if not req_id and not has("reqId"):
                req_id = NO_VALID_ID
            tick_type = proto.tickType
            if not tick_type and not has("tickType"):
                tick_type = UNSET_INTEGER
            price = proto.price
            if not price and not has("price"):
                price = UNSET_DOUBLE
            text = proto.size
            size = size_value(text) if text or has("size") else None
            mask = proto.attrMask
            if not mask and not has("attrMask"):
                mask = UNSET_INTEGER
            mask &= _MASK
        except Exception:
            return False
        self._on_price(req_id, tick_type, price, mask)
        size_type = SIZE_TICK_OF.get(tick_type)
        if size_type is not None:
            self._on_size(req_id, size_type, size)
        return True

    def _proto_size(self, body: bytes) -> bool:
        try:
            proto = TickSizeProto.FromString(body)
            has = proto.HasField
            req_id = proto.reqId
            if not req_id and not has("reqId"):
                req_id = NO_VALID_ID
            tick_type = proto.tickType
            if not tick_type and not has("tickType"):
                tick_type = UNSET_INTEGER
            text = proto.size
            size = size_value(text) if text or has("size") else None
        except Exception:
            return False
        if tick_type != NOT_SET:
            self._on_size(req_id, tick_type, size)
        return True

"""The tickByTick and depth fast path against ibapi's own decoder, frame for frame (Hypothesis).

As in ``test_fastpath.py``: the reference is ibapi's ``Decoder`` (text fields split as
``GatewayClient`` splits them, or ``processProtoBuf``) feeding an adapter that converts ibapi's
callbacks as the issue-13 interfaces say (``updateMktDepth`` -> ``on_depth(..., None, ...,
False)``, attribute objects -> booleans). That is our ``Adapter`` once it has the callbacks, and
until then :class:`ReferenceAdapter` below. For every generated frame the fast path must decline
it or make exactly the same sink calls, compared by ``repr`` (sizes as the tick path publishes
them, ``normal_size``). Protobuf frames that ibapi decodes without an error must be handled.
"""

import socket
import struct
from decimal import Decimal
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st
from ibapi.decoder import Decoder
from ibapi.protobuf.MarketDepth_pb2 import MarketDepth as MarketDepthProto
from ibapi.protobuf.MarketDepthL2_pb2 import MarketDepthL2 as MarketDepthL2Proto
from ibapi.protobuf.TickByTickData_pb2 import TickByTickData as TickByTickProto

from publisher.core.normalise import Size, normal_size
from publisher.gateway.adapter import Adapter
from publisher.gateway.client import GatewayClient, Phase
from publisher.gateway.fastpath import TickFastPath
from publisher.gateway.framing import split_message
from publisher.sim.catalogue import Catalogue
from publisher.sim.kinds.book import SimBook
from publisher.sim.kinds.tbt import TbtStream
from publisher.sim.market import Market
from publisher.sim.protocol import Encoder
from publisher.sim.protocol.data_encoding import depth_frame, tbt_frame
from publisher.sim.protocol.data_events import TBT_TYPES as SIM_TBT_TYPES
from tests.gateway.test_fastpath import INTS, PRICES, SIZES, NoEvents
from tests.gateway.test_fastpath import Recorder as TickRecorder
from tests.support.waiting import wait_for

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


# -- text frames -------------------------------------------------------------------------------


def mostly(
    usual: st.SearchStrategy[bytes], odd: st.SearchStrategy[bytes]
) -> st.SearchStrategy[bytes]:
    """Usual values three times in four, so that most frames are ones the fast path takes."""
    return st.one_of(usual, usual, usual, odd)


BYTES_INTS = mostly(st.integers(-(2**31), 2**31).map(lambda i: b"%d" % i), INTS.map(str.encode))
BYTES_PRICES = mostly(
    st.floats(allow_nan=True, allow_infinity=True).map(lambda f: repr(f).encode()),
    PRICES.map(str.encode),
)
BYTES_SIZES = mostly(st.integers(0, 10**6).map(lambda i: b"%d" % i), SIZES.map(str.encode))
MASKS = mostly(
    st.integers(0, 3).map(lambda i: b"%d" % i),
    st.one_of(st.integers(-8, 8).map(str), st.sampled_from(["", "2147483647", "x", "-1"])).map(
        str.encode
    ),
)
STRINGS = st.one_of(
    st.sampled_from([b"", b"NSDQ", b"ISLAND", b"ARCA", b"@ 1 T", b"SMART"]),
    st.sampled_from([b"\xff", b"caf\xc3", b"\xe9t\xe9", b"\\x41", "\u00e9".encode()]),
    st.text(max_size=6).map(lambda s: s.encode("utf-8", "surrogatepass")),
    st.binary(max_size=6),  # mostly not UTF-8: ibapi's backslashreplace
)
ENDINGS = st.sampled_from(["normal"] * 6 + ["no trailing NUL", "extra field", "one short"])


def text_frame(msg_id: int, fields: list[bytes], ending: str, version: int) -> bytes:
    if ending == "one short":
        fields = fields[:-1]
    body = b"".join(f + b"\0" for f in fields)
    if ending == "no trailing NUL":
        body = body[:-1]
    elif ending == "extra field":
        body += b"extra\0"
    if version >= 201:
        return struct.pack(">I", msg_id) + body
    return b"%d\0" % msg_id + body


TBT_TYPES = mostly(
    st.sampled_from([b"1", b"2", b"3", b"4"]),
    st.one_of(
        st.sampled_from(["0", "5", "-1", "", "x", " 1", "01"]), st.integers(-3, 9).map(str)
    ).map(str.encode),
)
TBT_TAILS = {
    "last": st.tuples(BYTES_PRICES, BYTES_SIZES, MASKS, STRINGS, STRINGS),
    "bid_ask": st.tuples(BYTES_PRICES, BYTES_PRICES, BYTES_SIZES, BYTES_SIZES, MASKS),
    "midpoint": st.tuples(BYTES_PRICES),
}
TAIL_OF_TYPE = {b"1": "last", b"2": "last", b"3": "bid_ask", b"4": "midpoint"}


@st.composite
def tbt_fields(draw: st.DrawFn) -> list[bytes]:
    """reqId, type, time and the fields of that type (sometimes another type's)."""
    tick_type = draw(TBT_TYPES)
    kind = TAIL_OF_TYPE.get(tick_type, "last")
    if draw(st.integers(0, 5)) == 0:
        kind = draw(st.sampled_from(sorted(TBT_TAILS)))
    return [draw(BYTES_INTS), tick_type, draw(BYTES_INTS), *draw(TBT_TAILS[kind])]


@settings(max_examples=600, deadline=None)
@given(version=TEXT_VERSIONS, fields=tbt_fields(), ending=ENDINGS)
@example(
    version=CLASSIC,
    fields=[b"7", b"1", b"1767268800", b"288.91", b"100", b"2", b"NASDAQ", b""],
    ending="normal",
)
@example(
    version=RAW_IDS,
    fields=[b"7", b"3", b"1767268800", b"288.9", b"289.01", b"", b"2147483647", b"3"],
    ending="normal",
)
@example(version=CLASSIC, fields=[b"7", b"4", b"1", b"-0.0"], ending="normal")
@example(version=CLASSIC, fields=[b"7", b"2", b"1", b"1", b"x", b"0", b"", b""], ending="normal")
def test_text_tick_by_tick_decodes_as_ibapi_does(
    version: int, fields: list[bytes], ending: str
) -> None:
    """A text tickByTick (any type, with its own or another type's fields) gives ibapi's
    call, or is left to ibapi."""
    assert_equivalent(text_frame(99, fields, ending, version), version)


DEPTH_VERSIONS = mostly(st.just(b"1"), st.sampled_from([b"", b"x", b"7"]))
POSITIONS = mostly(st.integers(0, 12).map(lambda i: b"%d" % i), BYTES_INTS)
OPERATIONS = mostly(st.sampled_from([b"0", b"1", b"2"]), st.sampled_from([b"3", b"", b"x", b"-1"]))
SIDES = mostly(st.sampled_from([b"0", b"1"]), st.sampled_from([b"2", b"", b"x"]))
SMART = mostly(st.sampled_from([b"0", b"1"]), st.sampled_from([b"", b"2", b"-1", b"x", b"true"]))


@settings(max_examples=400, deadline=None)
@given(
    version=TEXT_VERSIONS,
    fields=st.tuples(
        DEPTH_VERSIONS, BYTES_INTS, POSITIONS, OPERATIONS, SIDES, BYTES_PRICES, BYTES_SIZES
    ),
    ending=ENDINGS,
)
@example(version=CLASSIC, fields=(b"1", b"5", b"0", b"0", b"1", b"288.9", b"300"), ending="normal")
@example(version=RAW_IDS, fields=(b"1", b"5", b"9", b"2", b"0", b"-1", b""), ending="normal")
def test_text_depth_decodes_as_ibapi_does(
    version: int, fields: tuple[bytes, ...], ending: str
) -> None:
    """A text updateMktDepth gives ibapi's updateMktDepth as on_depth(no market maker, not
    smart), or is left to ibapi."""
    assert_equivalent(text_frame(12, list(fields), ending, version), version)


@settings(max_examples=400, deadline=None)
@given(
    version=TEXT_VERSIONS,
    fields=st.tuples(
        DEPTH_VERSIONS,
        BYTES_INTS,
        POSITIONS,
        STRINGS,
        OPERATIONS,
        SIDES,
        BYTES_PRICES,
        BYTES_SIZES,
        SMART,
    ),
    ending=ENDINGS,
)
@example(
    version=CLASSIC,
    fields=(b"1", b"5", b"0", b"NSDQ", b"0", b"1", b"288.9", b"300", b"1"),
    ending="normal",
)
@example(
    version=BEFORE_SMART,
    fields=(b"1", b"5", b"0", b"\xe9", b"1", b"0", b"288.9", b"300", b"1"),
    ending="one short",
)
def test_text_depth_l2_decodes_as_ibapi_does(
    version: int, fields: tuple[bytes, ...], ending: str
) -> None:
    """A text updateMktDepthL2 (with the smart flag from server version 146) gives ibapi's call,
    or is left to ibapi."""
    assert_equivalent(text_frame(13, list(fields), ending, version), version)


# -- protobuf frames ---------------------------------------------------------------------------

PROTO_PRICES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, -1.0, 1.7976931348623157e308, 288.91]),
)
PROTO_TEXT = st.one_of(
    st.sampled_from(["", "NSDQ", "ISLAND", "@ 1 T"]),
    st.text(st.characters(exclude_categories=["Cs"]), max_size=6),
)
PROTO_TIMES = st.one_of(st.integers(-(2**63), 2**63 - 1), st.sampled_from([0, 1767268800]))
PROTO_INT32 = st.one_of(st.integers(-(2**31), 2**31 - 1), st.sampled_from([0, 1, 2, -1]))


def optional(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional=fields)


LAST_ATTRIB = optional(pastLimit=st.booleans(), unreported=st.booleans())
BID_ASK_ATTRIB = optional(bidPastLow=st.booleans(), askPastHigh=st.booleans())
TICKS = {
    "historicalTickLast": optional(
        time=PROTO_TIMES,
        tickAttribLast=LAST_ATTRIB,
        price=PROTO_PRICES,
        size=SIZES,
        exchange=PROTO_TEXT,
        specialConditions=PROTO_TEXT,
    ),
    "historicalTickBidAsk": optional(
        time=PROTO_TIMES,
        tickAttribBidAsk=BID_ASK_ATTRIB,
        priceBid=PROTO_PRICES,
        priceAsk=PROTO_PRICES,
        sizeBid=SIZES,
        sizeAsk=SIZES,
    ),
    "historicalTickMidPoint": optional(time=PROTO_TIMES, price=PROTO_PRICES, size=SIZES),
}


@st.composite
def tick_by_tick(draw: st.DrawFn) -> dict[str, Any]:
    fields = draw(
        optional(
            reqId=PROTO_INT32,
            tickType=st.one_of(st.sampled_from([0, 1, 2, 3, 4]), st.integers(-3, 9)),
        )
    )
    which = draw(st.sampled_from([None, *sorted(TICKS)]))
    if which is not None:
        fields[which] = draw(TICKS[which])
    return fields


@settings(max_examples=600, deadline=None)
@given(fields=tick_by_tick())
@example(fields={})
@example(fields={"reqId": 7, "tickType": 1, "historicalTickLast": {}})
@example(fields={"reqId": 7, "tickType": 3, "historicalTickLast": {"price": 1.0}})
@example(fields={"reqId": 0, "tickType": 4, "historicalTickMidPoint": {"price": -0.0}})
@example(fields={"tickType": 3, "historicalTickBidAsk": {"sizeBid": "", "priceBid": 1.0}})
def test_protobuf_tick_by_tick_decodes_as_ibapi_does(fields: dict[str, Any]) -> None:
    """A protobuf TickByTickData, any field absent and any tick for any type, gives ibapi's
    call (or none where ibapi makes none)."""
    body = TickByTickProto(**fields).SerializeToString()
    assert_equivalent(struct.pack(">I", 299) + body, PROTOBUF, must_handle_valid=True)


DEPTH_DATA = optional(
    position=st.one_of(st.integers(-2, 12), PROTO_INT32),
    operation=st.one_of(st.sampled_from([0, 1, 2]), PROTO_INT32),
    side=st.one_of(st.sampled_from([0, 1]), PROTO_INT32),
    price=PROTO_PRICES,
    size=SIZES,
    marketMaker=PROTO_TEXT,
    isSmartDepth=st.booleans(),
)
DEPTH = optional(reqId=PROTO_INT32, marketDepthData=DEPTH_DATA)


@settings(max_examples=500, deadline=None)
@given(fields=DEPTH, l2=st.booleans())
@example(fields={}, l2=False)
@example(fields={"reqId": 5, "marketDepthData": {}}, l2=False)
@example(fields={"reqId": 5, "marketDepthData": {}}, l2=True)
@example(
    fields={
        "reqId": 5,
        "marketDepthData": {"position": 0, "operation": 0, "side": 0, "price": 0.0, "size": "0"},
    },
    l2=True,
)
def test_protobuf_depth_decodes_as_ibapi_does(fields: dict[str, Any], l2: bool) -> None:
    """A protobuf MarketDepth or MarketDepthL2, any field absent, gives ibapi's call (absent
    position UNSET_INTEGER for one and 0 for the other, as ibapi has it)."""
    proto = MarketDepthL2Proto if l2 else MarketDepthProto
    body = proto(**fields).SerializeToString()
    msg_id = 213 if l2 else 212
    assert_equivalent(struct.pack(">I", msg_id) + body, PROTOBUF, must_handle_valid=True)


@settings(deadline=None)
@given(body=st.binary(max_size=64), msg_id=st.sampled_from([299, 212, 213, 99, 12, 13]))
def test_arbitrary_binary_frames_are_declined_or_decoded_alike(body: bytes, msg_id: int) -> None:
    """Garbage behind a tickByTick or depth id is declined, or decoded exactly as ibapi does."""
    assert_equivalent(struct.pack(">I", msg_id) + body, PROTOBUF)


def usual_frames() -> list[tuple[bytes, int]]:
    """(payload, server version) of frames as a gateway usually sends them, every layout."""
    frames = [
        (b"99\x007\x001\x001767268800\x00288.91\x00100\x000\x00NASDAQ\x00\x00", CLASSIC),
        (b"99\x007\x003\x001767268800\x00288.9\x00289\x00300\x00200\x000\x00", CLASSIC),
        (b"99\x007\x004\x001767268800\x00288.95\x00", CLASSIC),
        (b"12\x001\x005\x000\x000\x001\x00288.9\x00300\x00", CLASSIC),
        (b"13\x001\x005\x000\x00NSDQ\x000\x001\x00288.9\x00300\x001\x00", CLASSIC),
        (b"13\x001\x005\x000\x00NSDQ\x000\x001\x00288.9\x00300\x00", BEFORE_SMART),
        (struct.pack(">I", 12) + b"1\x005\x000\x000\x001\x00288.9\x00300\x00", RAW_IDS),
    ]
    last = {"time": 1, "price": 288.91, "size": "100", "exchange": "NASDAQ"}
    quote = {"time": 1, "priceBid": 288.9, "priceAsk": 289.0, "sizeBid": "3", "sizeAsk": "2"}
    depth = {"position": 0, "operation": 0, "side": 1, "price": 288.9, "size": "300"}
    protos = [
        (299, TickByTickProto(reqId=7, tickType=2, historicalTickLast=last)),
        (299, TickByTickProto(reqId=7, tickType=3, historicalTickBidAsk=quote)),
        (299, TickByTickProto(reqId=7, tickType=4, historicalTickMidPoint={"price": 288.95})),
        (212, MarketDepthProto(reqId=5, marketDepthData=depth)),
        (213, MarketDepthL2Proto(reqId=5, marketDepthData={**depth, "marketMaker": "NSDQ"})),
    ]
    for msg_id, proto in protos:
        frames.append((struct.pack(">I", msg_id) + proto.SerializeToString(), PROTOBUF))
    return frames


def test_usual_frames_take_the_fast_path() -> None:
    """The frames a gateway usually sends are handled, in every layout, not left to ibapi."""
    for payload, version in usual_frames():
        assert assert_equivalent(payload, version), payload
        assert via_fast(payload, version)[1], payload  # and it made a call


class FlushingRecorder(Recorder):
    def flush(self) -> None: ...


class RefusingAdapter(Adapter):
    """An Adapter whose tickByTick and depth callbacks fail: ibapi must not decode them."""

    def _refuse(self, *args: Any) -> None:
        raise AssertionError("ibapi decoded a frame the fast path should have")

    tickByTickAllLast = tickByTickBidAsk = tickByTickMidPoint = _refuse  # noqa: N815  # ibapi's names
    updateMktDepth = updateMktDepthL2 = _refuse  # noqa: N815  # ibapi's names


def read_through_client(payloads: list[bytes], version: int, sink: FlushingRecorder) -> None:
    """Send the frames over a socket pair to a GatewayClient and read until the sink has as
    many calls as ibapi makes of them."""
    expected = 0
    for payload in payloads:
        reference = via_ibapi(payload, version)
        assert isinstance(reference, list)
        expected += len(reference)
    ours, theirs = socket.socketpair()
    try:
        client = GatewayClient(RefusingAdapter(NoEvents(), sink), ticks=sink)
        ours.setblocking(False)
        client._sock = ours
        client.phase = Phase.OPEN
        client.serverVersion_ = version
        client.decoder = Decoder(client.wrapper, version)
        theirs.sendall(b"".join(struct.pack(">I", len(p)) + p for p in payloads))

        def all_read() -> bool:
            client.on_readable()
            return len(sink.calls) >= expected

        wait_for(all_read, f"{expected} calls at server version {version}", every=0)
    finally:
        ours.close()
        theirs.close()


def test_the_read_path_hands_these_frames_to_the_fast_path() -> None:
    """Over a real socket, GatewayClient decodes tickByTick and depth frames with the fast path:
    the sink gets ibapi's calls, and ibapi's callbacks for them (which fail here) never run."""
    by_version: dict[int, list[bytes]] = {}
    for payload, version in usual_frames():
        by_version.setdefault(version, []).append(payload)
    for version, payloads in by_version.items():
        sink = FlushingRecorder()
        read_through_client(payloads, version, sink)
        expected: list[Call] = []
        for payload in payloads:
            reference = via_ibapi(payload, version)
            assert isinstance(reference, list)
            expected += reference
        assert sink.calls == expected


def test_a_sink_without_the_new_methods_leaves_these_frames_to_ibapi() -> None:
    """An older tick sink (only on_price/on_size/...) gets these frames declined, not lost."""
    frame = b"12\x001\x005\x000\x000\x001\x00288.9\x00300\x00"
    assert TickFastPath(TickRecorder(), CLASSIC).decode(frame) is False


SIM_VERSIONS = [176, CLASSIC, RAW_IDS, 207, PROTOBUF]
"""176 and 225-226 as the captured gateways; 205 text behind binary ids; 207 depth in protobuf
and tick-by-tick still text."""


def simulated_frames(seed: int, version: int, steps: int) -> list[bytes]:
    """The simulated gateway's own tickByTick and depth frames (L1 and smart L2 books, every
    tick-by-tick type) over ``steps`` market steps, as it encodes them at ``version``."""
    market = Market(seed, clock=lambda: 1_767_268_800.0)
    (aapl,) = [i for i in Catalogue.builtin() if i.spec.local_symbol == "AAPL"]
    market.subscribe(1, aapl)
    walk = market.feed(aapl)
    encoder = Encoder(version)
    frames: list[bytes] = []
    SimBook(2, 10, walk, lambda c: frames.append(depth_frame(encoder, c)), seed=seed).start()
    SimBook(
        3, 5, walk, lambda c: frames.append(depth_frame(encoder, c)), is_smart=True, seed=seed
    ).start()
    for req_id, tick_type in enumerate(SIM_TBT_TYPES.values(), start=10):
        stream = TbtStream(
            req_id,
            tick_type,
            walk,
            lambda e: frames.append(tbt_frame(encoder, e)),
            clock=lambda: 1_767_268_800.0,
        )
        stream.start()
    for _ in range(steps):
        market.next_ticks(1)
    return frames


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 2**32), version=st.sampled_from(SIM_VERSIONS))
def test_the_simulated_gateways_frames_take_the_fast_path(seed: int, version: int) -> None:
    """Every tickByTick and depth frame the simulator sends is handled, with ibapi's calls."""
    frames = simulated_frames(seed, version, 80)
    assert len(frames) > 100
    for payload in frames:
        assert assert_equivalent(payload[4:], version), payload

"""The tickByTick and depth fast path against ibapi's own decoder, frame for frame (Hypothesis).

As in ``test_fastpath.py``, with the reference of :mod:`tests.gateway.kinds_reference`: for
every generated frame (edge values: unset sizes, NaN, +-0, infinities, empty or non-UTF-8
market makers and exchanges, odd attribute masks, missing and extra fields, absent protobuf
fields) the fast path must decline it or make exactly ibapi's calls. Protobuf frames that ibapi
decodes without an error must be handled.
"""

import struct
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st
from ibapi.protobuf.MarketDepth_pb2 import MarketDepth as MarketDepthProto
from ibapi.protobuf.MarketDepthL2_pb2 import MarketDepthL2 as MarketDepthL2Proto
from ibapi.protobuf.TickByTickData_pb2 import TickByTickData as TickByTickProto

from tests.gateway.kinds_reference import (
    BEFORE_SMART,
    CLASSIC,
    PROTOBUF,
    RAW_IDS,
    TEXT_VERSIONS,
    assert_equivalent,
)
from tests.gateway.test_fastpath import INTS, PRICES, SIZES

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
@example(fields={"tickType": 4, "historicalTickMidPoint": {"price": 0.0, "size": "x"}})
@example(fields={"tickType": 4, "historicalTickMidPoint": {"size": ""}})
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

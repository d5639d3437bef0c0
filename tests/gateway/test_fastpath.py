"""The tickPrice/tickSize fast path against ibapi's own decoder, frame for frame (Hypothesis).

The reference is what the publisher did before the fast path existed: ibapi's ``Decoder``
(text fields split as ``GatewayClient`` splits them, or ``processProtoBuf``) feeding our
``Adapter``, which hands the tick sink plain values. For every generated frame the fast path must
either decline it (then ibapi decodes it as before) or hand the sink exactly the same calls,
compared by ``repr`` so that 0.0 and -0.0 and NaN all count. Sizes are compared as the tick path
publishes them (``normal_size``): ibapi hands a ``Decimal``, the fast path the float it becomes.
"""

import struct
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st
from ibapi.decoder import Decoder
from ibapi.protobuf.TickPrice_pb2 import TickPrice as TickPriceProto
from ibapi.protobuf.TickSize_pb2 import TickSize as TickSizeProto

from publisher.core.normalise import Size, normal_size
from publisher.gateway.adapter import Adapter
from publisher.gateway.fastpath import TickFastPath
from publisher.gateway.framing import split_message
from publisher.sim.catalogue import Catalogue
from publisher.sim.market import Market
from publisher.sim.protocol import Encoder, PriceTick, SizeTick
from tests.support.sinks import KindsIgnored

CLASSIC = 200
RAW_IDS = 205  # text fields behind a 4-byte message id
PROTOBUF = 226
OLD = 120  # before MIN_SERVER_VER_PRE_OPEN_BID_ASK: the fast path stays out of the way

Call = tuple[str, str]


class Recorder(KindsIgnored):
    """A tick sink that records each call and its arguments' ``repr``."""

    def __init__(self) -> None:
        self.calls: list[Call] = []

    def on_price(self, req_id: int, tick_type: int, price: float, mask: int) -> None:
        self.calls.append(("price", repr((req_id, tick_type, price, mask))))

    def on_size(self, req_id: int, tick_type: int, size: Size) -> None:
        # As the tick path publishes it: ibapi hands a Decimal, the fast path a float or None.
        self.calls.append(("size", repr((req_id, tick_type, normal_size(size)))))

    def on_generic(self, req_id: int, tick_type: int, value: float) -> None:
        self.calls.append(("generic", repr((req_id, tick_type, value))))

    def on_string(self, req_id: int, tick_type: int, value: str) -> None:
        self.calls.append(("string", repr((req_id, tick_type, value))))


class NoEvents:
    """The service side of the Adapter; tick frames never reach it."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"a tick frame reached GatewayEvents.{name}")


def via_ibapi(payload: bytes, version: int) -> list[Call] | type[BaseException]:
    """What ibapi + Adapter hand the sink (GatewayClient._dispatch's reference path)."""
    sink = Recorder()
    decoder = Decoder(Adapter(NoEvents(), sink), version)
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
    """Whether the fast path handled the frame, and its calls (or what the sink raised, as a
    wrapper callback's error surfaces from ibapi's decoder too)."""
    sink = Recorder()
    try:
        handled = TickFastPath(sink, version).decode(payload)
    except Exception as exc:
        return True, type(exc)
    return handled, sink.calls


def assert_equivalent(payload: bytes, version: int, *, must_handle_valid: bool = False) -> bool:
    """The property; returns whether the fast path handled the frame. With
    ``must_handle_valid``, every frame ibapi decodes without an error must be handled too."""
    reference = via_ibapi(payload, version)
    handled, calls = via_fast(payload, version)
    if not handled:
        assert calls == [], "a declined frame must not reach the sink"
        assert not (must_handle_valid and isinstance(reference, list)), (payload, reference)
        return False
    assert reference == calls, payload
    return True


# -- field texts, including every spelling ibapi treats specially ------------------------------

INTS = st.one_of(
    st.integers(-(2**63), 2**63).map(str),
    st.sampled_from(["", "0", "-1", "2147483647", " 7", "+7", "0x10", "1_000", "1.5", "x"]),
)
TICK_TYPES = st.one_of(
    st.sampled_from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 14, 45, 49, 66, 67, 68, 69, 70, 71, 72]),
    st.sampled_from([73, 74, 75, 76, 88, 90, 111, -1, 2**31 - 1]),
    st.integers(-5, 300),
).map(str)
PRICES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(
        ["", "-1", "-1.0", "0", "Infinity", "-Infinity", "inf", "nan", "1e400", "abc"],
    ),
    st.sampled_from(
        ["1.7976931348623157E308", "1.7976931348623157e+308", "288.91", " 1.5", "1_0.5"],
    ),
)
SIZES = st.one_of(
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.integers(0, 10**30).map(str),
    st.sampled_from(
        ["", "0", "100", "0.0001", "2147483647", "9223372036854775807", "-9223372036854775808"],
    ),
    st.sampled_from(
        ["1.7976931348623157E308", "1e-20", "123456789012345678901234567890.5", "sNaN", "x"],
    ),
    st.sampled_from(["1_000", " 5", "Infinity", "-0", "0E-8", "+5", ".5", "5.", "1E+2"]),
    # IB's unset size (2**127 - 1) and texts around it: equal as Decimal, or only as float.
    st.sampled_from(
        [
            "170141183460469231731687303715884105727",
            "1.70141183460469231731687303715884105727E+38",
            "1.7014118346046923e38",
            "170141183460469231731687303715884105728",
        ]
    ),
    st.sampled_from(["nan123", "-nan", "1e999999", "-1e-999999", "\u0661\u0662", "1e", "--1"]),
)
MASKS = st.one_of(st.integers(-8, 8).map(str), st.sampled_from(["", "2147483647", "x", "-1"]))
VERSIONS = st.sampled_from(["6", "1", "", "x", "007"])
ENDINGS = st.sampled_from(["normal", "no trailing NUL", "extra field"])


def text_payload(msg_id: int, fields: list[str], ending: str, version: int) -> bytes:
    body = "".join(f + "\0" for f in fields)
    if ending == "no trailing NUL":
        body = body[:-1]
    elif ending == "extra field":
        body += "extra\0"
    raw = body.encode()
    if version >= 201:
        return struct.pack(">I", msg_id) + raw
    return b"%d\0" % msg_id + raw


@settings(max_examples=400, deadline=None)
@given(
    version=st.sampled_from([CLASSIC, RAW_IDS, OLD]),
    fields=st.tuples(VERSIONS, INTS, TICK_TYPES, PRICES, SIZES, MASKS),
    ending=ENDINGS,
)
@example(version=CLASSIC, fields=("6", "1017", "1", "288.91", "517", "0"), ending="normal")
@example(version=CLASSIC, fields=("6", "1", "66", "-1", "", "7"), ending="normal")
@example(version=CLASSIC, fields=("6", "1", "2", "Infinity", "2147483647", "3"), ending="normal")
def test_text_tick_price_decodes_as_ibapi_does(
    version: int, fields: tuple[str, ...], ending: str
) -> None:
    """A text tickPrice yields ibapi's tickPrice (and tickSize) calls, or is left to ibapi."""
    assert_equivalent(text_payload(1, list(fields), ending, version), version)


@settings(max_examples=300, deadline=None)
@given(
    version=st.sampled_from([CLASSIC, RAW_IDS, OLD]),
    fields=st.tuples(VERSIONS, INTS, TICK_TYPES, SIZES),
    ending=ENDINGS,
)
@example(version=RAW_IDS, fields=("6", "5", "111", "10"), ending="normal")
@example(version=CLASSIC, fields=("6", "5", "8", "0.25"), ending="normal")
def test_text_tick_size_decodes_as_ibapi_does(
    version: int, fields: tuple[str, ...], ending: str
) -> None:
    """A text tickSize yields ibapi's tickSize call (none for NOT_SET), or is left to ibapi."""
    assert_equivalent(text_payload(2, list(fields), ending, version), version)


PROTO_PRICE_FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "reqId": st.integers(-(2**31), 2**31 - 1),
        "tickType": st.one_of(st.sampled_from([1, 2, 4, 66, 67, 68, 111, 9]), st.integers(-9, 200)),
        "price": st.one_of(
            st.floats(allow_nan=True, allow_infinity=True),
            st.sampled_from([-1.0, 1.7976931348623157e308, 0.0, -0.0]),
        ),
        "size": SIZES,
        "attrMask": st.integers(-(2**31), 2**31 - 1),
    },
)


@settings(max_examples=400, deadline=None)
@given(fields=PROTO_PRICE_FIELDS)
@example(fields={})
@example(fields={"reqId": 3, "tickType": 1, "price": 10.5, "size": "100", "attrMask": 0})
@example(fields={"reqId": 3, "tickType": 67})
def test_protobuf_tick_price_decodes_as_ibapi_does(fields: dict[str, Any]) -> None:
    """A protobuf TickPrice, any field absent, yields ibapi's calls (absent ones as UNSET)."""
    body = TickPriceProto(**fields).SerializeToString()
    assert_equivalent(struct.pack(">I", 201) + body, PROTOBUF, must_handle_valid=True)


PROTO_SIZE_FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "reqId": st.integers(-(2**31), 2**31 - 1),
        "tickType": st.one_of(st.sampled_from([0, 3, 5, 8, 69, 111]), st.integers(-9, 200)),
        "size": SIZES,
    },
)


@settings(max_examples=300, deadline=None)
@given(fields=PROTO_SIZE_FIELDS)
@example(fields={})
@example(fields={"reqId": 1, "tickType": 111, "size": "5"})
def test_protobuf_tick_size_decodes_as_ibapi_does(fields: dict[str, Any]) -> None:
    """A protobuf TickSize, any field absent, yields ibapi's call (none for NOT_SET)."""
    body = TickSizeProto(**fields).SerializeToString()
    assert_equivalent(struct.pack(">I", 202) + body, PROTOBUF, must_handle_valid=True)


@settings(deadline=None)
@given(body=st.binary(max_size=64), msg_id=st.sampled_from([201, 202, 1, 2, 4, 46, 9]))
def test_arbitrary_binary_frames_are_declined_or_decoded_alike(body: bytes, msg_id: int) -> None:
    """Garbage behind a tick message id is declined, or decoded exactly as ibapi does."""
    assert_equivalent(struct.pack(">I", msg_id) + body, PROTOBUF)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32), version=st.sampled_from([CLASSIC, RAW_IDS, PROTOBUF]))
def test_the_gateways_own_tick_frames_take_the_fast_path(seed: int, version: int) -> None:
    """Every price and size frame the simulated gateway sends is handled, with ibapi's calls."""
    market = Market(seed, clock=lambda: 1.0)
    for req_id, instrument in enumerate(Catalogue.builtin(), start=1000):
        market.subscribe(req_id, instrument)
    encoder = Encoder(version)
    for _, event in market.next_ticks(60):
        if isinstance(event, PriceTick | SizeTick):
            for delayed in (False, True):
                frame = encoder.tick(event, delayed=delayed)
                assert assert_equivalent(frame[4:], version), event


def test_other_messages_are_left_to_ibapi() -> None:
    """A tickString frame (or any other message) is declined untouched."""
    frame = Encoder(CLASSIC).tick_string(7, 45, "1767268800")
    assert via_fast(frame[4:], CLASSIC) == (False, [])
    frame = Encoder(PROTOBUF).tick_string(7, 45, "1767268800")
    assert via_fast(frame[4:], PROTOBUF) == (False, [])

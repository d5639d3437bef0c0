"""Decoding, validating and formatting bus messages of contract v1 (pure, no sockets)."""

import json
import re
from datetime import UTC
from typing import Any

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from subscribers.wire import (
    Heartbeat,
    Message,
    Status,
    Tick,
    UnknownTypeError,
    WireError,
    decode,
    format_line,
    to_jsonable,
)
from tests.support.paths import REPO

DOC = REPO / "docs" / "wire-protocol.md"
SID = 5823457712398741234
TS = 1767268801123456789  # 2026-01-01 12:00:01.123456789 UTC


def tick(**overrides: Any) -> dict[str, Any]:
    """A valid tick payload (a bid of AAPL) with some keys replaced or, when None-marked, gone."""
    payload: dict[str, Any] = {
        "v": 1,
        "type": "tick",
        "pub": "ibpub",
        "sid": SID,
        "seq": 42,
        "ts": TS,
        "key": "AAPL",
        "conid": 265598,
        "field": "bid",
        "tick_type": 1,
        "price": 189.52,
        "attrib": 0,
        "mdt": 1,
        "ts_recv": TS - 55_555,
    }
    payload.update(overrides)
    return payload


def status(**overrides: Any) -> dict[str, Any]:
    """A valid status payload of publisher ``ibpub``."""
    payload: dict[str, Any] = {
        "v": 1,
        "type": "status",
        "pub": "ibpub",
        "sid": SID,
        "seq": 3,
        "ts": TS,
        "scope": "gateway",
        "state": "connected",
        "key": None,
        "code": None,
        "message": "connected to 127.0.0.1:4001",
    }
    payload.update(overrides)
    return payload


def heartbeat(**overrides: Any) -> dict[str, Any]:
    """A valid heartbeat payload of publisher ``ibpub``."""
    payload: dict[str, Any] = {
        "v": 1,
        "type": "hb",
        "pub": "ibpub",
        "sid": SID,
        "seq": 57,
        "ts": TS,
        "gateway": "connected",
        "seqs": {"tick.AAPL": 42, "tick.ES": 7},
    }
    payload.update(overrides)
    return payload


def without(payload: dict[str, Any], *keys: str) -> dict[str, Any]:
    """The payload without ``keys``."""
    return {k: v for k, v in payload.items() if k not in keys}


def pack(payload: object) -> bytes:
    data: bytes = msgpack.packb(payload)
    return data


# -- valid messages ------------------------------------------------------------------------------


def test_decodes_a_price_tick() -> None:
    """A price tick decodes to a Tick whose kind is price and whose other values are None."""
    msg = decode(b"tick.AAPL", pack(tick()))
    assert msg == Tick(
        pub="ibpub",
        sid=SID,
        seq=42,
        ts=TS,
        key="AAPL",
        conid=265598,
        field="bid",
        tick_type=1,
        kind="price",
        price=189.52,
        attrib=0,
        mdt=1,
        ts_recv=TS - 55_555,
    )
    assert msg.topic == "tick.AAPL"


def test_nil_price_is_kept_as_no_price() -> None:
    """A nil price decodes as a price tick with price None ("no price"), not as a missing value."""
    msg = decode(b"tick.AAPL", pack(tick(price=None)))
    assert isinstance(msg, Tick)
    assert (msg.kind, msg.price, msg.datum) == ("price", None, None)


def test_price_tick_without_attrib_is_valid() -> None:
    """attrib is optional on a price tick."""
    msg = decode(b"tick.AAPL", pack(without(tick(), "attrib")))
    assert isinstance(msg, Tick)
    assert msg.attrib is None


def test_nil_size_is_kept_as_unset_size() -> None:
    """A nil size decodes as a size tick with size None (IB's "unset" size marker)."""
    msg = decode(b"tick.AAPL", pack(without(tick(size=None), "price", "attrib")))
    assert isinstance(msg, Tick)
    assert (msg.kind, msg.size) == ("size", None)


def test_decodes_a_size_tick() -> None:
    """A size tick keeps its fractional size and says its kind is size."""
    payload = without(tick(field="bid_size", tick_type=0, size=0.5), "price", "attrib")
    msg = decode(b"tick.AAPL", pack(payload))
    assert isinstance(msg, Tick)
    assert (msg.kind, msg.size, msg.price, msg.value) == ("size", 0.5, None, None)


@pytest.mark.parametrize("value", [1767268801, 0.25, "189.5;100;1767268801123;5000;189.4;true"])
def test_decodes_a_value_tick(value: float | int | str) -> None:
    """A value tick carries an int, a float or a str, kept as sent."""
    payload = without(tick(field="rt_volume", tick_type=48, value=value), "price", "attrib")
    msg = decode(b"tick.AAPL", pack(payload))
    assert isinstance(msg, Tick)
    assert msg.kind == "value"
    assert msg.value == value
    assert type(msg.value) is type(value)


def test_decodes_a_status() -> None:
    """A status message decodes to a Status with nil key and code kept as None."""
    msg = decode(b"status.ibpub", pack(status()))
    assert msg == Status(
        pub="ibpub",
        sid=SID,
        seq=3,
        ts=TS,
        scope="gateway",
        state="connected",
        key=None,
        code=None,
        message="connected to 127.0.0.1:4001",
    )


def test_decodes_an_instrument_status_with_key_and_code() -> None:
    """An instrument status carries the instrument key and IB's code."""
    payload = status(scope="instrument", state="delayed", key="AAPL", code=10167, message="x")
    msg = decode(b"status.ibpub", pack(payload))
    assert isinstance(msg, Status)
    assert (msg.key, msg.code) == ("AAPL", 10167)


def test_decodes_a_heartbeat() -> None:
    """A heartbeat decodes to a Heartbeat with its per-topic last seqs."""
    msg = decode(b"hb.ibpub", pack(heartbeat()))
    assert isinstance(msg, Heartbeat)
    assert (msg.pub, msg.gateway, msg.seq) == ("ibpub", "connected", 57)
    assert dict(msg.seqs) == {"tick.AAPL": 42, "tick.ES": 7}
    assert msg.topic == "hb.ibpub"


def test_unknown_extra_keys_are_ignored() -> None:
    """Keys the contract does not define are ignored rather than rejected."""
    msg = decode(b"tick.AAPL", pack(tick(extra="ignored")))
    assert "extra" not in to_jsonable(msg)


def test_decoded_messages_are_immutable() -> None:
    """Decoded messages are frozen value objects."""
    msg = decode(b"tick.AAPL", pack(tick()))
    with pytest.raises(AttributeError):
        msg.seq = 43  # type: ignore[misc]  # the point of the test


def test_tick_rejects_two_values_on_construction() -> None:
    """A Tick cannot be built carrying a value other than the one its kind names."""
    with pytest.raises(ValueError, match="carries only its price"):
        Tick(
            pub="p",
            sid=1,
            seq=1,
            ts=0,
            key="K",
            conid=1,
            field="bid",
            tick_type=1,
            kind="price",
            price=1.0,
            size=2.0,
            mdt=1,
            ts_recv=0,
        )


# -- malformed messages --------------------------------------------------------------------------

MALFORMED: dict[str, tuple[bytes, bytes]] = {
    "not msgpack": (b"tick.AAPL", b"\xc1"),
    "truncated msgpack": (b"tick.AAPL", pack(tick())[:-3]),
    "trailing bytes": (b"tick.AAPL", pack(tick()) + b"\x00"),
    "an int, then trailing bytes": (b"tick.AAPL", b"\x00\x00"),
    "empty payload": (b"tick.AAPL", b""),
    "payload not a map": (b"tick.AAPL", pack([1, "tick"])),
    "int map key": (b"tick.AAPL", pack({1: 2})),
    "unknown v": (b"tick.AAPL", pack(tick(v=2))),
    "v missing": (b"tick.AAPL", pack(without(tick(), "v"))),
    "v is a str": (b"tick.AAPL", pack(tick(v="1"))),
    "v is a bool": (b"tick.AAPL", pack(tick(v=True))),
    "type missing": (b"tick.AAPL", pack(without(tick(), "type"))),
    "type does not match topic": (b"status.ibpub", pack(tick())),
    "unknown type": (b"tick.AAPL", pack(tick(type="quote"))),
    "unknown topic prefix": (b"quote.AAPL", pack(tick())),
    "topic not UTF-8": (b"tick.\xff", pack(tick())),
    "empty topic name": (b"tick.", pack(tick(key=""))),
    "key does not match topic": (b"tick.AAPL", pack(tick(key="MSFT"))),
    "pub does not match status topic": (b"status.other", pack(status())),
    "pub does not match hb topic": (b"hb.other", pack(heartbeat())),
    "pub missing": (b"tick.AAPL", pack(without(tick(), "pub"))),
    "sid zero": (b"tick.AAPL", pack(tick(sid=0))),
    "sid too large": (b"tick.AAPL", pack(tick(sid=2**63))),
    "seq zero": (b"tick.AAPL", pack(tick(seq=0))),
    "seq is a float": (b"tick.AAPL", pack(tick(seq=42.0))),
    "ts missing": (b"tick.AAPL", pack(without(tick(), "ts"))),
    "conid missing": (b"tick.AAPL", pack(without(tick(), "conid"))),
    "field is an int": (b"tick.AAPL", pack(tick(field=1))),
    "tick_type is a str": (b"tick.AAPL", pack(tick(tick_type="1"))),
    "mdt missing": (b"tick.AAPL", pack(without(tick(), "mdt"))),
    "ts_recv missing": (b"tick.AAPL", pack(without(tick(), "ts_recv"))),
    "price and size": (b"tick.AAPL", pack(tick(size=1.0))),
    "no price, size or value": (b"tick.AAPL", pack(without(tick(), "price", "attrib"))),
    "price is an int": (b"tick.AAPL", pack(tick(price=189))),
    "price is a str": (b"tick.AAPL", pack(tick(price="189.52"))),
    "size is an int": (b"tick.AAPL", pack(without(tick(size=100), "price", "attrib"))),
    "value is a list": (b"tick.AAPL", pack(without(tick(value=[1]), "price", "attrib"))),
    "value is nil": (b"tick.AAPL", pack(without(tick(value=None), "price", "attrib"))),
    "attrib on a size tick": (b"tick.AAPL", pack(without(tick(size=1.0), "price"))),
    "attrib is nil": (b"tick.AAPL", pack(tick(attrib=None))),
    "status scope missing": (b"status.ibpub", pack(without(status(), "scope"))),
    "status key is an int": (b"status.ibpub", pack(status(key=1))),
    "status code is a str": (b"status.ibpub", pack(status(code="1100"))),
    "status key missing": (b"status.ibpub", pack(without(status(), "key"))),
    "hb seqs not a map": (b"hb.ibpub", pack(heartbeat(seqs=[1]))),
    "hb seqs value not an int": (b"hb.ibpub", pack(heartbeat(seqs={"tick.AAPL": "42"}))),
    "hb gateway missing": (b"hb.ibpub", pack(without(heartbeat(), "gateway"))),
}


@pytest.mark.parametrize(("topic", "payload"), MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_message_raises_wire_error(topic: bytes, payload: bytes) -> None:
    """Each way of breaking contract v1 raises WireError naming the topic."""
    with pytest.raises(WireError) as caught:
        decode(topic, payload)
    assert caught.value.reason
    assert caught.value.topic == topic.decode("utf-8", "backslashreplace")


@given(st.binary(max_size=200), st.sampled_from([b"tick.A", b"status.p", b"hb.p", b"bar.A"]))
def test_any_bytes_decode_or_raise_wire_error(payload: bytes, topic: bytes) -> None:
    """Whatever arrives, decode returns a message or raises WireError, never anything else."""
    try:
        decode(topic, payload)
    except WireError as exc:
        assert exc.reason and exc.topic == topic.decode()


def test_an_unknown_topic_prefix_is_told_apart_from_a_broken_message() -> None:
    """A later contract's data kind (``news.AAPL``) raises UnknownTypeError, a WireError that a
    caller can choose to ignore (contract 1.1); a broken tick does not."""
    with pytest.raises(UnknownTypeError):
        decode(b"news.AAPL", pack({"v": 1, "type": "news", "key": "AAPL"}))
    with pytest.raises(WireError) as caught:
        decode(b"tick.AAPL", pack(without(tick(), "conid")))
    assert not isinstance(caught.value, UnknownTypeError)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (tick(v=2), "unknown schema version 2"),
        (tick(sid=0), "sid 0 is out of range"),
        (tick(seq=0), "seq 0 is below 1"),
        (tick(price=189), "key 'price' must be a float or nil, not int"),
        (tick(field=1), "key 'field': expected `str`, got `int`"),
        (tick(attrib=None), "key 'attrib': expected `int`, got `nil`"),
        (tick(size=1.0), "exactly one of price, size, value (found price, size)"),
        (without(tick(size=1.0), "price"), "attrib belongs to price ticks only"),
        (tick(type="hb"), "type 'hb' does not match the topic (expected 'tick')"),
    ],
)
def test_wire_error_reasons_speak_the_contract(payload: dict[str, Any], reason: str) -> None:
    """A refused payload is explained in the contract's words, the version judged first."""
    with pytest.raises(WireError) as caught:
        decode(b"tick.AAPL", pack(payload))
    assert reason in caught.value.reason


def test_wire_error_names_the_missing_key() -> None:
    """The reason of a WireError says which key is wrong."""
    with pytest.raises(WireError, match="'conid'") as caught:
        decode(b"tick.AAPL", pack(without(tick(), "conid")))
    assert isinstance(caught.value, ValueError)


# -- round trip ----------------------------------------------------------------------------------

names = st.text(st.characters(codec="utf-8"), min_size=1, max_size=12)
ints = st.integers(min_value=-(2**63), max_value=2**64 - 1)
sids = st.integers(min_value=1, max_value=2**63 - 1)
seqs = st.integers(min_value=1, max_value=2**64 - 1)
floats = st.floats(allow_nan=False)
common = {"v": st.just(1), "pub": names, "sid": sids, "seq": seqs, "ts": ints}


@st.composite
def valid_messages(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """A random valid (topic, payload) pair of any type."""
    kind = draw(st.sampled_from(["tick", "status", "hb"]))
    payload = draw(st.fixed_dictionaries(common))
    payload["type"] = kind
    if kind == "status":
        payload.update(
            scope=draw(names),
            state=draw(names),
            key=draw(st.none() | names),
            code=draw(st.none() | ints),
            message=draw(st.text()),
        )
        return f"status.{payload['pub']}", payload
    if kind == "hb":
        payload.update(gateway=draw(names), seqs=draw(st.dictionaries(names, seqs, max_size=5)))
        return f"hb.{payload['pub']}", payload
    key = draw(names)
    payload.update(key=key, conid=draw(ints), field=draw(names), tick_type=draw(ints))
    payload.update(mdt=draw(ints), ts_recv=draw(ints))
    datum = draw(st.sampled_from(["price", "size", "value"]))
    if datum == "price":
        payload["price"] = draw(st.none() | floats)
        if draw(st.booleans()):
            payload["attrib"] = draw(ints)
    elif datum == "size":
        payload["size"] = draw(floats)
    else:
        payload["value"] = draw(floats | ints | st.text())
    return f"tick.{key}", payload


@given(valid_messages())
def test_round_trip_gives_back_the_payload(message: tuple[str, dict[str, Any]]) -> None:
    """Packing any valid payload, decoding it and calling to_jsonable gives the payload back."""
    topic, payload = message
    msg = decode(topic.encode(), pack(payload))
    assert to_jsonable(msg) == {**payload, "topic": topic}
    assert msg.topic == topic


@given(valid_messages())
def test_every_valid_message_formats_as_one_line(message: tuple[str, dict[str, Any]]) -> None:
    """format_line never fails on a valid message and always returns exactly one line."""
    topic, payload = message
    line = format_line(topic, decode(topic.encode(), pack(payload)))
    assert line.isprintable()


# -- formatting ----------------------------------------------------------------------------------


def formatted(topic: str, payload: dict[str, Any]) -> str:
    msg: Message = decode(topic.encode(), pack(payload))
    return format_line(topic, msg, tz=UTC)


def test_tick_line_shows_time_topic_seq_field_value_and_mdt() -> None:
    """A tick line reads like ``12:00:01.123456 tick.AAPL  #42 bid 189.52 (mdt 1)``."""
    assert formatted("tick.AAPL", tick()) == "12:00:01.123456 tick.AAPL  #42 bid 189.52 (mdt 1)"


def test_tick_line_shows_no_price_as_a_dash() -> None:
    """A nil price shows as ``-``."""
    assert formatted("tick.AAPL", tick(price=None)).endswith(" bid - (mdt 1)")


def test_tick_line_names_attrib_flags() -> None:
    """A non-zero attrib mask is spelled out after the market data type."""
    line = formatted("tick.AAPL", tick(attrib=5, mdt=3))
    assert line.endswith("(mdt 3, can-auto-execute,pre-open)")


def test_whole_sizes_show_without_a_decimal_point() -> None:
    """A size of 100.0 shows as 100."""
    payload = without(tick(field="bid_size", tick_type=0, size=100.0), "price", "attrib")
    assert formatted("tick.AAPL", payload).endswith(" bid_size 100 (mdt 1)")


def test_status_line_shows_scope_state_message_and_code() -> None:
    """A status line reads ``scope [key] state: message (code N)``."""
    payload = status(scope="instrument", state="delayed", key="AAPL", code=10167, message="m")
    assert formatted("status.ibpub", payload) == (
        "12:00:01.123456 status.ibpub #3 instrument AAPL delayed: m (code 10167)"
    )


def test_heartbeat_line_is_compact() -> None:
    """A heartbeat line gives the gateway state and how many tick topics it reports."""
    assert formatted("hb.ibpub", heartbeat()) == (
        "12:00:01.123456 hb.ibpub   #57 gateway connected, 2 data topics"
    )


# -- the documentation's example ---------------------------------------------------------------


def doc_block(name: str) -> str:
    """The fenced code block that follows ``<!-- test: name -->`` in docs/wire-protocol.md."""
    found = re.search(rf"<!-- test: {name} -->\s*```\w*\n(.*?)```", DOC.read_text(), re.S)
    assert found, f"no block {name!r} in {DOC}"
    return found.group(1)


def test_documented_msgpack_example_decodes_to_the_documented_json() -> None:
    """The example message's msgpack bytes in the docs decode to the JSON shown beside them."""
    raw = bytes.fromhex(doc_block("example-msgpack"))
    documented = json.loads(doc_block("example-json"))
    msg = decode(documented["topic"].encode(), raw)
    assert to_jsonable(msg) == documented

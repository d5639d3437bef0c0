"""The last-value cache and the pure request handling of the snapshot server."""

from typing import Any

import msgpack
import msgspec
from hypothesis import given
from hypothesis import strategies as st

from publisher.bus.snapshot import LastValueCache, build_reply, parse_request

SID = 4242


def tick(key: str, field: str, seq: int, price: float = 1.0) -> dict[str, Any]:
    """A tick payload as ``Bus.publish`` returns it."""
    return {
        "v": 1,
        "type": "tick",
        "pub": "p",
        "sid": SID,
        "seq": seq,
        "ts": 1_000 + seq,
        "key": key,
        "conid": 7,
        "field": field,
        "tick_type": 1,
        "price": price,
        "attrib": 0,
        "mdt": 1,
        "ts_recv": 999 + seq,
    }


def as_map(body: bytes) -> dict[str, Any]:
    """The reply to ``body`` as the map a client unpacks (a Struct's fields, unset ones out)."""
    reply: dict[str, Any] = msgspec.to_builtins(
        build_reply(body, LastValueCache(), sid=SID, last_seq=lambda t: 0)
    )
    return reply


def reply_to(request: object, cache: LastValueCache, seqs: dict[str, int]) -> dict[str, Any]:
    body = msgpack.packb(request)
    reply = build_reply(body, cache, sid=SID, last_seq=lambda t: seqs.get(t, 0), clock_ns=lambda: 5)
    as_sent: dict[str, Any] = msgspec.to_builtins(reply)
    return as_sent


def test_cache_keeps_the_latest_tick_of_each_field() -> None:
    """A newer tick of a field replaces the older one; other fields are kept."""
    cache = LastValueCache()
    cache.record("tick.A", tick("A", "bid", 1, 1.0))
    cache.record("tick.A", tick("A", "ask", 2, 2.0))
    cache.record("tick.A", tick("A", "bid", 3, 3.0))
    ((topic, ticks),) = list(cache.topics())
    assert topic == "tick.A"
    assert [(t["field"], t["price"]) for t in ticks] == [("ask", 2.0), ("bid", 3.0)]
    assert len(cache) == 2


def test_cached_ticks_come_out_in_seq_order() -> None:
    """A topic's ticks are listed oldest first, so applying them in order ends at the latest."""
    cache = LastValueCache()
    for seq, field in enumerate(["bid", "ask", "last", "bid", "volume"], start=1):
        cache.record("tick.A", tick("A", field, seq))
    ((_, ticks),) = list(cache.topics())
    assert [t["seq"] for t in ticks] == [2, 3, 4, 5]


def test_reply_holds_matching_topics_with_their_last_seq() -> None:
    """The reply lists each topic under the prefix with the bus's last seq and its ticks."""
    cache = LastValueCache()
    cache.record("tick.ES", tick("ES", "bid", 1))
    cache.record("tick.ESZ6", tick("ESZ6", "bid", 1))
    cache.record("tick.NQ", tick("NQ", "bid", 1))
    reply = reply_to({"v": 1, "prefix": "tick.ES"}, cache, {"tick.ES": 9, "tick.ESZ6": 4})
    assert reply["v"] == 1 and reply["sid"] == SID and reply["ts"] == 5
    assert [(t["topic"], t["seq"]) for t in reply["topics"]] == [("tick.ES", 9), ("tick.ESZ6", 4)]
    assert reply["topics"][0]["ticks"] == [tick("ES", "bid", 1)]


def test_empty_prefix_and_missing_prefix_mean_every_topic() -> None:
    """Both ``""`` and no prefix at all ask for every topic."""
    cache = LastValueCache()
    cache.record("tick.A", tick("A", "bid", 1))
    cache.record("tick.B", tick("B", "bid", 1))
    for request in ({"v": 1, "prefix": ""}, {"v": 1}):
        assert len(reply_to(request, cache, {})["topics"]) == 2


def test_prefix_matching_nothing_gives_an_empty_list() -> None:
    """A prefix with no cached topic is answered with an empty topics list, not an error."""
    reply = reply_to({"v": 1, "prefix": "status."}, LastValueCache(), {})
    assert reply["topics"] == [] and "error" not in reply


def test_malformed_requests_get_an_error_reply() -> None:
    """Bad msgpack, a non-map, a wrong version or a non-str prefix each get an error key."""
    cache = LastValueCache()
    bad = [b"\xc1", *map(msgpack.packb, ([1], {"v": 2}, {"v": 1, "prefix": 3}))]
    for body in bad:
        reply = msgspec.to_builtins(build_reply(body, cache, sid=SID, last_seq=lambda t: 0))
        assert reply["v"] == 1 and isinstance(reply["error"], str), body
        assert "topics" not in reply


def test_version_must_be_the_integer_one() -> None:
    """``true`` is not schema version 1, even though Python compares it equal to 1."""
    assert "error" in reply_to({"v": True}, LastValueCache(), {})


@given(st.binary(max_size=64))
def test_any_bytes_get_a_reply_and_never_raise(body: bytes) -> None:
    """Whatever a client sends, the server builds a reply map (data or error) without raising."""
    reply = as_map(body)
    assert reply["v"] == 1
    assert ("error" in reply) != ("topics" in reply)


def test_parse_request_returns_the_prefix() -> None:
    """A valid request's prefix is returned as given."""
    assert parse_request(msgpack.packb({"v": 1, "prefix": "tick.AAPL"})) == "tick.AAPL"


@given(
    st.dictionaries(
        st.sampled_from(["A", "B", "ESZ6"]),
        st.lists(st.tuples(st.sampled_from(["bid", "ask", "last"]), st.floats()), max_size=4),
        max_size=3,
    ),
    st.sampled_from(["", "tick.", "tick.A", "status."]),
)
def test_reply_bytes_are_what_the_dict_reply_packed_to(
    fills: dict[str, list[tuple[str, float]]], prefix: str
) -> None:
    """The schema's reply Struct encodes to the bytes msgpack.Packer wrote for the reply dict."""
    cache = LastValueCache()
    seq = 0
    for key, ticks in fills.items():
        for field, price in ticks:
            seq += 1
            cache.record(f"tick.{key}", tick(key, field, seq, price))
    body = msgpack.packb({"v": 1, "prefix": prefix})
    reply = build_reply(body, cache, sid=SID, last_seq=lambda t: 40, clock_ns=lambda: 5)
    before = {
        "v": 1,
        "sid": SID,
        "ts": 5,
        "topics": [
            {"topic": topic, "seq": 40, "ticks": ticks} for topic, ticks in cache.topics(prefix)
        ],
    }
    assert msgspec.msgpack.encode(reply) == msgpack.Packer().pack(before)


def test_refusal_bytes_are_what_the_dict_refusal_packed_to() -> None:
    """A refusal encodes as ``{"v": 1, "error": ...}`` did."""
    refusal = build_reply(b"\xc1", LastValueCache(), sid=SID, last_seq=lambda t: 0)
    expected = {"v": 1, "error": "request is not valid msgpack"}
    assert msgspec.msgpack.encode(refusal) == msgpack.packb(expected)

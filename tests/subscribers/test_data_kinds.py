"""Contract 1.1 data kinds in the library, pure: decoding, exact keys, seq, books, latest values.

Messages are built from the schema Structs (as the publisher encodes them) and fed to
:mod:`subscribers.wire` and :class:`subscribers.intake.Intake` as frames.
"""

from typing import Any

import msgspec
import pytest

from subscribers.control import instrument_from
from subscribers.depth import DepthBook
from subscribers.early import likely_key, likely_topics
from subscribers.events import BookResync, BookSynced, Event, Gap
from subscribers.intake import Intake
from subscribers.liveness import HeartbeatWatch
from subscribers.schema import (
    BarPayload,
    DepthPayload,
    GreeksPayload,
    HeartbeatPayload,
    SnapshotBook,
    SnapshotReply,
    SnapshotTopic,
    TbtPayload,
)
from subscribers.selection import Selection, data_prefixes
from subscribers.snapshot import decode_reply
from subscribers.wire import (
    Bar,
    Depth,
    Greeks,
    Tbt,
    UnknownTypeError,
    WireError,
    decode,
    format_line,
    to_jsonable,
)

SID = 77
_encode = msgspec.msgpack.Encoder().encode
COMMON: dict[str, Any] = {"v": 1, "pub": "ibpub", "sid": SID, "ts": 1_700_000_000_000_000_000}


def depth(key: str, seq: int, position: int, operation: str, side: str, price: float,
          size: float = 1.0, maker: str | None = None) -> tuple[bytes, bytes]:  # fmt: skip
    payload = DepthPayload(
        **COMMON, type="depth", seq=seq, key=key, conid=1, position=position,
        operation=operation, side=side, price=price, size=size,  # type: ignore[arg-type]
        market_maker=maker, is_smart=maker is not None, ts_recv=1,
    )  # fmt: skip
    return f"depth.{key}".encode(), _encode(payload)


def tbt(key: str, seq: int) -> tuple[bytes, bytes]:
    payload = TbtPayload(
        **COMMON, type="tbt", seq=seq, key=key, conid=1, kind="last", time=1_700_000_000,
        price=189.5, size=100.0, exchange="NASDAQ", special_conditions="", past_limit=False,
        unreported=False, ts_recv=1,
    )  # fmt: skip
    return f"tbt.{key}".encode(), _encode(payload)


def bar(key: str, seq: int, close: float = 10.5) -> tuple[bytes, bytes]:
    payload = BarPayload(
        **COMMON, type="bar", seq=seq, key=key, conid=1, what="TRADES", time=1_700_000_000,
        open=10.0, high=11.0, low=9.5, close=close, volume=1200.0, wap=10.4, count=17,
        ts_recv=1,
    )  # fmt: skip
    return f"bar.{key}".encode(), _encode(payload)


def greeks(key: str, seq: int, field: str = "model_option", delta: float = 0.5) -> tuple[
    bytes, bytes
]:  # fmt: skip
    payload = GreeksPayload(
        **COMMON, type="greeks", seq=seq, key=key, conid=1, tick_type=13,
        field=field, implied_vol=0.25, delta=delta, opt_price=3.2,  # type: ignore[arg-type]
        pv_dividend=0.0, gamma=0.05, vega=0.1, theta=None, und_price=189.0, mdt=1, ts_recv=1,
    )  # fmt: skip
    return f"greeks.{key}".encode(), _encode(payload)


def heartbeat(seqs: dict[str, int], seq: int = 1) -> tuple[bytes, bytes]:
    payload = HeartbeatPayload(**COMMON, type="hb", seq=seq, gateway="connected", seqs=seqs)
    return b"hb.ibpub", _encode(payload)


# -- decoding ------------------------------------------------------------------------------------


def test_every_kind_decodes_into_its_typed_message() -> None:
    """tbt, depth, bar and greeks topics decode into Tbt, Depth, Bar, Greeks with their values."""
    got_tbt = decode(*tbt("AAPL", 1))
    got_depth = decode(*depth("ES", 2, 0, "insert", "bid", 5000.25, 3.0, "CME"))
    got_bar = decode(*bar("AAPL", 3))
    got_greeks = decode(*greeks("AAPL_C190", 4))
    assert isinstance(got_tbt, Tbt) and got_tbt.price == 189.5 and got_tbt.topic == "tbt.AAPL"
    assert isinstance(got_depth, Depth) and (got_depth.side, got_depth.price) == ("bid", 5000.25)
    assert isinstance(got_bar, Bar) and (got_bar.close, got_bar.count) == (10.5, 17)
    assert isinstance(got_greeks, Greeks) and got_greeks.theta is None
    assert got_greeks.topic == "greeks.AAPL_C190"


def test_to_jsonable_gives_back_the_wire_keys_only() -> None:
    """The JSON form is the payload as sent (keys absent on the wire stay absent) plus topic."""
    out = to_jsonable(decode(*tbt("AAPL", 1)))
    assert out["topic"] == "tbt.AAPL" and out["kind"] == "last"
    assert "bid" not in out and "mid" not in out
    assert to_jsonable(decode(*depth("ES", 1, 0, "insert", "ask", 1.0)))["market_maker"] is None


@pytest.mark.parametrize(
    ("frames", "text"),
    [
        (depth("ES", 5, 1, "update", "ask", 5000.5, 2.0, "ARCA"), "update ask[1] 5000.5 x 2 ARCA"),
        (tbt("AAPL", 1), "last 100 @ 189.5 NASDAQ"),
        (bar("AAPL", 1), "bar TRADES 22:13:20.000000 o 10 h 11 l 9.5 c 10.5 v 1200 n 17"),
        (greeks("O", 1), "model_option iv 0.25 delta 0.5 price 3.2 und 189 (mdt 1)"),
    ],
)
def test_format_line_shows_each_kind(frames: tuple[bytes, bytes], text: str) -> None:
    """Each kind prints as one readable line."""
    line = format_line(frames[0].decode(), decode(*frames))
    assert line.endswith(text), line


def test_a_data_key_must_match_its_topic() -> None:
    """A payload whose key is not the topic's name breaks the contract."""
    _, body = bar("AAPL", 1)
    with pytest.raises(WireError, match="does not match the topic"):
        decode(b"bar.MSFT", body)


def test_a_type_that_disagrees_with_the_topic_is_malformed() -> None:
    """A bar payload on a depth topic is refused, naming both."""
    _, body = bar("AAPL", 1)
    with pytest.raises(WireError, match="does not match the topic"):
        decode(b"depth.AAPL", body)


def test_an_unknown_prefix_is_still_unknown() -> None:
    with pytest.raises(UnknownTypeError):
        decode(b"news.AAPL", b"\x80")


def test_data_names_map_to_topic_prefixes() -> None:
    assert data_prefixes(["tick", "depth", "bars", "greeks", "tbt", "l1"]) == (
        "tick.",
        "depth.",
        "bar.",
        "greeks.",
        "tbt.",
    )
    assert data_prefixes(["depth:5:smart", "bars_5s:MIDPOINT", "tbt_last"]) == (
        "depth.",
        "bar.",
        "tbt.",
    )
    with pytest.raises(ValueError, match="unknown data 'quotes'"):
        data_prefixes(["quotes"])


# -- the intake: exact keys, seq, books, latest values -------------------------------------------


class Fed:
    """An intake fed frames, recording its events and the resyncs it asks for."""

    def __init__(self, keys: list[str], data: tuple[str, ...] = ("depth.",)) -> None:
        self.events: list[Event] = []
        self.resyncs: list[str] = []
        self.intake = Intake(Selection((), keys, data), HeartbeatWatch(None), self.events.append)
        self.intake.on_resync = self.resyncs.append

    def feed(self, *messages: tuple[bytes, bytes]) -> None:
        for frames in messages:
            msg = self.intake.decode(list(frames))
            if msg is not None:
                self.intake.process(msg)

    def of(self, kind: type[Any]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


def test_exact_keys_filter_every_data_prefix() -> None:
    """depth.ESZ6 and bar.ESZ6 are dropped for key ES; depth.ES and bar.ES are delivered."""
    fed = Fed(["ES"], ("depth.", "bar."))
    fed.feed(
        depth("ESZ6", 1, 0, "insert", "bid", 1.0),
        bar("ESZ6", 1),
        depth("ES", 1, 0, "insert", "bid", 1.0),
        bar("ES", 1),
    )
    assert [m.topic for m in fed.intake.ready] == ["depth.ES", "bar.ES"]
    assert fed.intake.counts["filtered"] == 2


def test_a_book_built_from_the_sessions_first_change_is_trusted() -> None:
    """From seq 1 the book starts empty, so every change applies and no resync is asked for."""
    fed = Fed(["ES"])
    fed.feed(
        depth("ES", 1, 0, "insert", "bid", 99.0, 5.0),
        depth("ES", 2, 0, "insert", "ask", 101.0, 4.0),
        depth("ES", 3, 0, "insert", "bid", 100.0, 2.0),
        depth("ES", 4, 1, "update", "bid", 99.0, 7.0),
    )
    book = fed.intake.books["ES"]
    assert book.bids == [(100.0, 2.0, None), (99.0, 7.0, None)]
    assert book.asks == [(101.0, 4.0, None)]
    assert book.spread() == 1.0
    assert fed.resyncs == [] and "depth.ES" in fed.intake.books_ok


def test_a_gap_in_a_depth_topic_empties_the_book_and_asks_for_a_resync() -> None:
    """A skipped seq means a lost change: the book is not carried on, a resync is asked for."""
    fed = Fed(["ES"])
    fed.feed(depth("ES", 1, 0, "insert", "bid", 99.0), depth("ES", 3, 0, "insert", "bid", 98.0))
    assert fed.resyncs == ["depth.ES"]
    assert fed.intake.books["ES"].bids == []
    assert [e.reason for e in fed.of(BookResync)] == ["1 change(s) lost (seq)"]
    assert len(fed.of(Gap)) == 1 and fed.intake.counts["book_resyncs"] == 1
    fed.feed(depth("ES", 4, 0, "update", "bid", 97.0))  # not applied to an untrusted book
    assert fed.intake.books["ES"].bids == [] and fed.resyncs == ["depth.ES"]


def test_without_books_a_gap_is_reported_but_nothing_is_resynced() -> None:
    """keep_books False (ibsub tail, record): changes pass through, no book, no snapshot."""
    fed = Fed(["ES"])
    fed.intake.keep_books = False
    fed.feed(depth("ES", 5, 0, "update", "bid", 99.0), depth("ES", 7, 0, "insert", "bid", 98.0))
    fed.feed(heartbeat({"depth.ES": 9}))
    assert fed.resyncs == [] and fed.intake.books == {}
    assert [e.detected_by for e in fed.of(Gap)] == ["seq", "heartbeat"]
    assert len(fed.intake.ready) == 2


def test_an_impossible_update_asks_for_a_resync() -> None:
    """An update of a row that is not there is counted and the book resynced, never applied."""
    fed = Fed(["ES"])
    fed.feed(depth("ES", 1, 0, "insert", "bid", 99.0), depth("ES", 2, 3, "update", "bid", 98.0))
    assert fed.resyncs == ["depth.ES"]
    assert fed.intake.counts["book_errors"] == 1
    assert "impossible update: update bid[3]" in fed.of(BookResync)[0].reason


def test_joining_mid_stream_asks_for_the_book_once() -> None:
    """A first change at seq > 1 has no book to go into: one resync, not one per change."""
    fed = Fed(["ES"])
    fed.feed(depth("ES", 40, 0, "update", "bid", 99.0), depth("ES", 41, 0, "update", "bid", 98.0))
    assert fed.resyncs == ["depth.ES"]
    assert list(fed.intake.ready) != []  # the changes are still delivered


def test_a_seeded_book_takes_the_changes_after_its_seq() -> None:
    """seed_book (from a snapshot) makes the book trusted; later changes apply to it."""
    fed = Fed(["ES"])
    fed.intake.seq.reset("depth.ES", SID, 10)
    fed.intake.seed_book("depth.ES", 10, ((99.0, 1.0, None),), ((101.0, 2.0, None),))
    fed.feed(depth("ES", 10, 0, "delete", "bid", 99.0), depth("ES", 11, 0, "delete", "ask", 0.0))
    assert fed.intake.books["ES"].bids == [(99.0, 1.0, None)]  # seq 10 was already in the book
    assert fed.intake.books["ES"].asks == []
    assert fed.resyncs == [] and len(fed.of(BookSynced)) == 1


def test_a_lost_depth_tail_reported_by_heartbeat_resyncs() -> None:
    """A heartbeat seq above the last change received is a lost tail: the book is resynced."""
    fed = Fed(["ES"])
    fed.feed(depth("ES", 1, 0, "insert", "bid", 99.0), heartbeat({"depth.ES": 3}))
    assert fed.resyncs == ["depth.ES"]
    assert [e.detected_by for e in fed.of(Gap)] == ["heartbeat"]


def test_bars_greeks_and_tbt_keep_the_latest_per_key() -> None:
    fed = Fed(["O"], ("bar.", "greeks.", "tbt."))
    fed.feed(
        bar("O", 1, close=1.0),
        bar("O", 2, close=2.0),
        greeks("O", 1, "model_option", 0.4),
        greeks("O", 2, "bid_option", 0.3),
        greeks("O", 3, "model_option", 0.6),
        tbt("O", 1),
    )
    assert fed.intake.bars["O"].close == 2.0
    assert fed.intake.greeks["O"]["model_option"].delta == 0.6
    assert fed.intake.greeks["O"]["bid_option"].delta == 0.3
    assert fed.intake.tbt["O"]["last"].price == 189.5


# -- snapshot replies with books -----------------------------------------------------------------


def test_a_snapshot_reply_carries_books_and_latest_messages() -> None:
    """A depth topic's entry gives its book; a bar topic's its latest bar, decoded."""
    _, bar_body = bar("ES", 3)
    reply = SnapshotReply[msgspec.Raw](
        v=1,
        sid=SID,
        ts=1,
        topics=[
            SnapshotTopic[msgspec.Raw](
                topic="depth.ES",
                seq=9,
                ticks=[],
                book=SnapshotBook(bids=[(99.0, 1.0, "CME")], asks=[(101, 2, None)]),
            ),
            SnapshotTopic[msgspec.Raw](topic="bar.ES", seq=3, ticks=[msgspec.Raw(bar_body)]),
        ],
    )
    snap = decode_reply(_encode(reply))
    depth_entry, bar_entry = snap.topics
    assert depth_entry.book == (((99.0, 1.0, "CME"),), ((101.0, 2.0, None),))
    assert isinstance(bar_entry.ticks[0], Bar) and bar_entry.book is None
    book = DepthBook()
    book.replace(list(depth_entry.book[0]), list(depth_entry.book[1]))
    assert book.spread() == 2.0


# -- the topics an on-demand request will likely be granted --------------------------------------


@pytest.mark.parametrize(
    ("spec", "key"),
    [
        ("NVDA", "NVDA"),
        ({"key": "MY.KEY", "symbol": "X"}, "MY.KEY"),
        ({"sec_type": "CASH", "symbol": "EUR", "currency": "USD"}, "EUR.USD"),
        ({"sec_type": "FUT", "symbol": "ES", "last_trade_date": "202612"}, "ES.202612"),
        ({"sec_type": "FUT", "symbol": "ES", "local_symbol": "ESZ6"}, "ESZ6"),
        (
            {"sec_type": "OPT", "symbol": "AAPL", "last_trade_date": "20261218", "right": "C",
             "strike": 200.0},
            "AAPL.20261218.C200",
        ),
        ({"con_id": 12345}, None),
    ],
)  # fmt: skip
def test_the_likely_key_follows_the_publishers_rule(spec: Any, key: str | None) -> None:
    assert likely_key(instrument_from(spec)) == key


def test_likely_topics_follow_the_requested_kinds() -> None:
    instrument = instrument_from("AAPL")
    assert likely_topics(instrument, ("l1", "depth:5", "bars_5s")) == [
        "tick.AAPL",
        "depth.AAPL",
        "bar.AAPL",
    ]
    assert likely_topics(instrument, ("nonsense",)) == []

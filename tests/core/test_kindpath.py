"""The kind path: depth books kept beside the messages, an impossible change refused and
re-requested, a book reset published as deletes; greeks only where asked for."""

from dataclasses import replace
from decimal import Decimal
from typing import Any

from publisher.config import InstrumentSpec
from publisher.core.instruments import SUBSCRIBED, Instrument
from publisher.core.kindpath import KindPath
from subscribers.depth import DepthBook

SPEC = InstrumentSpec(key="AAPL", sec_type="STK", symbol="AAPL", data=("l1", "depth:3"))
OPTION = InstrumentSpec(
    key="C230", sec_type="OPT", symbol="AAPL", last_trade_date="20261218", strike=230.0,
    right="C", data=("greeks",),
)  # fmt: skip


class Counter:
    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float = 1) -> None:
        self.value += amount


class Harness:
    def __init__(self, spec: InstrumentSpec = SPEC) -> None:
        self.inst = Instrument(spec, Counter())
        self.inst.con_id, self.inst.state = 265598, SUBSCRIBED
        self.stream = next(iter(self.inst.streams.values()), None)
        self.sent: list[tuple[str, str, dict[str, Any]]] = []
        self.invalid: list[int] = []
        self.resyncs: list[str] = []
        self.books: dict[str, DepthBook] = {}
        by_stream = {7: (self.inst, self.stream)} if self.stream is not None else {}
        self.path = KindPath(
            pub="t",
            sid=1,
            send=lambda inst, topic, slot, payload, kind: self.sent.append((topic, kind, payload)),
            receive_time=lambda: 42,
            by_stream=by_stream,
            by_req={1: self.inst},
            books=self.books,
            on_book_invalid=self.invalid.append,
            count_resync=self.resyncs.append,
        )

    def depth(self, position: int, operation: int, side: int, price: float) -> None:
        self.path.on_depth(7, position, None, operation, side, price, Decimal(100), False)


def test_depth_changes_are_published_and_kept_in_the_book() -> None:
    h = Harness()
    h.depth(0, 0, 1, 10.0)  # insert bid
    h.depth(0, 0, 0, 10.5)  # insert ask
    h.depth(0, 1, 1, 10.1)  # update bid
    assert [p["operation"] for _, _, p in h.sent] == ["insert", "insert", "update"]
    topic, kind, payload = h.sent[-1]
    assert (topic, kind, payload["side"], payload["price"], payload["size"]) == (
        "depth.AAPL", "depth", "bid", 10.1, 100.0,
    )  # fmt: skip
    assert list(payload) == ["v", "type", "pub", "sid", "seq", "ts", "key", "conid", "position",
                             "operation", "side", "price", "size", "market_maker", "is_smart",
                             "ts_recv"]  # fmt: skip
    assert h.books["depth.AAPL"].bids == [(10.1, 100.0, None)]


def test_an_impossible_change_is_not_published_and_re_requests() -> None:
    h = Harness()
    h.depth(0, 0, 1, 10.0)
    h.depth(3, 1, 1, 9.0)  # update of a row that is not there
    h.depth(0, 5, 1, 9.0)  # no such operation
    assert len(h.sent) == 1
    assert h.invalid == [7, 7] and h.resyncs == ["AAPL", "AAPL"] and h.path.invalid == 2


def test_a_reset_deletes_every_row_in_seq_order() -> None:
    h = Harness()
    for price in (10.0, 9.9):
        h.depth(0, 0, 1, price)
    h.depth(0, 0, 0, 10.5)
    h.sent.clear()
    assert h.stream is not None
    h.path.reset_book(h.inst, h.stream)
    ops = [(p["operation"], p["side"], p["position"]) for _, _, p in h.sent]
    assert ops == [("delete", "bid", 0), ("delete", "bid", 0), ("delete", "ask", 0)]
    assert h.books["depth.AAPL"].bids == [] and h.books["depth.AAPL"].asks == []
    subscriber = DepthBook()  # a subscriber's book with the same three rows empties too
    subscriber.replace([(9.9, 100.0, None), (10.0, 100.0, None)], [(10.5, 100.0, None)])
    for _, _, p in h.sent:
        assert subscriber.apply(p["position"], "delete", p["side"], p["price"], p["size"])
    assert subscriber.bids == [] and subscriber.asks == []


def test_greeks_are_published_only_when_asked_for_with_unset_values_nil() -> None:
    h = Harness(OPTION)
    h.path.on_option(1, 13, 0.25, 0.55, 12.0, None, 0.01, 0.2, -0.05, 1.7976931348623157e308)
    (topic, kind, payload) = h.sent[0]
    assert (topic, kind, payload["field"], payload["und_price"]) == (
        "greeks.C230", "greeks", "model_option", None,
    )  # fmt: skip
    h.path.on_option(1, 82, None, None, None, None, None, None, None, 230.0)
    assert h.sent[-1][2]["mdt"] == 3 and h.sent[-1][2]["field"] == "last_option"
    plain = Harness(replace(OPTION, data=("l1",)))
    plain.path.on_option(1, 13, 0.25, 0.55, 12.0, None, 0.01, 0.2, -0.05, 230.0)
    assert plain.sent == []

"""The other data kinds' path: tick-by-tick, depth, bar and option callbacks -> the bus.

The counterpart of :mod:`publisher.core.tickpath` for contract 1.1's "Data kinds": each callback
finds its stream (a read-only view of the subscription machine's stream map, or, for option
computations, its reqMktData), builds the whole payload as one dict in the schema's key order
(:mod:`subscribers.schema`: ``TbtPayload``, ``DepthPayload``, ``BarPayload``, ``GreeksPayload``)
and hands it to the tick path's shared send, which stamps, queues, caches and counts it.

Depth is kept here as well as published: every ``depth.`` topic has its book
(:class:`subscribers.depth.DepthBook`, the same logic a subscriber applies), which the snapshot
serves whole. A change the book cannot take (an update or delete of a row that is not there,
an insert past the end) is not published: it is counted and the stream re-requested
(``on_book_invalid``), and :meth:`KindPath.reset_book` empties the book first by publishing a
delete of each row, so every subscriber's book empties with it, in ``seq`` order, before IB's
fresh rows arrive.

Pure: no sockets; the bus, the send and the counters come in as values.
"""

import math
from collections.abc import Callable, Mapping
from typing import Any, Final

from publisher.core.instruments import Instrument, Stream
from publisher.core.normalise import Size, normal_size
from publisher.core.schema import SCHEMA_VERSION
from subscribers.depth import OPERATIONS, SIDES, DepthBook
from subscribers.schema import GREEKS_FIELDS

UNSET_DOUBLE: Final = 1.7976931348623157e308
"""IB's "no value" double (Double.MAX_VALUE)."""
TBT_KINDS: Final = {1: "last", 2: "all_last"}
"""tickByTickAllLast's tickType and the payload's ``kind``."""

Send = Callable[[Instrument, str, str, dict[str, Any], str], None]
"""The tick path's send: (instrument, topic, cache slot, payload, message type)."""


BookCounter = Callable[[str], None]
"""``ibpub_depth_resyncs_total`` (by instrument key)."""


def _size(size: Size) -> float:
    """A size as the kinds publish it: a float, 0.0 for IB's unset marker."""
    value = normal_size(size)
    return 0.0 if value is None else value


DELAYED_GREEKS: Final = frozenset({80, 81, 82, 83})


def _greeks_mdt(tick_type: int, current: int) -> int:
    """Delayed option computations (80-83) are delayed (4 when the stream is delayed-frozen)."""
    if tick_type in DELAYED_GREEKS:
        return 4 if current == 4 else 3
    return current


def _number(value: float | None) -> float | None:
    """An option computation value: None for IB's unset markers and non-finite values."""
    if value is None or not math.isfinite(value) or value == UNSET_DOUBLE:
        return None
    return float(value)


class KindPath:
    """Publishes tick-by-tick, depth, bar and greeks messages; keeps the depth books."""

    def __init__(
        self,
        *,
        pub: str,
        sid: int,
        send: Send,
        receive_time: Callable[[], int],
        by_stream: Mapping[int, tuple[Instrument, Stream]],
        by_req: Mapping[int, Instrument],
        books: dict[str, DepthBook],
        on_book_invalid: Callable[[int], None],
        count_resync: BookCounter,
    ) -> None:
        self._pub = pub
        self._sid = sid
        self._send = send
        self._receive_time = receive_time
        self.by_stream = by_stream
        self.by_req = by_req
        self.books = books
        """Topic -> its book (shared with the snapshot's cache, which serves them)."""
        self._on_book_invalid = on_book_invalid
        self._count_resync = count_resync
        self.invalid = 0
        """Depth changes refused by their book (each one re-requests its stream)."""

    def _head(self, inst: Instrument, kind: str) -> dict[str, Any]:
        return {
            "v": SCHEMA_VERSION,
            "type": kind,
            "pub": self._pub,
            "sid": self._sid,
            "seq": 0,
            "ts": 0,
            "key": inst.spec.key,
            "conid": inst.con_id,
        }

    # -- tick-by-tick ------------------------------------------------------------------------

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
        found = self.by_stream.get(req_id)
        if found is None:
            return  # a late message for a cancelled request
        inst, stream = found
        kind = TBT_KINDS.get(tick_type, "all_last" if stream.kind.tbt_type == "AllLast" else "last")
        payload = self._head(inst, "tbt")
        payload.update(
            kind=kind,
            time=int(time),
            price=float(price),
            size=_size(size),
            exchange=exchange,
            special_conditions=special_conditions,
            past_limit=bool(past_limit),
            unreported=bool(unreported),
            ts_recv=self._receive_time(),
        )
        self._send(inst, stream.topic, kind, payload, "tbt")

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
        found = self.by_stream.get(req_id)
        if found is None:
            return
        inst, stream = found
        payload = self._head(inst, "tbt")
        payload.update(
            kind="bid_ask",
            time=int(time),
            bid=float(bid),
            ask=float(ask),
            bid_size=_size(bid_size),
            ask_size=_size(ask_size),
            bid_past_low=bool(bid_past_low),
            ask_past_high=bool(ask_past_high),
            ts_recv=self._receive_time(),
        )
        self._send(inst, stream.topic, "bid_ask", payload, "tbt")

    def on_tbt_midpoint(self, req_id: int, time: int, mid: float) -> None:
        found = self.by_stream.get(req_id)
        if found is None:
            return
        inst, stream = found
        payload = self._head(inst, "tbt")
        payload.update(
            kind="midpoint", time=int(time), mid=float(mid), ts_recv=self._receive_time()
        )
        self._send(inst, stream.topic, "midpoint", payload, "tbt")

    # -- depth -------------------------------------------------------------------------------

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
        found = self.by_stream.get(req_id)
        if found is None:
            return
        inst, stream = found
        topic = stream.topic
        book = self.books.get(topic)
        if book is None:
            book = self.books[topic] = DepthBook(max_rows=stream.kind.rows)
        op_name = OPERATIONS.get(operation)
        side_name = SIDES.get(side)
        row_size = _size(size)
        price = float(price)
        if (
            op_name is None
            or side_name is None
            or not book.apply(position, op_name, side_name, price, row_size, market_maker)
        ):
            self.invalid += 1
            self._count_resync(inst.key)
            self._on_book_invalid(req_id)
            return
        self._publish_depth(inst, topic, position, op_name, side_name, price, row_size,
                            market_maker, bool(is_smart), self._receive_time())  # fmt: skip

    def _publish_depth(
        self,
        inst: Instrument,
        topic: str,
        position: int,
        operation: str,
        side: str,
        price: float,
        size: float,
        market_maker: str | None,
        is_smart: bool,
        ts_recv: int,
    ) -> None:
        payload = self._head(inst, "depth")
        payload.update(
            position=position,
            operation=operation,
            side=side,
            price=price,
            size=size,
            market_maker=market_maker,
            is_smart=is_smart,
            ts_recv=ts_recv,
        )
        self._send(inst, topic, "", payload, "depth")

    def reset_book(self, inst: Instrument, stream: Stream) -> None:
        """Empty a depth topic's book before its stream is (re)requested: a delete of row 0 per
        row, published, so subscribers' books empty in step (nothing is said when it is empty)."""
        book = self.books.get(stream.topic)
        if book is None:
            self.books[stream.topic] = DepthBook(max_rows=stream.kind.rows)
            return
        book.max_rows = stream.kind.rows
        now = self._receive_time()
        for side, rows in (("bid", book.bids), ("ask", book.asks)):
            while rows:
                price, size, maker = rows[0]
                del rows[0]
                smart = stream.kind.smart
                self._publish_depth(inst, stream.topic, 0, "delete", side, price, size, maker,
                                    smart, now)  # fmt: skip

    # -- bars --------------------------------------------------------------------------------

    def on_bar(
        self,
        req_id: int,
        time: int,
        open_: float,
        high: float,
        low: float,
        close: float,
        volume: Size,
        wap: Size,
        count: int,
    ) -> None:
        found = self.by_stream.get(req_id)
        if found is None:
            return
        inst, stream = found
        payload = self._head(inst, "bar")
        payload.update(
            what=stream.kind.what,
            time=int(time),
            open=float(open_),
            high=float(high),
            low=float(low),
            close=float(close),
            volume=_size(volume),
            wap=_size(wap),
            count=int(count),
            ts_recv=self._receive_time(),
        )
        self._send(inst, stream.topic, "bar", payload, "bar")

    # -- option computations -----------------------------------------------------------------

    def on_option(
        self,
        req_id: int,
        tick_type: int,
        implied_vol: float | None,
        delta: float | None,
        opt_price: float | None,
        pv_dividend: float | None,
        gamma: float | None,
        vega: float | None,
        theta: float | None,
        und_price: float | None,
    ) -> None:
        inst = self.by_req.get(req_id)
        if inst is None or not inst.greeks_topic:
            return  # greeks not asked for (an OPT instrument with l1 only): not published
        field = GREEKS_FIELDS.get(tick_type)
        if field is None:
            return
        payload = self._head(inst, "greeks")
        payload.update(
            tick_type=tick_type,
            field=field,
            implied_vol=_number(implied_vol),
            delta=_number(delta),
            opt_price=_number(opt_price),
            pv_dividend=_number(pv_dividend),
            gamma=_number(gamma),
            vega=_number(vega),
            theta=_number(theta),
            und_price=_number(und_price),
            mdt=_greeks_mdt(tick_type, inst.mdt),
            ts_recv=self._receive_time(),
        )
        self._send(inst, inst.greeks_topic, field, payload, "greeks")

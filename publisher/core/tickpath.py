"""The hot path: ibapi tick callbacks -> normalised contract v1 ticks -> the bus.

Everything here runs once per tick on the service thread, so it does the minimum: one dict
lookup for the instrument, the pure normalisers, one dict holding the whole message, one
``Bus.queue_tick`` (stamp ``seq`` and ``ts``, encode) and one dict increment. The rest is done
per batch or per gateway read, in :meth:`TickPath.flush`, which the gateway client calls after
each read:

* queued ticks go to ZeroMQ together, every :data:`BATCH` ticks and at the end of the read, and
  their tick-to-publish latency is observed then (:mod:`publisher.observability.histogram`);
* the tick counters (``ibpub_ticks_total``, ``ibpub_messages_published_total{type="tick"}``)
  are incremented once per read: a counter ``inc`` costs about 0.5 us, more than building the
  message.

The first tick of a pending or stale instrument is handed back (``on_ticking``) for the
subscription machine to decide its new state. The instruments are looked up in a read-only
view of the machine's request map; the only thing written here is each record's
``last_tick_ns``. No ZeroMQ and no metrics library: the bus and the counters are Protocols.
"""

import time
from collections.abc import Callable, Mapping
from typing import Any, Final, Protocol

from publisher.core.instruments import PENDING, STALE, Instrument, Stream
from publisher.core.kindpath import BookCounter, KindPath
from publisher.core.normalise import (
    Size,
    field_name,
    field_names,
    generic_value,
    market_data_type,
    normal_price,
    normal_size,
    string_value,
)
from publisher.core.schema import SCHEMA_VERSION
from subscribers.depth import DepthBook

Ticking = Callable[[Instrument], None]
"""Told of the first tick of a pending or stale instrument."""

BATCH: Final = 128
"""Ticks handed to ZeroMQ together (at the latest at the end of each read): enough for its
I/O thread to wake once per batch, few enough to hold the first of them about a millisecond."""


class Observer(Protocol):
    """A histogram: ``ibpub_tick_latency_seconds``."""

    def observe_many(self, amount: float, count: int) -> None: ...


class Counter(Protocol):
    """A counter: ``ibpub_messages_published_total{type="tick"}``."""

    def inc(self, amount: float = 1) -> None: ...


class TickBus(Protocol):
    """The part of :class:`publisher.bus.publish.Bus` the tick path uses."""

    @property
    def name(self) -> str: ...
    @property
    def sid(self) -> int: ...
    def queue_tick(self, topic: str, payload: dict[str, Any]) -> dict[str, Any]: ...
    def send_queued(self) -> int: ...


def _discard(topic: str, payload: dict[str, Any]) -> None:
    """No last-value cache: published payloads are not kept."""


def _discard_slot(topic: str, slot: str, payload: dict[str, Any]) -> None:
    """No last-value cache for the other kinds."""


def _ignore(req_id: int) -> None:
    """Nobody to tell of an impossible book change."""


def _ignore_key(key: str) -> None:
    """No resync counter."""


class TickPath:
    """Publishes the ticks of subscribed instruments, keyed by market-data request id."""

    def __init__(
        self,
        bus: TickBus,
        latency: Observer,
        receive_time: Callable[[], int],
        on_ticking: Ticking,
        record_last: Callable[[str, dict[str, Any]], None] | None = None,
        *,
        by_req: Mapping[int, Instrument],
        tick_names: Mapping[int, str],
        tick_messages: Counter | None = None,
        by_stream: Mapping[int, tuple[Instrument, Stream]] | None = None,
        record_slot: Callable[[str, str, dict[str, Any]], None] | None = None,
        books: dict[str, DepthBook] | None = None,
        on_book_invalid: Callable[[int], None] | None = None,
        count_resync: BookCounter | None = None,
        kind_messages: Mapping[str, Counter] | None = None,
    ) -> None:
        """``tick_names`` is ibapi's ``{id: lower-case name}`` table
        (:data:`publisher.gateway.ticktypes.IBAPI_TICK_NAMES`), passed in to keep ibapi out of
        the core."""
        self.by_req = by_req
        """Market data request id -> instrument (a read-only view of the machine's map)."""
        self._fields = field_names(tick_names)
        self._pub = bus.name
        self._sid = bus.sid
        self._queue = bus.queue_tick
        self._send_bus_queue = bus.send_queued
        self._queued = 0
        """Ticks queued on the bus and not yet observed (all from one read)."""
        self._queued_recv = 0
        # The last-value cache (publisher/bus/snapshot.py) keeps each payload exactly as sent.
        self._record_last = record_last or _discard
        self._observe_many = latency.observe_many
        self._receive_time = receive_time
        self._on_ticking = on_ticking
        self._tick_messages = tick_messages
        self._unflushed: dict[Instrument, int] = {}
        """Ticks published per instrument since the last :meth:`flush`."""
        self._record_slot = record_slot or _discard_slot
        self._kind_messages = kind_messages or {}
        self._kinds_unflushed: dict[str, int] = {}
        self.kinds = KindPath(
            pub=bus.name,
            sid=bus.sid,
            send=self._send_kind,
            receive_time=receive_time,
            by_stream=by_stream if by_stream is not None else {},
            by_req=by_req,
            books=books if books is not None else {},
            on_book_invalid=on_book_invalid or _ignore,
            count_resync=count_resync or _ignore_key,
        )
        """The other data kinds (tick-by-tick, depth, bars, greeks): :mod:`.kindpath`."""
        kinds = self.kinds
        self.on_tbt_last = kinds.on_tbt_last
        self.on_tbt_bid_ask = kinds.on_tbt_bid_ask
        self.on_tbt_midpoint = kinds.on_tbt_midpoint
        self.on_depth = kinds.on_depth
        self.on_bar = kinds.on_bar
        self.on_option = kinds.on_option

    # The four callbacks build the whole message in one dict literal, envelope first (in the
    # contract's order; Bus.queue_tick fills in seq and ts). Repeating the literal four times
    # is deliberate: one dict and no merge per tick is the cheapest way to build it.

    def on_price(self, req_id: int, tick_type: int, price: float, mask: int) -> None:
        inst = self.by_req.get(req_id)
        if inst is None:
            return  # a late tick for a cancelled request
        self._send(
            inst,
            {
                "v": SCHEMA_VERSION,
                "type": "tick",
                "pub": self._pub,
                "sid": self._sid,
                "seq": 0,
                "ts": 0,
                "key": inst.spec.key,
                "conid": inst.con_id,
                "field": field_name(self._fields, tick_type),
                "tick_type": tick_type,
                "price": normal_price(price),
                "attrib": mask,
                "mdt": market_data_type(tick_type, inst.mdt),
                "ts_recv": self._receive_time(),
            },
        )

    def on_size(self, req_id: int, tick_type: int, size: Size) -> None:
        inst = self.by_req.get(req_id)
        if inst is None:
            return
        self._send(
            inst,
            {
                "v": SCHEMA_VERSION,
                "type": "tick",
                "pub": self._pub,
                "sid": self._sid,
                "seq": 0,
                "ts": 0,
                "key": inst.spec.key,
                "conid": inst.con_id,
                "field": field_name(self._fields, tick_type),
                "tick_type": tick_type,
                "size": normal_size(size),
                "mdt": market_data_type(tick_type, inst.mdt),
                "ts_recv": self._receive_time(),
            },
        )

    def on_generic(self, req_id: int, tick_type: int, value: float) -> None:
        inst = self.by_req.get(req_id)
        if inst is None:
            return
        self._send(
            inst,
            {
                "v": SCHEMA_VERSION,
                "type": "tick",
                "pub": self._pub,
                "sid": self._sid,
                "seq": 0,
                "ts": 0,
                "key": inst.spec.key,
                "conid": inst.con_id,
                "field": field_name(self._fields, tick_type),
                "tick_type": tick_type,
                "value": generic_value(tick_type, value),
                "mdt": market_data_type(tick_type, inst.mdt),
                "ts_recv": self._receive_time(),
            },
        )

    def on_string(self, req_id: int, tick_type: int, value: str) -> None:
        inst = self.by_req.get(req_id)
        if inst is None:
            return
        self._send(
            inst,
            {
                "v": SCHEMA_VERSION,
                "type": "tick",
                "pub": self._pub,
                "sid": self._sid,
                "seq": 0,
                "ts": 0,
                "key": inst.spec.key,
                "conid": inst.con_id,
                "field": field_name(self._fields, tick_type),
                "tick_type": tick_type,
                "value": string_value(tick_type, value),
                "mdt": market_data_type(tick_type, inst.mdt),
                "ts_recv": self._receive_time(),
            },
        )

    def _send(self, inst: Instrument, payload: dict[str, Any]) -> None:
        if not inst.publish_l1:
            return  # reqMktData for greeks only: its l1 ticks were not asked for
        ts_recv: int = payload["ts_recv"]
        self._record_last(inst.topic, self._queue(inst.topic, payload))
        self._queued_recv = ts_recv
        self._queued += 1
        if self._queued >= BATCH:
            self._send_queued()
        unflushed = self._unflushed
        unflushed[inst] = unflushed.get(inst, 0) + 1
        inst.last_tick_ns = ts_recv
        if inst.state == PENDING or inst.state == STALE:
            self._on_ticking(inst)

    def _send_kind(
        self, inst: Instrument, topic: str, slot: str, payload: dict[str, Any], kind: str
    ) -> None:
        """The kinds' send: stamp and queue, cache (by ``slot``), count, and tell the machine
        of an instrument's first message."""
        ts_recv: int = payload["ts_recv"]
        self._record_slot(topic, slot, self._queue(topic, payload))
        self._queued_recv = ts_recv
        self._queued += 1
        if self._queued >= BATCH:
            self._send_queued()
        unflushed = self._kinds_unflushed
        unflushed[kind] = unflushed.get(kind, 0) + 1
        inst.last_tick_ns = ts_recv
        if inst.state == PENDING or inst.state == STALE:
            self._on_ticking(inst)

    def _send_queued(self) -> None:
        """Hand the queued ticks to ZeroMQ and observe their tick-to-publish latency.

        The ticks of one batch share their read (``ts_recv``) and their hand-off, so they share
        one latency. The count is ours, not the bus's: the bus also sends queued ticks before
        any other message (a status raised by a tick), and those still need observing.
        """
        self._send_bus_queue()
        count = self._queued
        if count:
            self._observe_many((time.time_ns() - self._queued_recv) * 1e-9, count)
            self._queued = 0

    def flush(self) -> None:
        """Send what is queued and add it to the tick counters: call once after every read."""
        self._send_queued()
        if self._kinds_unflushed:
            for kind, count in self._kinds_unflushed.items():
                counter = self._kind_messages.get(kind)
                if counter is not None:
                    counter.inc(count)
            self._kinds_unflushed.clear()
        unflushed = self._unflushed
        if not unflushed:
            return
        total = 0
        for inst, count in unflushed.items():
            inst.counter.inc(count)
            total += count
        unflushed.clear()
        if self._tick_messages is not None:
            self._tick_messages.inc(total)

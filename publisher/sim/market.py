"""Seeded random-walk quotes for the simulated gateway: each step yields exactly one tick.

One tick is one frame on the wire, so a caller that wants ``rate`` frames per second asks for
``rate * dt`` ticks per time slice and gets exactly that many. Pure apart from the injected clock
(used only for LAST_TIMESTAMP values): given the same seed, the same subscriptions in the same
order and the same calls, the same ticks come out. That makes it usable three ways:

* the server's pacing loop calls :meth:`Market.next_ticks` every ~10 ms;
* a benchmark can pre-generate frames with ``[encoder.tick(t) for _, t in market.next_ticks(n)]``;
* tests can assert on exact sequences.

Prices are kept as integer multiples of the contract's minTick, so every price respects it.
Sizes are integer multiples of the instrument's lot.
"""

import random
import time
from collections import deque
from collections.abc import Callable
from decimal import Decimal
from typing import Final, Protocol

from publisher.sim.catalogue import Instrument
from publisher.sim.protocol import PriceTick, SizeTick, StringTick, TickEvent, TickType

_QUOTE_SHARE: Final = 0.55
"""Share of steps that move the bid or ask price (the rest: size-only changes and trades)."""
_SIZE_SHARE: Final = 0.25
_MOVES: Final = (-2, -1, -1, 0, 1, 1, 2)  # bid move in ticks per quote update
_SPREADS: Final = (1, 1, 1, 2, 2, 3)  # bid-ask spread in ticks
_BAND: Final = 0.10
"""Quotes are pulled back once the bid wanders more than this fraction from the start price."""


class WalkObserver(Protocol):
    """Told of every change of a walk's quote and of every trade (depth, tick-by-tick, bars)."""

    def on_quote(self, walk: "Walk") -> None:
        """The best bid or ask (price or size) changed; the walk holds the new values."""
        ...

    def on_trade(self, walk: "Walk") -> None:
        """A trade of ``walk.last_size`` at ``walk.last`` (volume already counts it)."""
        ...


class Walk:
    """The mutable state of one subscription's market: prices in ticks, sizes in units."""

    __slots__ = (
        "ask",
        "ask_size",
        "bid",
        "bid_size",
        "ceiling",
        "clock",
        "close",
        "con_id",
        "digits",
        "floor",
        "high",
        "last",
        "last_size",
        "lot",
        "low",
        "observers",
        "open",
        "pending",
        "req_id",
        "rng",
        "tick",
        "volume",
    )

    def __init__(
        self, req_id: int, instrument: Instrument, rng: random.Random, clock: Callable[[], float]
    ) -> None:
        self.req_id = req_id
        self.rng = rng
        self.clock = clock
        self.tick = instrument.spec.min_tick
        exponent = Decimal(repr(self.tick)).normalize().as_tuple().exponent
        self.digits = max(0, -exponent) if isinstance(exponent, int) else 8
        self.lot = instrument.lot
        self.con_id = instrument.con_id
        self.pending: deque[TickEvent] = deque()
        self.observers: list[WalkObserver] = []

        ref = max(10, round(instrument.price / self.tick))
        span = max(1, ref // 100)
        self.floor = max(1, round(ref * (1 - _BAND)))
        self.ceiling = round(ref * (1 + _BAND))
        self.close = ref + rng.randint(-span, span)
        self.open = self.close + rng.randint(-span // 2, span // 2)
        self.bid = ref
        self.ask = ref + rng.choice(_SPREADS)
        self.last = rng.choice((self.bid, self.ask))
        self.high = max(self.open, self.ask, self.last) + rng.randint(0, span)
        self.low = max(1, min(self.open, self.bid, self.last) - rng.randint(0, span))
        self.bid_size = self._size(20)
        self.ask_size = self._size(20)
        self.last_size = self._size(5)
        self.volume = self.lot * rng.randint(10_000, 200_000)

    def price(self, ticks: int) -> float:
        return round(ticks * self.tick, self.digits)

    def _size(self, most: int) -> int:
        return self.lot * self.rng.randint(1, most)

    def initial(self) -> list[TickEvent]:
        """The full quote TWS sends when a subscription starts."""
        r = self.req_id
        return [
            PriceTick(r, TickType.BID, self.price(self.bid), self.bid_size),
            PriceTick(r, TickType.ASK, self.price(self.ask), self.ask_size),
            PriceTick(r, TickType.LAST, self.price(self.last), self.last_size),
            SizeTick(r, TickType.VOLUME, self.volume),
            PriceTick(r, TickType.HIGH, self.price(self.high)),
            PriceTick(r, TickType.LOW, self.price(self.low)),
            PriceTick(r, TickType.CLOSE, self.price(self.close)),
            PriceTick(r, TickType.OPEN, self.price(self.open)),
            StringTick(r, TickType.LAST_TIMESTAMP, str(int(self.clock()))),
        ]

    def step(self) -> TickEvent:
        """The next single tick: a queued follow-up, or a new quote, size change or trade."""
        if self.pending:
            return self.pending.popleft()
        draw = self.rng.random()
        if draw < _QUOTE_SHARE:
            return self._quote()
        if draw < _QUOTE_SHARE + _SIZE_SHARE:
            return self._size_change()
        return self._trade()

    def _quote(self) -> TickEvent:
        move = self.rng.choice(_MOVES)
        if self.bid + move > self.ceiling:
            move = -abs(move)
        elif self.bid + move < self.floor:
            move = abs(move)
        bid = max(1, self.bid + move)
        ask = bid + self.rng.choice(_SPREADS)
        if bid == self.bid and ask == self.ask:
            return self._size_change()
        events: list[TickEvent] = []
        if bid != self.bid:
            self.bid_size = self._size(20)
            events.append(PriceTick(self.req_id, TickType.BID, self.price(bid), self.bid_size))
        if ask != self.ask:
            self.ask_size = self._size(20)
            events.append(PriceTick(self.req_id, TickType.ASK, self.price(ask), self.ask_size))
        if ask > self.ask:
            events.reverse()  # moving up: lift the ask first so the book never crosses
        self.bid, self.ask = bid, ask
        self.pending.extend(events[1:])
        for observer in self.observers:
            observer.on_quote(self)
        return events[0]

    def _size_change(self) -> TickEvent:
        size = self._size(20)
        if self.rng.random() < 0.5:
            self.bid_size = size if size != self.bid_size else size + self.lot
            event = SizeTick(self.req_id, TickType.BID_SIZE, self.bid_size)
        else:
            self.ask_size = size if size != self.ask_size else size + self.lot
            event = SizeTick(self.req_id, TickType.ASK_SIZE, self.ask_size)
        for observer in self.observers:
            observer.on_quote(self)
        return event

    def _trade(self) -> TickEvent:
        r = self.req_id
        self.last = self.bid if self.rng.random() < 0.5 else self.ask
        self.last_size = self._size(5)
        self.volume += self.last_size
        self.pending.append(SizeTick(r, TickType.VOLUME, self.volume))
        self.pending.append(StringTick(r, TickType.LAST_TIMESTAMP, str(int(self.clock()))))
        if self.last > self.high:
            self.high = self.last
            self.pending.append(PriceTick(r, TickType.HIGH, self.price(self.high)))
        elif self.last < self.low:
            self.low = self.last
            self.pending.append(PriceTick(r, TickType.LOW, self.price(self.low)))
        for observer in self.observers:
            observer.on_trade(self)
        return PriceTick(r, TickType.LAST, self.price(self.last), self.last_size)


class Market:
    """All active subscriptions' random walks, and a seeded choice of which one ticks next.

    Each subscription gets its own generator seeded from the market's, so the sequence depends
    only on the seed and the order of :meth:`subscribe` / :meth:`snapshot` calls.
    """

    __slots__ = ("_clock", "_hidden", "_next_id", "_order", "_rng", "_walks")

    def __init__(self, seed: int = 1, *, clock: Callable[[], float] = time.time) -> None:
        self._rng = random.Random(seed)
        self._clock = clock
        self._walks: dict[int, Walk] = {}
        self._order: list[int] = []
        self._hidden: set[int] = set()
        """Walks that tick for their observers only (no L1 stream sends them)."""
        self._next_id = 1

    def __len__(self) -> int:
        """The number of streaming subscriptions (walks kept only for observers not counted)."""
        return len(self._order) - len(self._hidden)

    @property
    def ticking(self) -> bool:
        """Whether any walk moves: a stream's, or one kept for depth, tick-by-tick or bars."""
        return bool(self._order)

    def feed(self, instrument: Instrument) -> Walk:
        """The walk ``instrument``'s other data kinds follow, so that they agree with its L1.

        That is the walk of its oldest live L1 stream; without one, a hidden walk that ticks with
        the others but sends nothing itself. Add an observer to it, and :meth:`release` it.
        """
        for sub_id in self._order:
            walk = self._walks[sub_id]
            if walk.con_id == instrument.con_id:
                return walk
        walk = self._new_walk(0, instrument)
        sub_id = self._next_id
        self._next_id += 1
        self._walks[sub_id] = walk
        self._order.append(sub_id)
        self._hidden.add(sub_id)
        return walk

    def release(self, walk: Walk, observer: WalkObserver) -> None:
        """Stop telling ``observer`` of ``walk``; a hidden walk nobody watches stops."""
        if observer in walk.observers:
            walk.observers.remove(observer)
        if walk.observers:
            return
        for sub_id in [s for s in self._hidden if self._walks[s] is walk]:
            self._hidden.discard(sub_id)
            del self._walks[sub_id]
            self._order.remove(sub_id)

    def subscribe(self, req_id: int, instrument: Instrument) -> tuple[int, list[TickEvent]]:
        """Start a stream; returns its subscription id and the initial full quote.

        A hidden walk of the same instrument (see :meth:`feed`) becomes this stream's, so that
        its L1 agrees with the depth, tick-by-tick or bars already following that walk.
        """
        for sub_id in self._hidden:
            walk = self._walks[sub_id]
            if walk.con_id == instrument.con_id:
                self._hidden.discard(sub_id)
                walk.req_id = req_id
                walk.pending.clear()  # follow-ups of ticks nobody was sent
                return sub_id, walk.initial()
        walk = self._new_walk(req_id, instrument)
        sub_id = self._next_id
        self._next_id += 1
        self._walks[sub_id] = walk
        self._order.append(sub_id)
        return sub_id, walk.initial()

    def snapshot(self, req_id: int, instrument: Instrument) -> list[TickEvent]:
        """A one-off full quote (reqMktData with snapshot=1); nothing keeps streaming."""
        return self._new_walk(req_id, instrument).initial()

    def unsubscribe(self, sub_id: int) -> None:
        """Stop a stream; unknown ids are ignored. A walk others still observe keeps ticking."""
        walk = self._walks.get(sub_id)
        if walk is None or sub_id in self._hidden:
            return
        if walk.observers:
            self._hidden.add(sub_id)
            return
        del self._walks[sub_id]
        self._order.remove(sub_id)

    def next_ticks(self, count: int) -> list[tuple[int, TickEvent]]:
        """The next ``count`` ticks across all streams, as ``(subscription id, tick)`` pairs."""
        order = self._order
        if not order or count <= 0:
            return []
        walks = self._walks
        draw = self._rng.random
        size = len(order)
        hidden = self._hidden
        result: list[tuple[int, TickEvent]] = []
        append = result.append
        for _ in range(count):
            sub_id = order[int(draw() * size)]
            event = walks[sub_id].step()
            if not hidden or sub_id not in hidden:
                append((sub_id, event))
        return result

    def _new_walk(self, req_id: int, instrument: Instrument) -> Walk:
        rng = random.Random(self._rng.getrandbits(64))
        return Walk(req_id, instrument, rng, self._clock)

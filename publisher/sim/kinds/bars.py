"""Real-time bars (reqRealTimeBars): 5-second bars aggregated from a walk's trades or quotes.

``TRADES`` bars hold the walk's trades in the period (open/high/low/close of their prices, the
summed size as volume, the size-weighted average price as WAP, the number of trades as count); a
period without trades repeats the last price with volume 0. ``MIDPOINT``, ``BID`` and ``ASK``
bars hold that quote's values over the period (its value at the start, then every change),
with volume, WAP and count ``-1`` as IB reports them for quote bars.

Bars are labelled with their start time, 5 s apart from a 5 s-aligned start. They come every
``period`` wall seconds: 5 like IB, or faster for tests, each still labelled as a 5-second bar.
"""

import asyncio
from collections.abc import Callable

from publisher.sim.kinds.limits import BAR_SIZE
from publisher.sim.kinds.tbt import mid_price
from publisher.sim.market import Walk
from publisher.sim.protocol.data_events import Bar


class BarStream:
    """One real-time bar subscription."""

    __slots__ = (
        "_clock",
        "_close",
        "_count",
        "_handle",
        "_high",
        "_label",
        "_low",
        "_notional",
        "_open",
        "_period",
        "_send",
        "_volume",
        "req_id",
        "walk",
        "what",
    )

    def __init__(
        self,
        req_id: int,
        what: str,
        walk: Walk,
        send: Callable[[Bar], None],
        clock: Callable[[], float],
        period: float,
    ) -> None:
        self.req_id = req_id
        self.what = what
        self.walk = walk
        self._send = send
        self._clock = clock
        self._period = period
        self._handle: asyncio.TimerHandle | None = None
        self._label = int(clock()) // BAR_SIZE * BAR_SIZE
        self._open = self._high = self._low = self._close = 0.0
        self._volume = 0
        self._notional = 0.0
        self._count = 0
        self._begin()

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Observe the walk and send a bar every period."""
        self.walk.observers.append(self)
        self._handle = loop.call_later(self._period, self._tick, loop)

    def stop(self) -> None:
        """No more bars."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _value(self) -> float:
        walk = self.walk
        if self.what == "BID":
            return walk.price(walk.bid)
        if self.what == "ASK":
            return walk.price(walk.ask)
        if self.what == "MIDPOINT":
            return mid_price(walk)
        return walk.price(walk.last)

    def _begin(self) -> None:
        value = self._value()
        self._open = self._high = self._low = self._close = value
        self._volume = 0
        self._notional = 0.0
        self._count = 0

    def _add(self, price: float) -> None:
        if self._count == 0 and self.what == "TRADES":
            self._open = self._high = self._low = price
        self._high = max(self._high, price)
        self._low = min(self._low, price)
        self._close = price

    def on_quote(self, walk: Walk) -> None:
        if self.what != "TRADES":
            self._add(self._value())

    def on_trade(self, walk: Walk) -> None:
        if self.what == "TRADES":
            price = walk.price(walk.last)
            self._add(price)
            self._volume += walk.last_size
            self._notional += price * walk.last_size
            self._count += 1

    def bar(self) -> Bar:
        """The bar so far (what the next send will carry)."""
        if self.what != "TRADES":
            return Bar(
                self.req_id, self._label, self._open, self._high, self._low, self._close, -1, -1, -1
            )
        wap = round(self._notional / self._volume, 6) if self._volume else self._close
        return Bar(
            self.req_id,
            self._label,
            self._open,
            self._high,
            self._low,
            self._close,
            self._volume,
            wap,
            self._count,
        )

    def _tick(self, loop: asyncio.AbstractEventLoop) -> None:
        self._handle = loop.call_later(self._period, self._tick, loop)
        self._send(self.bar())
        self._label += BAR_SIZE
        self._begin()

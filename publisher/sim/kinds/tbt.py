"""Tick-by-tick streams (reqTickByTickData): every trade and every quote change of a walk."""

import random
from collections.abc import Callable
from typing import Final

from publisher.sim.market import Walk
from publisher.sim.protocol.data_events import (
    TBT_ALL_LAST,
    TBT_BID_ASK,
    TBT_LAST,
    TBT_MIDPOINT,
    TbtBidAsk,
    TbtEvent,
    TbtLast,
    TbtMidPoint,
)

TRADE_EXCHANGES: Final = ("NASDAQ", "ARCA", "NYSE", "BATS", "IEX", "EDGX", "DRCTEDGE")
"""Where simulated stock trades print (tick-by-tick ``exchange``)."""


class TbtStream:
    """One tick-by-tick subscription: Last/AllLast per trade, BidAsk/MidPoint per quote change.

    BidAsk and MidPoint send the current value at once (as TWS does); Last and AllLast wait for
    the next trade. A trade's price and size are the walk's ``last`` and ``last_size``, the same
    the L1 stream reports, and each adds to the walk's volume.
    """

    __slots__ = ("_clock", "_exchanges", "_last", "_rng", "_send", "req_id", "tick_type", "walk")

    def __init__(
        self,
        req_id: int,
        tick_type: int,
        walk: Walk,
        send: Callable[[TbtEvent], None],
        clock: Callable[[], float],
        exchanges: tuple[str, ...] = TRADE_EXCHANGES,
    ) -> None:
        self.req_id = req_id
        self.tick_type = tick_type
        self.walk = walk
        self._send = send
        self._clock = clock
        self._rng = random.Random(req_id * 7919 + walk.con_id)
        self._exchanges = exchanges
        self._last: object = None

    def start(self) -> None:
        """Send the current quote (BidAsk, MidPoint); start observing the walk."""
        self.walk.observers.append(self)
        if self.tick_type in (TBT_BID_ASK, TBT_MIDPOINT):
            self.on_quote(self.walk)

    def on_quote(self, walk: Walk) -> None:
        if self.tick_type == TBT_BID_ASK:
            quote = (walk.bid, walk.ask, walk.bid_size, walk.ask_size)
            if quote != self._last:
                self._last = quote
                self._send(
                    TbtBidAsk(
                        self.req_id,
                        int(self._clock()),
                        walk.price(walk.bid),
                        walk.price(walk.ask),
                        walk.bid_size,
                        walk.ask_size,
                    )
                )
        elif self.tick_type == TBT_MIDPOINT:
            mid = mid_price(walk)
            if mid != self._last:
                self._last = mid
                self._send(TbtMidPoint(self.req_id, int(self._clock()), mid))

    def on_trade(self, walk: Walk) -> None:
        if self.tick_type in (TBT_LAST, TBT_ALL_LAST):
            self._send(
                TbtLast(
                    self.req_id,
                    self.tick_type,
                    int(self._clock()),
                    walk.price(walk.last),
                    walk.last_size,
                    self._rng.choice(self._exchanges),
                )
            )


def mid_price(walk: Walk) -> float:
    """The walk's midpoint, rounded one digit finer than its minTick."""
    return round((walk.bid + walk.ask) * walk.tick / 2, walk.digits + 1)

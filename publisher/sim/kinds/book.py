"""Market depth (reqMktDepth): a book of ``rows`` levels a side around a walk's bid and ask.

The best row of each side is always the walk's bid (ask) with its size, so depth agrees with
L1. Deeper rows are one minTick apart. Every change goes out as an insert, update or delete that
is valid for the book the client holds (rows never exceed ``rows``: the row that would fall off
is deleted first), so a client applying them in order has this book. A trade changes the size
of one deeper row, as resting orders come and go.
"""

import random
from collections.abc import Callable
from typing import Final

from publisher.sim.market import Walk
from publisher.sim.protocol.data_events import (
    DEPTH_DELETE,
    DEPTH_INSERT,
    DEPTH_UPDATE,
    SIDE_ASK,
    SIDE_BID,
    DepthChange,
)

SMART_MARKET_MAKERS: Final = ("NSDQ", "ARCA", "NYSE", "BATS", "IEX", "EDGX", "MEMX")
"""The exchanges smart depth names as each row's market maker."""

_Row = list[int | str]  # [price in ticks, size, market maker]


class SimBook:
    """One depth subscription's book; :meth:`rows_of` gives it as the client should hold it."""

    __slots__ = (
        "_asks",
        "_bids",
        "_l2",
        "_rng",
        "_send",
        "changes",
        "is_smart",
        "req_id",
        "rows",
        "walk",
    )

    def __init__(
        self,
        req_id: int,
        rows: int,
        walk: Walk,
        send: Callable[[DepthChange], None],
        *,
        is_smart: bool = False,
        seed: int = 0,
    ) -> None:
        if rows < 1:
            raise ValueError(f"rows must be >= 1, not {rows}")
        self.req_id = req_id
        self.rows = rows
        self.walk = walk
        self.is_smart = is_smart
        self._l2 = is_smart
        self._send = send
        self._rng = random.Random(seed * 104729 + req_id)
        self._bids: list[_Row] = []
        self._asks: list[_Row] = []
        self.changes = 0
        """Changes sent so far: a client that applied this many holds :meth:`rows_of`."""

    # -- the book as the client holds it -------------------------------------------------------

    def rows_of(self, side: int) -> list[tuple[float, int, str | None]]:
        """One side (``SIDE_BID`` / ``SIDE_ASK``), best first: (price, size, market maker)."""
        book = self._bids if side == SIDE_BID else self._asks
        return [
            (self.walk.price(int(r[0])), int(r[1]), str(r[2]) if self._l2 else None) for r in book
        ]

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        """Send the whole book as inserts, then follow the walk."""
        self._side(self._bids, SIDE_BID, self.walk.bid, self.walk.bid_size)
        self._side(self._asks, SIDE_ASK, self.walk.ask, self.walk.ask_size)
        self.walk.observers.append(self)

    def on_quote(self, walk: Walk) -> None:
        self._side(self._bids, SIDE_BID, walk.bid, walk.bid_size)
        self._side(self._asks, SIDE_ASK, walk.ask, walk.ask_size)

    def on_trade(self, walk: Walk) -> None:
        side = SIDE_BID if self._rng.random() < 0.5 else SIDE_ASK
        book = self._bids if side == SIDE_BID else self._asks
        if len(book) > 1:
            position = self._rng.randrange(1, len(book))
            self._op(book, side, DEPTH_UPDATE, position, int(book[position][0]), self._size())

    # -- changes -------------------------------------------------------------------------------

    def _size(self) -> int:
        return self.walk.lot * self._rng.randint(1, 40)

    def _maker(self) -> str:
        return self._rng.choice(SMART_MARKET_MAKERS)

    def _side(self, book: list[_Row], side: int, best: int, best_size: int) -> None:
        """Bring one side to ``best``: drop rows better than it, add levels up to it, refill."""
        deeper = -1 if side == SIDE_BID else 1

        def better(price: int) -> bool:
            return (price - best) * -deeper > 0

        while book and better(int(book[0][0])):
            self._op(book, side, DEPTH_DELETE, 0, int(book[0][0]), int(book[0][1]))
        if book and int(book[0][0]) != best:
            gap = abs(best - int(book[0][0]))
            if gap >= self.rows:
                while book:
                    self._op(book, side, DEPTH_DELETE, 0, int(book[0][0]), int(book[0][1]))
            else:
                price = int(book[0][0])
                for _ in range(gap):
                    price -= deeper
                    if len(book) >= self.rows:
                        last = len(book) - 1
                        self._op(book, side, DEPTH_DELETE, last, int(book[last][0]), 0)
                    size = best_size if price == best else self._size()
                    self._op(book, side, DEPTH_INSERT, 0, price, size)
        if not book:
            self._op(book, side, DEPTH_INSERT, 0, best, best_size)
        while len(book) < self.rows and int(book[-1][0]) + deeper >= 1:
            self._op(book, side, DEPTH_INSERT, len(book), int(book[-1][0]) + deeper, self._size())
        if int(book[0][1]) != best_size:
            self._op(book, side, DEPTH_UPDATE, 0, best, best_size)

    def _op(
        self, book: list[_Row], side: int, operation: int, position: int, price: int, size: int
    ) -> None:
        if operation == DEPTH_INSERT:
            maker = self._maker() if self._l2 else ""
            book.insert(position, [price, size, maker])
        elif operation == DEPTH_UPDATE:
            row = book[position]
            maker = str(row[2])
            row[0], row[1] = price, size
        else:
            maker = str(book[position][2])
            del book[position]
        self.changes += 1
        self._send(
            DepthChange(
                self.req_id,
                position,
                operation,
                side,
                self.walk.price(price),
                size,
                maker if self._l2 else None,
                self.is_smart,
            )
        )

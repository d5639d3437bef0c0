"""An L2 order book kept from ``depth`` messages: the one book logic of both ends.

The publisher keeps one per ``depth.`` topic (to serve late joiners the whole book in the
snapshot); the subscriber library keeps one per key (``sub.books``), applying the same changes
in the same order, so the two agree row for row.

IB's rules (updateMktDepth / updateMktDepthL2): rows are numbered from 0 (the best) on each
side; ``insert`` at ``position`` shifts that row and those below it down by one (a position
equal to the side's length appends); ``update`` replaces the row at ``position``; ``delete``
removes it and shifts the rows below up. Anything else (an update or delete of a row that is
not there, an insert beyond the end) is impossible for the book: :meth:`DepthBook.apply`
refuses it, leaves the book as it was and returns False, and the caller resyncs (the
publisher re-requests the depth, a subscriber asks for a snapshot). Rows beyond ``max_rows``
fall off the end after an insert, as they do at IB.

Pure: no sockets, no clocks.
"""

from dataclasses import dataclass, field
from typing import Final, TypeAlias

Row: TypeAlias = tuple[float, float, str | None]
"""One row: (price, size, market maker or None)."""

OPERATIONS: Final[dict[int, str]] = {0: "insert", 1: "update", 2: "delete"}
"""IB's ``operation`` codes and their names on the wire."""
SIDES: Final[dict[int, str]] = {0: "ask", 1: "bid"}
"""IB's ``side`` codes (0 ask, 1 bid) and their names on the wire."""


@dataclass(slots=True)
class DepthBook:
    """Both sides of one instrument's book, best row first."""

    max_rows: int = 0
    """Rows kept per side (0: no limit)."""
    bids: list[Row] = field(default_factory=list)
    asks: list[Row] = field(default_factory=list)

    def apply(
        self,
        position: int,
        operation: str,
        side: str,
        price: float,
        size: float,
        market_maker: str | None = None,
    ) -> bool:
        """Apply one change; False (book unchanged) when it is impossible for this book."""
        if side == "bid":
            rows = self.bids
        elif side == "ask":
            rows = self.asks
        else:
            return False
        if position < 0:
            return False
        row: Row = (price, size, market_maker)
        if operation == "update":
            if position >= len(rows):
                return False
            rows[position] = row
        elif operation == "insert":
            if position > len(rows):
                return False
            rows.insert(position, row)
            if self.max_rows and len(rows) > self.max_rows:
                del rows[self.max_rows :]
        elif operation == "delete":
            if position >= len(rows):
                return False
            del rows[position]
        else:
            return False
        return True

    def clear(self) -> None:
        """Empty both sides (a resync starts from nothing)."""
        self.bids.clear()
        self.asks.clear()

    def replace(self, bids: list[Row], asks: list[Row]) -> None:
        """Take a whole book (a snapshot's), best row first on each side."""
        self.bids[:] = bids
        self.asks[:] = asks

    @property
    def best_bid(self) -> Row | None:
        """The best bid row, or None when the side is empty."""
        return self.bids[0] if self.bids else None

    @property
    def best_ask(self) -> Row | None:
        """The best ask row, or None when the side is empty."""
        return self.asks[0] if self.asks else None

    def spread(self) -> float | None:
        """Best ask minus best bid, or None while either side is empty."""
        if not self.bids or not self.asks:
            return None
        return self.asks[0][0] - self.bids[0][0]

"""A top-of-book view per instrument, built from tick messages (pure: no sockets).

A :class:`Quote` is a live row of the view, updated in place as ticks arrive; copy what you
need (:meth:`Quote.top`) to keep a value that no longer changes.
"""

from dataclasses import dataclass
from typing import Any, Final

from subscribers.wire import Tick

TOP_FIELDS: Final = ("bid", "bid_size", "ask", "ask_size", "last", "last_size", "volume")
"""The tick fields a quote keeps; every other field only refreshes ``updated_ns``."""


@dataclass(slots=True)
class Quote:
    """The latest top of book of one instrument."""

    key: str
    bid: float | None = None
    bid_size: float | None = None
    ask: float | None = None
    ask_size: float | None = None
    last: float | None = None
    last_size: float | None = None
    volume: float | None = None
    mdt: int = 1
    updated_ns: int = 0
    """Publish time (``ts``, ns since the epoch) of the instrument's latest tick, any field."""
    ticks: int = 0
    """Ticks applied to this quote (any field)."""

    def top(self) -> tuple[float | None, ...]:
        """The values of :data:`TOP_FIELDS`, in that order (a copy that no longer changes)."""
        return tuple(getattr(self, name) for name in TOP_FIELDS)


_PRICE_FIELDS = frozenset({"bid", "ask", "last"})
_SIZE_FIELDS = frozenset({"bid_size", "ask_size", "last_size", "volume"})


class Book:
    """Top of book for every instrument seen; feed it tick payloads (dicts or ``Tick``)."""

    def __init__(self) -> None:
        self.quotes: dict[str, Quote] = {}

    def apply(
        self, key: str, field: str, price: float | None, size: float | None, mdt: int, ts: int
    ) -> Quote:
        """Apply one tick's values; returns the instrument's updated quote."""
        quote = self.quotes.get(key)
        if quote is None:
            quote = self.quotes[key] = Quote(key)
        if field in _PRICE_FIELDS:
            setattr(quote, field, price)
        elif field in _SIZE_FIELDS:
            setattr(quote, field, size)
        quote.mdt = mdt
        quote.updated_ns = ts
        quote.ticks += 1
        return quote

    def apply_tick(self, tick: Tick) -> Quote:
        """Apply a decoded :class:`~subscribers.wire.Tick`."""
        return self.apply(tick.key, tick.field, tick.price, tick.size, tick.mdt, tick.ts)

    def apply_payload(self, payload: dict[str, Any]) -> Quote:
        """Apply a decoded tick payload map (as on the wire)."""
        return self.apply(
            payload["key"],
            payload["field"],
            payload.get("price"),
            payload.get("size"),
            payload.get("mdt", 1),
            payload.get("ts", 0),
        )

"""Tick types and tick events: what the market produces and the encoder sends."""

from dataclasses import dataclass
from enum import IntEnum
from typing import Final


class TickType(IntEnum):
    """The live tick type ids the simulator produces (ibapi ``ticktype.TickTypeEnum``)."""

    BID_SIZE = 0
    BID = 1
    ASK = 2
    ASK_SIZE = 3
    LAST = 4
    LAST_SIZE = 5
    HIGH = 6
    LOW = 7
    VOLUME = 8
    CLOSE = 9
    OPEN = 14
    LAST_TIMESTAMP = 45
    HALTED = 49


DELAYED_TICK_TYPE: Final[dict[int, int]] = {
    TickType.BID: 66,
    TickType.ASK: 67,
    TickType.LAST: 68,
    TickType.BID_SIZE: 69,
    TickType.ASK_SIZE: 70,
    TickType.LAST_SIZE: 71,
    TickType.HIGH: 72,
    TickType.LOW: 73,
    TickType.VOLUME: 74,
    TickType.CLOSE: 75,
    TickType.OPEN: 76,
    TickType.LAST_TIMESTAMP: 88,
    TickType.HALTED: 90,
}
"""Live tick type -> the id TWS uses for the same field when the data is delayed (type 3 or 4)."""

MARKET_DATA_TYPES: Final = frozenset({1, 2, 3, 4})
"""1 live, 2 frozen, 3 delayed, 4 delayed-frozen."""

DELAYED_MARKET_DATA_TYPES: Final = frozenset({3, 4})
"""The market data types whose ticks carry the delayed tick type ids."""


@dataclass(frozen=True, slots=True)
class PriceTick:
    """tickPrice: ``size`` is the size that belongs with a bid/ask/last price (0 for others)."""

    req_id: int
    tick_type: int
    price: float
    size: int = 0
    attr_mask: int = 0


@dataclass(frozen=True, slots=True)
class SizeTick:
    """tickSize."""

    req_id: int
    tick_type: int
    size: int


@dataclass(frozen=True, slots=True)
class StringTick:
    """tickString, e.g. LAST_TIMESTAMP (45) as epoch seconds."""

    req_id: int
    tick_type: int
    value: str


@dataclass(frozen=True, slots=True)
class GenericTick:
    """tickGeneric, e.g. HALTED (49)."""

    req_id: int
    tick_type: int
    value: float


TickEvent = PriceTick | SizeTick | StringTick | GenericTick

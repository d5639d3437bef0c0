"""What the data kinds beyond top of book send, as value objects the encoder turns into frames."""

from dataclasses import dataclass
from typing import Final

TBT_LAST: Final = 1
TBT_ALL_LAST: Final = 2
TBT_BID_ASK: Final = 3
TBT_MIDPOINT: Final = 4
TBT_TYPES: Final[dict[str, int]] = {
    "Last": TBT_LAST,
    "AllLast": TBT_ALL_LAST,
    "BidAsk": TBT_BID_ASK,
    "MidPoint": TBT_MIDPOINT,
}
"""reqTickByTickData's ``tickType`` strings and the ids tickByTick (99) carries."""

DEPTH_INSERT: Final = 0
DEPTH_UPDATE: Final = 1
DEPTH_DELETE: Final = 2
SIDE_ASK: Final = 0
SIDE_BID: Final = 1


@dataclass(frozen=True, slots=True)
class TbtLast:
    """A trade, tick type 1 (Last) or 2 (AllLast)."""

    req_id: int
    tick_type: int
    time: int
    price: float
    size: int
    exchange: str = ""
    special_conditions: str = ""
    past_limit: bool = False
    unreported: bool = False


@dataclass(frozen=True, slots=True)
class TbtBidAsk:
    """A change of the best bid or ask (price or size), tick type 3."""

    req_id: int
    time: int
    bid: float
    ask: float
    bid_size: int
    ask_size: int
    bid_past_low: bool = False
    ask_past_high: bool = False


@dataclass(frozen=True, slots=True)
class TbtMidPoint:
    """A change of the midpoint, tick type 4."""

    req_id: int
    time: int
    mid: float


TbtEvent = TbtLast | TbtBidAsk | TbtMidPoint


@dataclass(frozen=True, slots=True)
class DepthChange:
    """One row change: updateMktDepth (12) or, with a market maker, updateMktDepthL2 (13)."""

    req_id: int
    position: int
    operation: int
    side: int
    price: float
    size: int
    market_maker: str | None = None
    is_smart: bool = False


@dataclass(frozen=True, slots=True)
class Bar:
    """One real-time bar (50); ``time`` is the bar's start, epoch seconds."""

    req_id: int
    time: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    wap: float
    count: int


@dataclass(frozen=True, slots=True)
class OptionComputation:
    """tickOptionComputation (21); None is sent as IB's "not computed" marker."""

    req_id: int
    tick_type: int
    implied_vol: float | None
    delta: float | None
    opt_price: float | None
    pv_dividend: float | None
    gamma: float | None
    vega: float | None
    theta: float | None
    und_price: float | None
    price_based: bool = False


@dataclass(frozen=True, slots=True)
class DepthExchange:
    """One row of mktDepthExchanges (80)."""

    exchange: str
    sec_type: str
    listing_exchange: str = ""
    service_data_type: str = "Deep"
    agg_group: int = 1

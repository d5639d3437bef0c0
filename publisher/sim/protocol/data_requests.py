"""Requests for the data kinds beyond top of book: tick-by-tick, depth and real-time bars."""

from dataclasses import dataclass

from publisher.sim.protocol.contracts import ContractQuery


@dataclass(frozen=True, slots=True)
class ReqTickByTick:
    """reqTickByTickData (97); ``tick_type``: ``Last``, ``AllLast``, ``BidAsk`` or ``MidPoint``."""

    req_id: int
    contract: ContractQuery
    tick_type: str
    number_of_ticks: int = 0
    ignore_size: bool = False


@dataclass(frozen=True, slots=True)
class CancelTickByTick:
    """cancelTickByTickData (98)."""

    req_id: int


@dataclass(frozen=True, slots=True)
class ReqMktDepth:
    """reqMktDepth (10)."""

    req_id: int
    contract: ContractQuery
    num_rows: int
    is_smart: bool = False


@dataclass(frozen=True, slots=True)
class CancelMktDepth:
    """cancelMktDepth (11)."""

    req_id: int
    is_smart: bool = False


@dataclass(frozen=True, slots=True)
class ReqMktDepthExchanges:
    """reqMktDepthExchanges (82): answered with mktDepthExchanges (80)."""


@dataclass(frozen=True, slots=True)
class ReqRealTimeBars:
    """reqRealTimeBars (50)."""

    req_id: int
    contract: ContractQuery
    bar_size: int
    what_to_show: str
    use_rth: bool = False


@dataclass(frozen=True, slots=True)
class CancelRealTimeBars:
    """cancelRealTimeBars (51)."""

    req_id: int


DataRequest = (
    ReqTickByTick
    | CancelTickByTick
    | ReqMktDepth
    | CancelMktDepth
    | ReqMktDepthExchanges
    | ReqRealTimeBars
    | CancelRealTimeBars
)
"""Every request :class:`~publisher.sim.kinds.DataKinds` answers."""

"""Instrument records: one instrument, its contract, its requests and where it stands.

The records are mutable and owned by the subscription machine
(:mod:`publisher.core.subscriptions`), which alone changes their state and request ids. The
tick path writes exactly one field, :attr:`Instrument.last_tick_ns` (once per tick, where a
message round trip would cost more than the tick); the scrape-time metrics read them under the
GIL. No metrics library and no gateway types here: the tick counter is a :class:`TickCounter`
seam and a contract match a plain value.
"""

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final, Protocol

from publisher.config import InstrumentSpec
from subscribers.kinds import DataKind


class InstrumentState(StrEnum):
    """An instrument's published state (contract v1: ``status`` messages of scope instrument).

    A ``StrEnum``: each member equals, and is published as, its lower-case value.
    """

    PENDING = "pending"
    SUBSCRIBED = "subscribed"
    DELAYED = "delayed"
    STALE = "stale"
    FAILED = "failed"


PENDING: Final = InstrumentState.PENDING
SUBSCRIBED: Final = InstrumentState.SUBSCRIBED
DELAYED: Final = InstrumentState.DELAYED
STALE: Final = InstrumentState.STALE
FAILED: Final = InstrumentState.FAILED
STREAMING: Final = frozenset({SUBSCRIBED, DELAYED})
"""The states in which an instrument's stream delivers ticks."""

LIVE_MDT: Final = 1
DELAYED_MDT: Final = 3
"""The market data type requested for the delayed fallback."""
DELAYED_MDTS: Final = frozenset({3, 4})
"""Market data types that are delayed data: 3 delayed, 4 delayed-frozen."""


class TickCounter(Protocol):
    """``ibpub_ticks_total`` for one instrument (a ``prometheus_client`` counter child)."""

    def inc(self, amount: float = 1) -> None: ...


@dataclass(frozen=True, slots=True)
class ContractMatch:
    """One contract the gateway returned for a contract-details request."""

    con_id: int
    symbol: str
    sec_type: str
    local_symbol: str
    exchange: str
    primary_exchange: str
    currency: str
    long_name: str
    min_tick: float
    last_trade_date: str = ""
    """IB's lastTradeDateOrContractMonth (futures, options): tells contract months apart."""


@dataclass(slots=True, eq=False)
class Stream:
    """One request of an instrument beyond reqMktData: tick-by-tick, depth or real-time bars."""

    kind: DataKind
    topic: str
    req_id: int = 0
    """The live request's id (0: none on this connection)."""
    failed: bool = False
    """IB refused it (or a limit did): not requested again until the instrument is re-added."""


@dataclass(slots=True, eq=False)
class Instrument:
    """One instrument: its spec, qualification, request ids, last tick and stale retries."""

    spec: InstrumentSpec
    counter: TickCounter
    topic: str = ""
    state: InstrumentState = PENDING
    con_id: int = 0
    details_req: int = 0
    data_req: int = 0
    mdt: int = LIVE_MDT
    matches: list[ContractMatch] = field(default_factory=list)
    last_tick_ns: int = 0
    """Wall-clock ns of the last tick read (0 before the first); written by the tick path."""
    requested_at: float | None = None
    """Monotonic time of the last reqMktData (None: no request on this connection yet)."""
    stale_retries: int = 0
    """Re-requests made because it stopped ticking (reset once it ticks a whole period)."""
    lost: bool = False
    """Its stream died while the gateway was cut off from IB (10182): re-request on 1102."""
    code: int | None = None
    """The IB code behind the state last published (so a new code for the same state is)."""
    publish_l1: bool = False
    """``l1`` is among its data kinds (reqMktData's ticks go to ``tick.<key>``)."""
    greeks_topic: str = ""
    """``greeks.<key>`` when ``greeks`` is among its kinds, else empty."""
    streams: dict[str, Stream] = field(default_factory=dict)
    """Its tick-by-tick, depth and bar requests, by canonical kind name."""

    def __post_init__(self) -> None:
        self.topic = f"tick.{self.spec.key}"
        self.con_id = self.spec.con_id
        self.take_kinds(self.spec.kinds)

    def take_kinds(self, kinds: tuple[DataKind, ...]) -> list[Stream]:
        """Serve ``kinds`` too (those not served yet); returns the streams that are new."""
        families = {kind.family for kind in kinds}
        self.publish_l1 = self.publish_l1 or "l1" in families
        if "greeks" in families:
            self.greeks_topic = f"greeks.{self.spec.key}"
        new = []
        for kind in kinds:
            if kind.family in ("tbt", "depth", "bars") and kind.name not in self.streams:
                stream = self.streams[kind.name] = Stream(kind, kind.topic(self.spec.key))
                new.append(stream)
        return new

    @property
    def wants_market_data(self) -> bool:
        """Whether it needs reqMktData (for ``l1`` or ``greeks``)."""
        return self.publish_l1 or bool(self.greeks_topic)

    @property
    def data(self) -> list[str]:
        """Its data kinds' canonical names, as a ``list`` reply shows them."""
        names = ["l1"] if self.publish_l1 else []
        names += [name for name in self.streams]
        if self.greeks_topic:
            names.append("greeks")
        return names

    @property
    def topics(self) -> list[str]:
        """Every topic it publishes on."""
        out = [self.topic] if self.publish_l1 else []
        out += dict.fromkeys(stream.topic for stream in self.streams.values())
        if self.greeks_topic:
            out.append(self.greeks_topic)
        return out

    @property
    def key(self) -> str:
        return self.spec.key

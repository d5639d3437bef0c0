"""The subscription machine's vocabulary: its policy, the events it takes and the actions it
returns, all frozen values."""

from dataclasses import dataclass
from enum import Enum
from typing import Final

from publisher.config import InstrumentSpec
from publisher.core.instruments import DELAYED_MDTS, ContractMatch, InstrumentState
from publisher.core.stale import StalePolicy
from subscribers.kinds import DataKind

NO_STALE_CHECK: Final = StalePolicy(after=0.0, max_retries=0)


@dataclass(frozen=True, slots=True)
class SubscriptionPolicy:
    """The ``[gateway]`` settings the machine decides by."""

    market_data_type: int = 1
    """The session-wide type requested (1 live, 2 frozen, 3 delayed, 4 delayed-frozen)."""
    allow_delayed_fallback: bool = False
    stale: StalePolicy = NO_STALE_CHECK

    @property
    def delayed_configured(self) -> bool:
        return self.market_data_type in DELAYED_MDTS


class CodeKind(Enum):
    """What an IB code says about one request (the instrument-level meanings of
    :mod:`publisher.gateway.codes`; the service maps that table's actions onto these)."""

    NO_LIVE_PERMISSION = "no_live_permission"  # 354, 10089, ...: delayed fallback or failed
    REQUEST_FAILED = "request_failed"  # 200, 101, 322, ...: failed
    DELAYED_INSTEAD = "delayed_instead"  # 10167: the gateway streams delayed data
    REQUEST_LOST = "request_lost"  # 10182: the stream died with the link
    COMPETING_SESSION = "competing_session"  # 10197: another session took the data
    ADVISORY = "advisory"  # 10090: part of the data is not subscribed; the state stands


# -- events --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Add:
    """Subscribe a new instrument (its key must be new).

    ``qualify``: ask IB for its contract details even when the spec gives a ``con_id`` (an
    on-demand request is answered only once IB has confirmed the contract); a configured
    instrument with a ``con_id`` goes straight to reqMktData, as it always has."""

    spec: InstrumentSpec
    qualify: bool = False


@dataclass(frozen=True, slots=True)
class Remove:
    """Unsubscribe an instrument and forget it."""

    key: str


@dataclass(frozen=True, slots=True)
class Extend:
    """Serve more data kinds of an instrument already held (another client asked for them)."""

    key: str
    kinds: tuple[DataKind, ...]


@dataclass(frozen=True, slots=True)
class BookInvalid:
    """A depth stream sent a change impossible for its book: request it afresh."""

    req_id: int


@dataclass(frozen=True, slots=True)
class SessionReady:
    """An API session is up: request every instrument."""


@dataclass(frozen=True, slots=True)
class SessionLost:
    """The connection is gone: its requests are void, every instrument waits."""


@dataclass(frozen=True, slots=True)
class StreamsLost:
    """The gateway lost every stream but kept the session (1101): request them all again."""


@dataclass(frozen=True, slots=True)
class StreamsKept:
    """The gateway is back with IB and kept its streams (1102): re-request the lost ones."""


@dataclass(frozen=True, slots=True)
class ContractMatched:
    """One contract for a contract-details request."""

    req_id: int
    match: ContractMatch


@dataclass(frozen=True, slots=True)
class DetailsEnded:
    """The last contract for a contract-details request has arrived."""

    req_id: int


@dataclass(frozen=True, slots=True)
class MarketDataType:
    """The gateway says which market data type a stream delivers."""

    req_id: int
    mdt: int


@dataclass(frozen=True, slots=True)
class RequestCode:
    """An IB code about one request (only for request ids :meth:`Subscriptions.owns`)."""

    req_id: int
    kind: CodeKind
    code: int
    message: str
    link_up: bool
    """Whether the gateway is in touch with IB now (re-requests wait for 1102 if not)."""


@dataclass(frozen=True, slots=True)
class Ticking:
    """A tick arrived for a pending or stale instrument's stream."""

    req_id: int


@dataclass(frozen=True, slots=True)
class CheckStale:
    """Time to look for instruments that stopped ticking (``wall_ns``: the wall clock)."""

    wall_ns: int


@dataclass(frozen=True, slots=True)
class CancelAll:
    """Shutting down: cancel every stream."""


SubscriptionEvent = (
    Add
    | Remove
    | Extend
    | BookInvalid
    | SessionReady
    | SessionLost
    | StreamsLost
    | StreamsKept
    | ContractMatched
    | DetailsEnded
    | MarketDataType
    | RequestCode
    | Ticking
    | CheckStale
    | CancelAll
)

# -- actions -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SetMarketDataType:
    """reqMarketDataType (session-wide: it applies to the requests that follow it)."""

    mdt: int


@dataclass(frozen=True, slots=True)
class Qualify:
    """reqContractDetails for a spec."""

    req_id: int
    spec: InstrumentSpec


@dataclass(frozen=True, slots=True)
class Subscribe:
    """reqMktData for a qualified contract; ``delayed`` (for the log) when it is the fallback."""

    req_id: int
    spec: InstrumentSpec
    con_id: int
    delayed: bool = False


@dataclass(frozen=True, slots=True)
class Cancel:
    """cancelMktData."""

    req_id: int


@dataclass(frozen=True, slots=True)
class SubscribeStream:
    """reqTickByTickData, reqMktDepth or reqRealTimeBars (by ``kind``) for a qualified
    contract; ``topic`` is where its messages go (a depth topic's book starts empty)."""

    req_id: int
    kind: DataKind
    spec: InstrumentSpec
    con_id: int
    topic: str


@dataclass(frozen=True, slots=True)
class CancelStream:
    """cancelTickByTickData, cancelMktDepth or cancelRealTimeBars (by ``kind``)."""

    req_id: int
    kind: DataKind


@dataclass(frozen=True, slots=True)
class InstrumentStatus:
    """Publish an instrument status (contract v1, scope ``instrument``)."""

    key: str
    state: InstrumentState
    message: str
    code: int | None = None


SubscriptionAction = (
    SetMarketDataType
    | Qualify
    | Subscribe
    | Cancel
    | SubscribeStream
    | CancelStream
    | InstrumentStatus
)


# -- the machine ---------------------------------------------------------------------------

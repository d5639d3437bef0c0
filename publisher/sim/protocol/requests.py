"""Client requests after the handshake, one frozen value object per request the simulator models."""

from dataclasses import dataclass

from publisher.sim.protocol.contracts import ContractQuery
from publisher.sim.protocol.data_requests import DataRequest


@dataclass(frozen=True, slots=True)
class StartApi:
    """startApi (71): the client's id; answered with accounts, an order id and farm status."""

    client_id: int
    optional_capabilities: str = ""


@dataclass(frozen=True, slots=True)
class ReqMktData:
    """reqMktData (1)."""

    req_id: int
    contract: ContractQuery
    generic_ticks: str = ""
    snapshot: bool = False
    regulatory_snapshot: bool = False


@dataclass(frozen=True, slots=True)
class CancelMktData:
    """cancelMktData (2)."""

    req_id: int


@dataclass(frozen=True, slots=True)
class ReqMarketDataType:
    """reqMarketDataType (59): 1 live, 2 frozen, 3 delayed, 4 delayed-frozen."""

    market_data_type: int


@dataclass(frozen=True, slots=True)
class ReqContractDetails:
    """reqContractDetails (9)."""

    req_id: int
    contract: ContractQuery


@dataclass(frozen=True, slots=True)
class ReqIds:
    """reqIds (8)."""

    num_ids: int = 1


@dataclass(frozen=True, slots=True)
class ReqCurrentTime:
    """reqCurrentTime (49)."""


@dataclass(frozen=True, slots=True)
class ReqPositions:
    """reqPositions (61): answered with positionEnd only (the simulated account is flat)."""


@dataclass(frozen=True, slots=True)
class ReqOpenOrders:
    """reqOpenOrders (5) or reqAllOpenOrders (16): answered with openOrderEnd only."""


@dataclass(frozen=True, slots=True)
class ReqAutoOpenOrders:
    """reqAutoOpenOrders (15): needs no reply."""

    auto_bind: bool = False


@dataclass(frozen=True, slots=True)
class ReqCompletedOrders:
    """reqCompletedOrders (99): answered with completedOrdersEnd only."""

    api_only: bool = False


@dataclass(frozen=True, slots=True)
class ReqAccountUpdates:
    """reqAccountUpdates (6): answered with accountDownloadEnd when subscribing."""

    subscribe: bool
    account: str = ""


@dataclass(frozen=True, slots=True)
class ReqAccountUpdatesMulti:
    """reqAccountUpdatesMulti (76): answered with accountUpdateMultiEnd."""

    req_id: int
    account: str = ""


@dataclass(frozen=True, slots=True)
class ReqExecutions:
    """reqExecutions (7): answered with execDetailsEnd."""

    req_id: int


@dataclass(frozen=True, slots=True)
class ReqManagedAccounts:
    """reqManagedAccts (17): answered with managedAccounts."""


@dataclass(frozen=True, slots=True)
class UnknownRequest:
    """Any request the simulator does not model; sessions log it and move on."""

    msg_id: int
    protobuf: bool


Request = (
    StartApi
    | ReqMktData
    | CancelMktData
    | ReqMarketDataType
    | ReqContractDetails
    | ReqIds
    | ReqCurrentTime
    | ReqPositions
    | ReqOpenOrders
    | ReqAutoOpenOrders
    | ReqCompletedOrders
    | ReqAccountUpdates
    | ReqAccountUpdatesMulti
    | ReqExecutions
    | ReqManagedAccounts
    | UnknownRequest
    | DataRequest
)

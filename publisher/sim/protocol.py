"""The TWS API socket protocol from the gateway's side, as pure functions and value objects.

Nothing here touches a socket or a clock: bytes and values go in, bytes and values come out,
so every layout can be checked against ibapi's own ``Decoder`` in a unit test (the h11 model).

Three encodings exist on one wire, chosen per connection by the negotiated server version:

* classic text (``<= 200``): ``msgId\\0field\\0field\\0...``;
* raw-int id (``>= 201``): a 4-byte big-endian msgId, then the same text fields;
* protobuf (``>= 201``, id above 200): a 4-byte id of ``msgId + 200``, then a serialized message.

Client requests switch to protobuf per message group (ibapi ``getServerVersionForMessage``);
the server answers in protobuf from the version at which the matching request group went protobuf
(:data:`PROTOBUF_SINCE`), which is our reading of what a current gateway does. ibapi decides by the
id alone, so either form decodes.

Errors: :class:`ProtocolError` (the peer broke the protocol) and its subclasses carry the data
that explains them. Passing values we cannot encode is a plain ``ValueError`` (our bug).
"""

import math
import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import IntEnum
from typing import Any, Final

from ibapi import server_versions as _sv
from ibapi.protobuf.AccountDataEnd_pb2 import AccountDataEnd as AccountDataEndProto
from ibapi.protobuf.AccountDataRequest_pb2 import AccountDataRequest as AccountDataRequestProto
from ibapi.protobuf.AccountUpdateMultiEnd_pb2 import (
    AccountUpdateMultiEnd as AccountUpdateMultiEndProto,
)
from ibapi.protobuf.AccountUpdatesMultiRequest_pb2 import (
    AccountUpdatesMultiRequest as AccountUpdatesMultiRequestProto,
)
from ibapi.protobuf.CancelMarketData_pb2 import CancelMarketData as CancelMarketDataProto
from ibapi.protobuf.CompletedOrdersEnd_pb2 import CompletedOrdersEnd as CompletedOrdersEndProto
from ibapi.protobuf.CompletedOrdersRequest_pb2 import (
    CompletedOrdersRequest as CompletedOrdersRequestProto,
)
from ibapi.protobuf.Contract_pb2 import Contract as ContractProto
from ibapi.protobuf.ContractData_pb2 import ContractData as ContractDataProto
from ibapi.protobuf.ContractDataEnd_pb2 import ContractDataEnd as ContractDataEndProto
from ibapi.protobuf.ContractDataRequest_pb2 import ContractDataRequest as ContractDataRequestProto
from ibapi.protobuf.ContractDetails_pb2 import ContractDetails as ContractDetailsProto
from ibapi.protobuf.CurrentTime_pb2 import CurrentTime as CurrentTimeProto
from ibapi.protobuf.ErrorMessage_pb2 import ErrorMessage as ErrorMessageProto
from ibapi.protobuf.ExecutionDetailsEnd_pb2 import ExecutionDetailsEnd as ExecutionDetailsEndProto
from ibapi.protobuf.ExecutionRequest_pb2 import ExecutionRequest as ExecutionRequestProto
from ibapi.protobuf.IdsRequest_pb2 import IdsRequest as IdsRequestProto
from ibapi.protobuf.ManagedAccounts_pb2 import ManagedAccounts as ManagedAccountsProto
from ibapi.protobuf.MarketDataRequest_pb2 import MarketDataRequest as MarketDataRequestProto
from ibapi.protobuf.MarketDataType_pb2 import MarketDataType as MarketDataTypeProto
from ibapi.protobuf.MarketDataTypeRequest_pb2 import (
    MarketDataTypeRequest as MarketDataTypeRequestProto,
)
from ibapi.protobuf.NextValidId_pb2 import NextValidId as NextValidIdProto
from ibapi.protobuf.OpenOrdersEnd_pb2 import OpenOrdersEnd as OpenOrdersEndProto
from ibapi.protobuf.PositionEnd_pb2 import PositionEnd as PositionEndProto
from ibapi.protobuf.StartApiRequest_pb2 import StartApiRequest as StartApiRequestProto
from ibapi.protobuf.TickGeneric_pb2 import TickGeneric as TickGenericProto
from ibapi.protobuf.TickPrice_pb2 import TickPrice as TickPriceProto
from ibapi.protobuf.TickReqParams_pb2 import TickReqParams as TickReqParamsProto
from ibapi.protobuf.TickSize_pb2 import TickSize as TickSizeProto
from ibapi.protobuf.TickSnapshotEnd_pb2 import TickSnapshotEnd as TickSnapshotEndProto
from ibapi.protobuf.TickString_pb2 import TickString as TickStringProto

from publisher.errors import IbpubError

# ---------------------------------------------------------------------------------------------
# Constants

API_PREFIX: Final = b"API\0"
"""The four raw bytes a client sends before its version frame."""

MIN_SERVER_VERSION: Final[int] = int(_sv.MIN_CLIENT_VER)
"""The oldest version we speak (100: length-prefixed frames). Layouts below it are not modelled."""

MAX_SERVER_VERSION: Final[int] = int(_sv.MAX_CLIENT_VER)
"""The newest version the installed ibapi knows; layouts above it are unknown to us."""

MAX_FRAME_LEN: Final = 0xFFFFFF
"""ibapi and TWS reject frames longer than this (ibapi error 507)."""

PROTOBUF_ID_OFFSET: Final = 200
"""On the wire, a protobuf message's id is its real id plus this."""

V_PROTOBUF: Final[int] = int(_sv.MIN_SERVER_VER_PROTOBUF)  # 201: binary msgIds both ways
V_PROTOBUF_COMPLETED_ORDER: Final[int] = int(_sv.MIN_SERVER_VER_PROTOBUF_COMPLETED_ORDER)  # 204
V_PROTOBUF_CONTRACT_DATA: Final[int] = int(_sv.MIN_SERVER_VER_PROTOBUF_CONTRACT_DATA)  # 205
V_PROTOBUF_MARKET_DATA: Final[int] = int(_sv.MIN_SERVER_VER_PROTOBUF_MARKET_DATA)  # 206
V_PROTOBUF_ACCOUNTS: Final[int] = int(_sv.MIN_SERVER_VER_PROTOBUF_ACCOUNTS_POSITIONS)  # 207
V_PROTOBUF_REST_3: Final[int] = int(_sv.MIN_SERVER_VER_PROTOBUF_REST_MESSAGES_3)  # 213

_V_OPTIONAL_CAPABILITIES: Final[int] = int(_sv.MIN_SERVER_VER_OPTIONAL_CAPABILITIES)  # 72
_V_LINKING: Final[int] = int(_sv.MIN_SERVER_VER_LINKING)  # 70
_V_SMART_COMPONENTS: Final[int] = int(_sv.MIN_SERVER_VER_REQ_SMART_COMPONENTS)  # 114
_V_MD_SIZE_MULTIPLIER: Final[int] = int(_sv.MIN_SERVER_VER_MD_SIZE_MULTIPLIER)  # 110
_V_AGG_GROUP: Final[int] = int(_sv.MIN_SERVER_VER_AGG_GROUP)  # 121
_V_UNDERLYING_INFO: Final[int] = int(_sv.MIN_SERVER_VER_UNDERLYING_INFO)  # 122
_V_MARKET_RULES: Final[int] = int(_sv.MIN_SERVER_VER_MARKET_RULES)  # 126
_V_REAL_EXPIRATION_DATE: Final[int] = int(_sv.MIN_SERVER_VER_REAL_EXPIRATION_DATE)  # 134
_V_STOCK_TYPE: Final[int] = int(_sv.MIN_SERVER_VER_STOCK_TYPE)  # 152
_V_FRACTIONAL_SIZE: Final[int] = int(_sv.MIN_SERVER_VER_FRACTIONAL_SIZE_SUPPORT)  # 163
_V_SIZE_RULES: Final[int] = int(_sv.MIN_SERVER_VER_SIZE_RULES)  # 164
_V_ADVANCED_ORDER_REJECT: Final[int] = int(_sv.MIN_SERVER_VER_ADVANCED_ORDER_REJECT)  # 166
_V_FUND_DATA_FIELDS: Final[int] = int(_sv.MIN_SERVER_VER_FUND_DATA_FIELDS)  # 179
_V_LAST_TRADE_DATE: Final[int] = int(_sv.MIN_SERVER_VER_LAST_TRADE_DATE)  # 182
_V_INELIGIBILITY_REASONS: Final[int] = int(_sv.MIN_SERVER_VER_INELIGIBILITY_REASONS)  # 186
_V_ERROR_TIME: Final[int] = int(_sv.MIN_SERVER_VER_ERROR_TIME)  # 194

_LEN: Final = struct.Struct(">I")


class ClientMsg(IntEnum):
    """Ids of the client requests the simulator understands (ibapi ``message.OUT``)."""

    REQ_MKT_DATA = 1
    CANCEL_MKT_DATA = 2
    REQ_OPEN_ORDERS = 5
    REQ_ACCT_DATA = 6
    REQ_EXECUTIONS = 7
    REQ_IDS = 8
    REQ_CONTRACT_DATA = 9
    REQ_AUTO_OPEN_ORDERS = 15
    REQ_ALL_OPEN_ORDERS = 16
    REQ_MANAGED_ACCTS = 17
    REQ_CURRENT_TIME = 49
    REQ_MARKET_DATA_TYPE = 59
    REQ_POSITIONS = 61
    START_API = 71
    REQ_ACCOUNT_UPDATES_MULTI = 76
    REQ_COMPLETED_ORDERS = 99


class ServerMsg(IntEnum):
    """Ids of the messages the simulator sends (ibapi ``message.IN``)."""

    TICK_PRICE = 1
    TICK_SIZE = 2
    ERR_MSG = 4
    NEXT_VALID_ID = 9
    CONTRACT_DATA = 10
    MANAGED_ACCTS = 15
    TICK_GENERIC = 45
    TICK_STRING = 46
    CURRENT_TIME = 49
    CONTRACT_DATA_END = 52
    OPEN_ORDER_END = 53
    ACCT_DOWNLOAD_END = 54
    EXECUTION_DATA_END = 55
    TICK_SNAPSHOT_END = 57
    MARKET_DATA_TYPE = 58
    POSITION_END = 62
    ACCOUNT_UPDATE_MULTI_END = 74
    TICK_REQ_PARAMS = 81
    COMPLETED_ORDERS_END = 102


PROTOBUF_SINCE: Final[dict[ServerMsg, int]] = {
    # Errors went protobuf with the first protobuf batch (executions), as did its end marker.
    ServerMsg.ERR_MSG: V_PROTOBUF,
    ServerMsg.EXECUTION_DATA_END: V_PROTOBUF,
    ServerMsg.OPEN_ORDER_END: V_PROTOBUF_COMPLETED_ORDER,
    ServerMsg.COMPLETED_ORDERS_END: V_PROTOBUF_COMPLETED_ORDER,
    ServerMsg.CONTRACT_DATA: V_PROTOBUF_CONTRACT_DATA,
    ServerMsg.CONTRACT_DATA_END: V_PROTOBUF_CONTRACT_DATA,
    ServerMsg.TICK_PRICE: V_PROTOBUF_MARKET_DATA,
    ServerMsg.TICK_SIZE: V_PROTOBUF_MARKET_DATA,
    ServerMsg.TICK_GENERIC: V_PROTOBUF_MARKET_DATA,
    ServerMsg.TICK_STRING: V_PROTOBUF_MARKET_DATA,
    ServerMsg.TICK_SNAPSHOT_END: V_PROTOBUF_MARKET_DATA,
    ServerMsg.MARKET_DATA_TYPE: V_PROTOBUF_MARKET_DATA,
    ServerMsg.TICK_REQ_PARAMS: V_PROTOBUF_MARKET_DATA,
    ServerMsg.MANAGED_ACCTS: V_PROTOBUF_ACCOUNTS,
    ServerMsg.POSITION_END: V_PROTOBUF_ACCOUNTS,
    ServerMsg.ACCT_DOWNLOAD_END: V_PROTOBUF_ACCOUNTS,
    ServerMsg.ACCOUNT_UPDATE_MULTI_END: V_PROTOBUF_ACCOUNTS,
    ServerMsg.NEXT_VALID_ID: V_PROTOBUF_REST_3,
    ServerMsg.CURRENT_TIME: V_PROTOBUF_REST_3,
}
"""The server version from which each message is sent as protobuf (by its request group)."""


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


# ---------------------------------------------------------------------------------------------
# Errors


class ProtocolError(IbpubError):
    """The peer sent something the TWS protocol does not allow; the connection should close."""


class FrameTooLargeError(ProtocolError):
    """A frame's length prefix is above :data:`MAX_FRAME_LEN`."""

    def __init__(self, size: int, limit: int = MAX_FRAME_LEN) -> None:
        super().__init__(f"frame of {size} bytes exceeds the limit of {limit}")
        self.size = size
        self.limit = limit


class BadHandshakeError(ProtocolError):
    """The connection did not open with ``API\\0`` and a ``v<min>..<max>`` version frame."""

    def __init__(self, data: bytes, reason: str) -> None:
        super().__init__(f"bad handshake ({reason}): {data[:64]!r}")
        self.data = data
        self.reason = reason


class VersionMismatchError(ProtocolError):
    """The client's version range does not overlap the versions we speak."""

    def __init__(self, client_min: int, client_max: int, server_min: int, server_max: int) -> None:
        super().__init__(
            f"client speaks v{client_min}..{client_max}, we speak v{server_min}..{server_max}"
        )
        self.client_min = client_min
        self.client_max = client_max
        self.server_min = server_min
        self.server_max = server_max


class MalformedRequestError(ProtocolError):
    """One request could not be decoded; the session may ignore it and carry on."""

    def __init__(self, msg_id: int, reason: str) -> None:
        super().__init__(f"malformed request {msg_id}: {reason}")
        self.msg_id = msg_id
        self.reason = reason


# ---------------------------------------------------------------------------------------------
# Framing and handshake


def frame(payload: bytes) -> bytes:
    """Prefix a payload with its 4-byte big-endian length."""
    return _LEN.pack(len(payload)) + payload


class FrameBuffer:
    """Incremental frame splitter: :meth:`feed` bytes as they arrive, then take whole frames.

    The handshake's leading ``API\\0`` has no length prefix, so :meth:`take_prefix` reads raw bytes.
    """

    __slots__ = ("_buf", "_limit")

    def __init__(self, limit: int = MAX_FRAME_LEN) -> None:
        self._buf = bytearray()
        self._limit = limit

    def feed(self, data: bytes) -> None:
        """Append bytes read from the socket."""
        self._buf += data

    @property
    def pending(self) -> int:
        """Bytes received but not yet taken."""
        return len(self._buf)

    def take_prefix(self, size: int) -> bytes | None:
        """Take exactly ``size`` raw bytes, or None if fewer have arrived."""
        if len(self._buf) < size:
            return None
        data = bytes(self._buf[:size])
        del self._buf[:size]
        return data

    def next_frame(self) -> bytes | None:
        """Take the next whole frame's payload, or None if it has not fully arrived."""
        if len(self._buf) < 4:
            return None
        (size,) = _LEN.unpack_from(self._buf)
        if size > self._limit:
            raise FrameTooLargeError(size, self._limit)
        end = 4 + size
        if len(self._buf) < end:
            return None
        payload = bytes(self._buf[4:end])
        del self._buf[:end]
        return payload


@dataclass(frozen=True, slots=True)
class Hello:
    """The client's version frame: ``v<min>..<max>[ <connect options>]``."""

    min_version: int
    max_version: int
    options: str = ""


def parse_hello(payload: bytes) -> Hello:
    """Parse the version frame that follows ``API\\0``."""
    try:
        text = payload.decode("ascii")
    except UnicodeDecodeError as exc:
        raise BadHandshakeError(payload, "not ASCII") from exc
    versions, _, options = text.partition(" ")
    if not versions.startswith("v"):
        raise BadHandshakeError(payload, "no 'v' version range")
    low, sep, high = versions[1:].partition("..")
    try:
        min_version = int(low)
        max_version = int(high) if sep else min_version
    except ValueError as exc:
        raise BadHandshakeError(payload, "version range is not numeric") from exc
    if min_version > max_version:
        raise BadHandshakeError(payload, "empty version range")
    return Hello(min_version, max_version, options.strip())


def negotiate(
    hello: Hello, max_server_version: int, min_server_version: int = MIN_SERVER_VERSION
) -> int:
    """Pick the highest version both sides speak, as TWS does: ``min(client max, our max)``."""
    version = min(hello.max_version, max_server_version)
    if version < hello.min_version or version < min_server_version:
        raise VersionMismatchError(
            hello.min_version, hello.max_version, min_server_version, max_server_version
        )
    return version


def format_connection_time(epoch_seconds: float) -> str:
    """TWS's ``YYYYMMDD HH:MM:SS <tz>`` connection time; we always report UTC."""
    return time.strftime("%Y%m%d %H:%M:%S UTC", time.gmtime(epoch_seconds))


def handshake_reply(server_version: int, connection_time: str) -> bytes:
    """The one frame answering the version frame; always text, even above 200."""
    return frame(f"{server_version}\0{connection_time}\0".encode("ascii"))


# ---------------------------------------------------------------------------------------------
# Value objects: contracts and requests


@dataclass(frozen=True, slots=True)
class ContractQuery:
    """The contract fields a client sends in reqContractDetails / reqMktData (empty = not given)."""

    con_id: int = 0
    symbol: str = ""
    sec_type: str = ""
    last_trade_date_or_contract_month: str = ""
    strike: float = 0.0
    right: str = ""
    multiplier: str = ""
    exchange: str = ""
    primary_exchange: str = ""
    currency: str = ""
    local_symbol: str = ""
    trading_class: str = ""
    include_expired: bool = False
    sec_id_type: str = ""
    sec_id: str = ""


@dataclass(frozen=True, slots=True)
class ContractSpec:
    """Everything contractData (10) carries about one contract, in ibpub's spelling.

    ``last_trade_date`` is ``lastTradeDateOrContractMonth`` (``YYYYMMDD``; empty for stocks and FX).
    Sizes are decimal strings, as on the wire.
    """

    con_id: int
    symbol: str
    sec_type: str
    exchange: str
    currency: str
    local_symbol: str
    trading_class: str = ""
    primary_exchange: str = ""
    last_trade_date: str = ""
    strike: float = 0.0
    right: str = ""
    multiplier: str = ""
    min_tick: float = 0.01
    market_name: str = ""
    long_name: str = ""
    contract_month: str = ""
    industry: str = ""
    category: str = ""
    subcategory: str = ""
    time_zone_id: str = "US/Eastern"
    trading_hours: str = ""
    liquid_hours: str = ""
    order_types: str = "LMT,MKT,STP"
    valid_exchanges: str = ""
    price_magnifier: int = 1
    under_con_id: int = 0
    under_symbol: str = ""
    under_sec_type: str = ""
    agg_group: int = 1
    market_rule_ids: str = ""
    real_expiration_date: str = ""
    stock_type: str = ""
    min_size: str = "1"
    size_increment: str = "1"
    suggested_size_increment: str = "1"
    sec_ids: tuple[tuple[str, str], ...] = ()


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
)


# ---------------------------------------------------------------------------------------------
# Request parsing


class _Fields:
    """A cursor over one text request's NUL-terminated fields."""

    __slots__ = ("_fields", "_msg_id", "_pos")

    def __init__(self, fields: list[bytes], msg_id: int) -> None:
        self._fields = fields
        self._pos = 0
        self._msg_id = msg_id

    def text(self, default: str | None = None) -> str:
        if self._pos >= len(self._fields):
            if default is not None:
                return default
            raise MalformedRequestError(self._msg_id, f"truncated after {self._pos} fields")
        raw = self._fields[self._pos]
        self._pos += 1
        return raw.decode("latin-1")

    def integer(self, default: int | None = None) -> int:
        raw = self.text(None if default is None else str(default))
        try:
            return int(raw) if raw else 0
        except ValueError as exc:
            reason = f"field {self._pos} not an int: {raw!r}"
            raise MalformedRequestError(self._msg_id, reason) from exc

    def number(self) -> float:
        raw = self.text()
        if raw in ("Infinity", "Infinite"):
            return math.inf
        try:
            return float(raw) if raw else 0.0
        except ValueError as exc:
            reason = f"field {self._pos} not a float: {raw!r}"
            raise MalformedRequestError(self._msg_id, reason) from exc

    def flag(self, default: bool | None = None) -> bool:
        return self.integer(None if default is None else int(default)) != 0

    def skip(self, count: int) -> None:
        for _ in range(count):
            self.text()


def _text_contract(f: _Fields) -> ContractQuery:
    """The 12 contract fields shared by reqMktData and reqContractDetails (v100 and above)."""
    con_id = f.integer()
    symbol = f.text()
    sec_type = f.text()
    last_trade = f.text()
    strike = f.number()
    right = f.text()
    multiplier = f.text()
    exchange = f.text()
    primary_exchange = f.text()
    currency = f.text()
    local_symbol = f.text()
    trading_class = f.text()
    return ContractQuery(
        con_id=con_id,
        symbol=symbol,
        sec_type=sec_type,
        last_trade_date_or_contract_month=last_trade,
        strike=strike,
        right=right,
        multiplier=multiplier,
        exchange=exchange,
        primary_exchange=primary_exchange,
        currency=currency,
        local_symbol=local_symbol,
        trading_class=trading_class,
    )


def _text_req_mkt_data(f: _Fields, version: int) -> Request:
    f.integer()  # message version (11)
    req_id = f.integer()
    contract = _text_contract(f)
    if contract.sec_type == "BAG":
        f.skip(4 * f.integer())  # combo legs: conId, ratio, action, exchange
    if f.flag():  # delta-neutral contract follows
        f.skip(3)
    generic_ticks = f.text()
    snapshot = f.flag()
    regulatory = f.flag(False) if version >= _V_SMART_COMPONENTS else False
    if version >= _V_LINKING:
        f.text("")  # mktDataOptions, "for internal use only"
    return ReqMktData(req_id, contract, generic_ticks, snapshot, regulatory)


def _text_req_contract_data(f: _Fields, version: int) -> Request:
    f.integer()  # message version (8)
    req_id = f.integer()
    contract = _text_contract(f)
    include_expired = f.flag(False)
    sec_id_type = f.text("")
    sec_id = f.text("")
    # issuerId (v176+) follows; bonds are not modelled.
    contract = replace(
        contract, include_expired=include_expired, sec_id_type=sec_id_type, sec_id=sec_id
    )
    return ReqContractDetails(req_id, contract)


def _text_start_api(f: _Fields, version: int) -> Request:
    f.integer()  # message version (2)
    client_id = f.integer()
    caps = f.text("") if version >= _V_OPTIONAL_CAPABILITIES else ""
    return StartApi(client_id, caps)


def _text_versioned_req_id(build: Callable[[int], Request]) -> Callable[[_Fields, int], Request]:
    def parse(f: _Fields, version: int) -> Request:
        f.integer()
        return build(f.integer())

    return parse


def _text_account_updates(f: _Fields, version: int) -> Request:
    f.integer()
    subscribe = f.flag()
    return ReqAccountUpdates(subscribe, f.text(""))


def _text_account_updates_multi(f: _Fields, version: int) -> Request:
    f.integer()
    req_id = f.integer()
    return ReqAccountUpdatesMulti(req_id, f.text(""))


def _text_req_ids(f: _Fields, version: int) -> Request:
    f.integer()
    return ReqIds(f.integer(1))


def _text_market_data_type(f: _Fields, version: int) -> Request:
    f.integer()
    return ReqMarketDataType(f.integer())


def _text_auto_open_orders(f: _Fields, version: int) -> Request:
    f.integer()
    return ReqAutoOpenOrders(f.flag(False))


_TEXT_PARSERS: Final[dict[int, Callable[[_Fields, int], Request]]] = {
    ClientMsg.START_API: _text_start_api,
    ClientMsg.REQ_MKT_DATA: _text_req_mkt_data,
    ClientMsg.CANCEL_MKT_DATA: _text_versioned_req_id(CancelMktData),
    ClientMsg.REQ_MARKET_DATA_TYPE: _text_market_data_type,
    ClientMsg.REQ_CONTRACT_DATA: _text_req_contract_data,
    ClientMsg.REQ_IDS: _text_req_ids,
    ClientMsg.REQ_CURRENT_TIME: lambda f, v: ReqCurrentTime(),
    ClientMsg.REQ_POSITIONS: lambda f, v: ReqPositions(),
    ClientMsg.REQ_OPEN_ORDERS: lambda f, v: ReqOpenOrders(),
    ClientMsg.REQ_ALL_OPEN_ORDERS: lambda f, v: ReqOpenOrders(),
    ClientMsg.REQ_AUTO_OPEN_ORDERS: _text_auto_open_orders,
    ClientMsg.REQ_COMPLETED_ORDERS: lambda f, v: ReqCompletedOrders(f.flag(False)),  # no version
    ClientMsg.REQ_ACCT_DATA: _text_account_updates,
    ClientMsg.REQ_ACCOUNT_UPDATES_MULTI: _text_account_updates_multi,
    ClientMsg.REQ_EXECUTIONS: _text_versioned_req_id(ReqExecutions),
    ClientMsg.REQ_MANAGED_ACCTS: lambda f, v: ReqManagedAccounts(),
}


def _proto_contract(proto: Any) -> ContractQuery:
    """Translate a ``protobuf.Contract`` (fields have presence) into a query."""

    def text(name: str) -> str:
        return str(getattr(proto, name)) if proto.HasField(name) else ""

    multiplier = ""
    if proto.HasField("multiplier"):
        value = float(proto.multiplier)
        multiplier = str(int(value)) if value.is_integer() else repr(value)
    return ContractQuery(
        con_id=int(proto.conId) if proto.HasField("conId") else 0,
        symbol=text("symbol"),
        sec_type=text("secType"),
        last_trade_date_or_contract_month=text("lastTradeDateOrContractMonth"),
        strike=float(proto.strike) if proto.HasField("strike") else 0.0,
        right=text("right"),
        multiplier=multiplier,
        exchange=text("exchange"),
        primary_exchange=text("primaryExch"),
        currency=text("currency"),
        local_symbol=text("localSymbol"),
        trading_class=text("tradingClass"),
        include_expired=bool(proto.includeExpired) if proto.HasField("includeExpired") else False,
        sec_id_type=text("secIdType"),
        sec_id=text("secId"),
    )


def _pb_int(proto: Any, name: str, default: int = 0) -> int:
    return int(getattr(proto, name)) if proto.HasField(name) else default


def _pb_bool(proto: Any, name: str) -> bool:
    return bool(getattr(proto, name)) if proto.HasField(name) else False


def _pb_str(proto: Any, name: str) -> str:
    return str(getattr(proto, name)) if proto.HasField(name) else ""


_PROTO_PARSERS: Final[dict[int, tuple[Any, Callable[[Any], Request]]]] = {
    ClientMsg.START_API: (
        StartApiRequestProto,
        lambda p: StartApi(_pb_int(p, "clientId"), _pb_str(p, "optionalCapabilities")),
    ),
    ClientMsg.REQ_MKT_DATA: (
        MarketDataRequestProto,
        lambda p: ReqMktData(
            _pb_int(p, "reqId"),
            _proto_contract(p.contract),
            _pb_str(p, "genericTickList"),
            _pb_bool(p, "snapshot"),
            _pb_bool(p, "regulatorySnapshot"),
        ),
    ),
    ClientMsg.CANCEL_MKT_DATA: (
        CancelMarketDataProto,
        lambda p: CancelMktData(_pb_int(p, "reqId")),
    ),
    ClientMsg.REQ_MARKET_DATA_TYPE: (
        MarketDataTypeRequestProto,
        lambda p: ReqMarketDataType(_pb_int(p, "marketDataType")),
    ),
    ClientMsg.REQ_CONTRACT_DATA: (
        ContractDataRequestProto,
        lambda p: ReqContractDetails(_pb_int(p, "reqId"), _proto_contract(p.contract)),
    ),
    ClientMsg.REQ_IDS: (IdsRequestProto, lambda p: ReqIds(_pb_int(p, "numIds", 1))),
    ClientMsg.REQ_CURRENT_TIME: (None, lambda p: ReqCurrentTime()),
    ClientMsg.REQ_POSITIONS: (None, lambda p: ReqPositions()),
    ClientMsg.REQ_OPEN_ORDERS: (None, lambda p: ReqOpenOrders()),
    ClientMsg.REQ_ALL_OPEN_ORDERS: (None, lambda p: ReqOpenOrders()),
    ClientMsg.REQ_AUTO_OPEN_ORDERS: (None, lambda p: ReqAutoOpenOrders()),
    ClientMsg.REQ_COMPLETED_ORDERS: (
        CompletedOrdersRequestProto,
        lambda p: ReqCompletedOrders(_pb_bool(p, "apiOnly")),
    ),
    ClientMsg.REQ_ACCT_DATA: (
        AccountDataRequestProto,
        lambda p: ReqAccountUpdates(_pb_bool(p, "subscribe"), _pb_str(p, "acctCode")),
    ),
    ClientMsg.REQ_ACCOUNT_UPDATES_MULTI: (
        AccountUpdatesMultiRequestProto,
        lambda p: ReqAccountUpdatesMulti(_pb_int(p, "reqId"), _pb_str(p, "account")),
    ),
    ClientMsg.REQ_EXECUTIONS: (ExecutionRequestProto, lambda p: ReqExecutions(_pb_int(p, "reqId"))),
    ClientMsg.REQ_MANAGED_ACCTS: (None, lambda p: ReqManagedAccounts()),
}
"""Protobuf request id -> (message class or None when the body carries nothing we use, builder)."""


def parse_request(payload: bytes, server_version: int) -> Request:
    """Decode one client frame's payload (after the handshake) at the negotiated version."""
    if server_version >= V_PROTOBUF:
        if len(payload) < 4:
            raise MalformedRequestError(-1, "frame shorter than its 4-byte message id")
        wire_id = int.from_bytes(payload[:4], "big")
        body = payload[4:]
        if wire_id > PROTOBUF_ID_OFFSET:
            return _parse_proto(wire_id - PROTOBUF_ID_OFFSET, body)
        fields = body.split(b"\0")
        msg_id = wire_id
    else:
        fields = payload.split(b"\0")
        try:
            msg_id = int(fields[0])
        except ValueError as exc:
            raise MalformedRequestError(-1, f"message id not an int: {fields[0][:16]!r}") from exc
        fields = fields[1:]
    if fields and fields[-1] == b"":
        fields.pop()  # every field ends in NUL, so splitting leaves an empty tail
    text_parser = _TEXT_PARSERS.get(msg_id)
    if text_parser is None:
        return UnknownRequest(msg_id, protobuf=False)
    return text_parser(_Fields(fields, msg_id), server_version)


def _parse_proto(msg_id: int, body: bytes) -> Request:
    entry = _PROTO_PARSERS.get(msg_id)
    if entry is None:
        return UnknownRequest(msg_id, protobuf=True)
    proto_class, build = entry
    message: Any = None
    if proto_class is not None:
        try:
            message = proto_class.FromString(body)
        except Exception as exc:  # protobuf's DecodeError; google.protobuf ships no type stubs
            raise MalformedRequestError(msg_id, f"bad protobuf: {exc}") from exc
    return build(message)


# ---------------------------------------------------------------------------------------------
# Server messages


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


def decimal_text(value: float) -> str:
    """A float as plain decimal text (``5e-05`` -> ``0.00005``), for minTick and sizes."""
    text = format(Decimal(repr(value)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def _field(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return repr(value)
    return str(value)


def _proto_contract_message(spec: ContractSpec) -> Any:
    contract = ContractProto(
        conId=spec.con_id,
        symbol=spec.symbol,
        secType=spec.sec_type,
        exchange=spec.exchange,
        currency=spec.currency,
        localSymbol=spec.local_symbol,
    )
    optional: dict[str, object] = {
        "lastTradeDateOrContractMonth": spec.last_trade_date,
        "lastTradeDate": spec.last_trade_date,
        "right": spec.right,
        "primaryExch": spec.primary_exchange,
        "tradingClass": spec.trading_class,
    }
    for name, value in optional.items():
        if value:
            setattr(contract, name, value)
    if spec.strike:
        contract.strike = spec.strike
    if spec.multiplier:
        contract.multiplier = float(spec.multiplier)
    return contract


def _proto_details_message(spec: ContractSpec) -> Any:
    details = ContractDetailsProto(
        minTick=decimal_text(spec.min_tick),
        priceMagnifier=spec.price_magnifier,
        underConId=spec.under_con_id,
        aggGroup=spec.agg_group,
    )
    optional: dict[str, str] = {
        "marketName": spec.market_name,
        "orderTypes": spec.order_types,
        "validExchanges": spec.valid_exchanges,
        "longName": spec.long_name,
        "contractMonth": spec.contract_month,
        "industry": spec.industry,
        "category": spec.category,
        "subcategory": spec.subcategory,
        "timeZoneId": spec.time_zone_id,
        "tradingHours": spec.trading_hours,
        "liquidHours": spec.liquid_hours,
        "underSymbol": spec.under_symbol,
        "underSecType": spec.under_sec_type,
        "marketRuleIds": spec.market_rule_ids,
        "realExpirationDate": spec.real_expiration_date,
        "stockType": spec.stock_type,
        "minSize": spec.min_size,
        "sizeIncrement": spec.size_increment,
        "suggestedSizeIncrement": spec.suggested_size_increment,
    }
    for name, value in optional.items():
        if value:
            setattr(details, name, value)
    for tag, value in spec.sec_ids:
        details.secIdList[tag] = value
    return details


class Encoder:
    """Builds complete frames (length prefix included) for one negotiated server version.

    Each builder picks classic text, raw-int-id text or protobuf by :data:`PROTOBUF_SINCE`, so a
    session needs one ``Encoder`` and nothing else to speak its client's dialect.
    """

    __slots__ = ("_proto", "_raw_ids", "_text_tick_prefix", "version")

    def __init__(self, server_version: int) -> None:
        if not MIN_SERVER_VERSION <= server_version <= MAX_SERVER_VERSION:
            raise ValueError(
                f"server version {server_version} outside "
                f"{MIN_SERVER_VERSION}..{MAX_SERVER_VERSION}"
            )
        self.version = server_version
        self._raw_ids = server_version >= V_PROTOBUF
        self._proto = frozenset(m for m, v in PROTOBUF_SINCE.items() if server_version >= v)

    def uses_protobuf(self, msg: ServerMsg) -> bool:
        """Whether ``msg`` goes out as protobuf at this version."""
        return msg in self._proto

    # -- primitives ------------------------------------------------------------------------

    def text(self, msg_id: int, *fields: object) -> bytes:
        """A text message (classic or raw-int id by version) from already-ordered fields."""
        body = "".join([_field(f) + "\0" for f in fields]).encode("ascii", "backslashreplace")
        return self._text_frame(msg_id, body)

    def _text_frame(self, msg_id: int, body: bytes) -> bytes:
        head = msg_id.to_bytes(4, "big") if self._raw_ids else b"%d\0" % msg_id
        return _LEN.pack(len(head) + len(body)) + head + body

    @staticmethod
    def protobuf(msg_id: int, message: Any) -> bytes:
        """A protobuf message: id + 200 as 4 bytes, then the serialized message."""
        body: bytes = message.SerializeToString()
        return _LEN.pack(len(body) + 4) + (msg_id + PROTOBUF_ID_OFFSET).to_bytes(4, "big") + body

    # -- session ---------------------------------------------------------------------------

    def managed_accounts(self, accounts: Sequence[str]) -> bytes:
        """managedAccounts (15): a comma-separated account list; ib_async needs it non-empty."""
        joined = ",".join(accounts)
        if ServerMsg.MANAGED_ACCTS in self._proto:
            return self.protobuf(ServerMsg.MANAGED_ACCTS, ManagedAccountsProto(accountsList=joined))
        return self.text(ServerMsg.MANAGED_ACCTS, 1, joined)

    def next_valid_id(self, order_id: int) -> bytes:
        """nextValidId (9)."""
        if ServerMsg.NEXT_VALID_ID in self._proto:
            return self.protobuf(ServerMsg.NEXT_VALID_ID, NextValidIdProto(orderId=order_id))
        return self.text(ServerMsg.NEXT_VALID_ID, 1, order_id)

    def current_time(self, epoch_seconds: int) -> bytes:
        """currentTime (49)."""
        if ServerMsg.CURRENT_TIME in self._proto:
            message = CurrentTimeProto(currentTime=epoch_seconds)
            return self.protobuf(ServerMsg.CURRENT_TIME, message)
        return self.text(ServerMsg.CURRENT_TIME, 1, epoch_seconds)

    def error(
        self,
        req_id: int,
        code: int,
        message: str,
        *,
        error_time_ms: int = 0,
        advanced_order_reject_json: str = "",
    ) -> bytes:
        """error (4); the text layout changes at v166 (reject JSON) and v194 (time, no version)."""
        if ServerMsg.ERR_MSG in self._proto:
            proto = ErrorMessageProto(
                id=req_id, errorTime=error_time_ms, errorCode=code, errorMsg=message
            )
            if advanced_order_reject_json:
                proto.advancedOrderRejectJson = advanced_order_reject_json
            return self.protobuf(ServerMsg.ERR_MSG, proto)
        if self.version >= _V_ERROR_TIME:
            return self.text(
                ServerMsg.ERR_MSG, req_id, code, message, advanced_order_reject_json, error_time_ms
            )
        if self.version >= _V_ADVANCED_ORDER_REJECT:
            return self.text(
                ServerMsg.ERR_MSG, 2, req_id, code, message, advanced_order_reject_json
            )
        return self.text(ServerMsg.ERR_MSG, 2, req_id, code, message)

    # -- contracts -------------------------------------------------------------------------

    def contract_data(self, req_id: int, spec: ContractSpec) -> bytes:
        """contractData (10) for one contract; see tws-protocol.md §4.3 for the text layout."""
        if ServerMsg.CONTRACT_DATA in self._proto:
            message = ContractDataProto(
                reqId=req_id,
                contract=_proto_contract_message(spec),
                contractDetails=_proto_details_message(spec),
            )
            return self.protobuf(ServerMsg.CONTRACT_DATA, message)
        return self.text(ServerMsg.CONTRACT_DATA, *self._contract_fields(req_id, spec))

    def _contract_fields(self, req_id: int, spec: ContractSpec) -> list[object]:
        v = self.version
        fields: list[object] = [] if v >= _V_SIZE_RULES else [8]
        fields += [req_id, spec.symbol, spec.sec_type, spec.last_trade_date]
        if v >= _V_LAST_TRADE_DATE:
            fields.append(spec.last_trade_date)
        fields += [
            spec.strike,
            spec.right,
            spec.exchange,
            spec.currency,
            spec.local_symbol,
            spec.market_name,
            spec.trading_class,
            spec.con_id,
            decimal_text(spec.min_tick),
        ]
        if _V_MD_SIZE_MULTIPLIER <= v < _V_SIZE_RULES:
            fields.append(1)  # mdSizeMultiplier, read and dropped by ibapi
        fields += [
            spec.multiplier,
            spec.order_types,
            spec.valid_exchanges,
            spec.price_magnifier,
            spec.under_con_id,
            spec.long_name,
            spec.primary_exchange,
            spec.contract_month,
            spec.industry,
            spec.category,
            spec.subcategory,
            spec.time_zone_id,
            spec.trading_hours,
            spec.liquid_hours,
            "",  # evRule
            "",  # evMultiplier
            len(spec.sec_ids),
        ]
        for tag, value in spec.sec_ids:
            fields += [tag, value]
        if v >= _V_AGG_GROUP:
            fields.append(spec.agg_group)
        if v >= _V_UNDERLYING_INFO:
            fields += [spec.under_symbol, spec.under_sec_type]
        if v >= _V_MARKET_RULES:
            fields.append(spec.market_rule_ids)
        if v >= _V_REAL_EXPIRATION_DATE:
            fields.append(spec.real_expiration_date)
        if v >= _V_STOCK_TYPE:
            fields.append(spec.stock_type)
        if _V_FRACTIONAL_SIZE <= v < _V_SIZE_RULES:
            fields.append(spec.min_size)  # sizeMinTick, read and dropped by ibapi
        if v >= _V_SIZE_RULES:
            fields += [spec.min_size, spec.size_increment, spec.suggested_size_increment]
        if v >= _V_FUND_DATA_FIELDS and spec.sec_type == "FUND":
            fields += ["", "", "", "", "", "", "", 0, 0, 0, "", "", "", "", "", "", ""]
        if v >= _V_INELIGIBILITY_REASONS:
            fields.append(0)  # ineligibility reasons: none
        return fields

    def contract_data_end(self, req_id: int) -> bytes:
        """contractDataEnd (52)."""
        if ServerMsg.CONTRACT_DATA_END in self._proto:
            return self.protobuf(ServerMsg.CONTRACT_DATA_END, ContractDataEndProto(reqId=req_id))
        return self.text(ServerMsg.CONTRACT_DATA_END, 1, req_id)

    # -- market data -----------------------------------------------------------------------

    def tick_req_params(
        self, req_id: int, min_tick: float, bbo_exchange: str, snapshot_permissions: int
    ) -> bytes:
        """tickReqParams (81): TWS sends it first for every reqMktData; no version field."""
        if ServerMsg.TICK_REQ_PARAMS in self._proto:
            message = TickReqParamsProto(
                reqId=req_id,
                minTick=decimal_text(min_tick),
                bboExchange=bbo_exchange,
                snapshotPermissions=snapshot_permissions,
            )
            return self.protobuf(ServerMsg.TICK_REQ_PARAMS, message)
        return self.text(
            ServerMsg.TICK_REQ_PARAMS,
            req_id,
            decimal_text(min_tick),
            bbo_exchange,
            snapshot_permissions,
        )

    def market_data_type(self, req_id: int, market_data_type: int) -> bytes:
        """marketDataType (58)."""
        if ServerMsg.MARKET_DATA_TYPE in self._proto:
            message = MarketDataTypeProto(reqId=req_id, marketDataType=market_data_type)
            return self.protobuf(ServerMsg.MARKET_DATA_TYPE, message)
        return self.text(ServerMsg.MARKET_DATA_TYPE, 1, req_id, market_data_type)

    def tick_snapshot_end(self, req_id: int) -> bytes:
        """tickSnapshotEnd (57): the end of a snapshot=1 request."""
        if ServerMsg.TICK_SNAPSHOT_END in self._proto:
            return self.protobuf(ServerMsg.TICK_SNAPSHOT_END, TickSnapshotEndProto(reqId=req_id))
        return self.text(ServerMsg.TICK_SNAPSHOT_END, 1, req_id)

    def tick(self, event: TickEvent, *, delayed: bool = False) -> bytes:
        """Any tick event; with ``delayed`` the tick type becomes its delayed twin (1 -> 66)."""
        tick_type = DELAYED_TICK_TYPE.get(event.tick_type, event.tick_type) if delayed else None
        if isinstance(event, PriceTick):
            return self.tick_price(
                event.req_id,
                event.tick_type if tick_type is None else tick_type,
                event.price,
                event.size,
                event.attr_mask,
            )
        if isinstance(event, SizeTick):
            return self.tick_size(
                event.req_id, event.tick_type if tick_type is None else tick_type, event.size
            )
        if isinstance(event, StringTick):
            return self.tick_string(
                event.req_id, event.tick_type if tick_type is None else tick_type, event.value
            )
        return self.tick_generic(
            event.req_id, event.tick_type if tick_type is None else tick_type, event.value
        )

    def tick_price(
        self, req_id: int, tick_type: int, price: float, size: int, attr_mask: int = 0
    ) -> bytes:
        """tickPrice (1); ibapi raises the matching tickSize itself for bid/ask/last."""
        if ServerMsg.TICK_PRICE in self._proto:
            message = TickPriceProto(
                reqId=req_id, tickType=tick_type, price=price, size=str(size), attrMask=attr_mask
            )
            return self.protobuf(ServerMsg.TICK_PRICE, message)
        body = f"6\0{req_id:d}\0{tick_type:d}\0{float(price)!r}\0{size:d}\0{attr_mask:d}\0"
        return self._text_frame(ServerMsg.TICK_PRICE, body.encode("ascii"))

    def tick_size(self, req_id: int, tick_type: int, size: int) -> bytes:
        """tickSize (2)."""
        if ServerMsg.TICK_SIZE in self._proto:
            message = TickSizeProto(reqId=req_id, tickType=tick_type, size=str(size))
            return self.protobuf(ServerMsg.TICK_SIZE, message)
        body = f"6\0{req_id:d}\0{tick_type:d}\0{size:d}\0"
        return self._text_frame(ServerMsg.TICK_SIZE, body.encode("ascii"))

    def tick_string(self, req_id: int, tick_type: int, value: str) -> bytes:
        """tickString (46)."""
        if ServerMsg.TICK_STRING in self._proto:
            message = TickStringProto(reqId=req_id, tickType=tick_type, value=value)
            return self.protobuf(ServerMsg.TICK_STRING, message)
        return self.text(ServerMsg.TICK_STRING, 6, req_id, tick_type, value)

    def tick_generic(self, req_id: int, tick_type: int, value: float) -> bytes:
        """tickGeneric (45)."""
        if ServerMsg.TICK_GENERIC in self._proto:
            message = TickGenericProto(reqId=req_id, tickType=tick_type, value=value)
            return self.protobuf(ServerMsg.TICK_GENERIC, message)
        return self.text(ServerMsg.TICK_GENERIC, 6, req_id, tick_type, float(value))

    # -- end markers for requests the simulator does not model -----------------------------

    def position_end(self) -> bytes:
        """positionEnd (62)."""
        if ServerMsg.POSITION_END in self._proto:
            return self.protobuf(ServerMsg.POSITION_END, PositionEndProto())
        return self.text(ServerMsg.POSITION_END, 1)

    def open_order_end(self) -> bytes:
        """openOrderEnd (53)."""
        if ServerMsg.OPEN_ORDER_END in self._proto:
            return self.protobuf(ServerMsg.OPEN_ORDER_END, OpenOrdersEndProto())
        return self.text(ServerMsg.OPEN_ORDER_END, 1)

    def completed_orders_end(self) -> bytes:
        """completedOrdersEnd (102): no fields at all in text."""
        if ServerMsg.COMPLETED_ORDERS_END in self._proto:
            return self.protobuf(ServerMsg.COMPLETED_ORDERS_END, CompletedOrdersEndProto())
        return self.text(ServerMsg.COMPLETED_ORDERS_END)

    def account_download_end(self, account: str) -> bytes:
        """accountDownloadEnd (54)."""
        if ServerMsg.ACCT_DOWNLOAD_END in self._proto:
            message = AccountDataEndProto(accountName=account)
            return self.protobuf(ServerMsg.ACCT_DOWNLOAD_END, message)
        return self.text(ServerMsg.ACCT_DOWNLOAD_END, 1, account)

    def account_update_multi_end(self, req_id: int) -> bytes:
        """accountUpdateMultiEnd (74)."""
        if ServerMsg.ACCOUNT_UPDATE_MULTI_END in self._proto:
            message = AccountUpdateMultiEndProto(reqId=req_id)
            return self.protobuf(ServerMsg.ACCOUNT_UPDATE_MULTI_END, message)
        return self.text(ServerMsg.ACCOUNT_UPDATE_MULTI_END, 1, req_id)

    def execution_data_end(self, req_id: int) -> bytes:
        """execDetailsEnd (55)."""
        if ServerMsg.EXECUTION_DATA_END in self._proto:
            message = ExecutionDetailsEndProto(reqId=req_id)
            return self.protobuf(ServerMsg.EXECUTION_DATA_END, message)
        return self.text(ServerMsg.EXECUTION_DATA_END, 1, req_id)

"""The TWS API socket protocol from the gateway's side, as pure functions and value objects.

Nothing here touches a socket or a clock: bytes and values go in, bytes and values come out,
so every layout can be checked against ibapi's own ``Decoder`` in a unit test (the h11 model).

One module per job, in the order a connection meets them:

* :mod:`~publisher.sim.protocol.versions`: server versions, message ids, :data:`PROTOBUF_SINCE`;
* :mod:`~publisher.sim.protocol.errors`: :class:`ProtocolError` and what it carries;
* :mod:`~publisher.sim.protocol.framing`: length-prefixed frames and :class:`FrameBuffer`;
* :mod:`~publisher.sim.protocol.handshake`: ``API\\0``, the version range (:class:`Opening`),
  the reply;
* :mod:`~publisher.sim.protocol.contracts` and :mod:`~publisher.sim.protocol.requests`: value
  objects for what clients ask; :mod:`~publisher.sim.protocol.parsing` decodes them;
* :mod:`~publisher.sim.protocol.ticks`: tick types and events;
* :mod:`~publisher.sim.protocol.replies`: the fixed error codes and texts TWS answers with;
* :mod:`~publisher.sim.protocol.encoding`: :class:`Encoder`, every server message as a frame
  (with :mod:`~publisher.sim.protocol.contract_data` for contractData's many layouts).

Client requests switch to protobuf per message group (ibapi ``getServerVersionForMessage``);
the server answers in protobuf from the version at which the matching request group went
protobuf (:data:`PROTOBUF_SINCE`). This package re-exports every public name, so callers import
from ``publisher.sim.protocol`` and never need to know which module holds what.
"""

from publisher.sim.protocol.contracts import ContractQuery, ContractSpec
from publisher.sim.protocol.encoding import Encoder
from publisher.sim.protocol.errors import (
    BadHandshakeError,
    FrameTooLargeError,
    MalformedRequestError,
    ProtocolError,
    VersionMismatchError,
)
from publisher.sim.protocol.fields import decimal_text
from publisher.sim.protocol.framing import FrameBuffer, frame
from publisher.sim.protocol.handshake import (
    API_PREFIX,
    PEEK_BYTES,
    Hello,
    Opening,
    check_prefix,
    format_connection_time,
    handshake_reply,
    negotiate,
    parse_hello,
)
from publisher.sim.protocol.parsing import parse_request
from publisher.sim.protocol.replies import (
    BBO_EXCHANGE,
    CANNOT_FIND_TICKER,
    CLIENT_ID_IN_USE,
    CLIENT_ID_IN_USE_TEXT,
    DUPLICATE_TICKER_ID,
    FARM_STATUS,
    MAX_TICKERS,
    MAX_TICKERS_TEXT,
    NO_SECURITY_DEFINITION,
    NO_SECURITY_DEFINITION_TEXT,
    SNAPSHOT_PERMISSIONS,
)
from publisher.sim.protocol.requests import (
    CancelMktData,
    ReqAccountUpdates,
    ReqAccountUpdatesMulti,
    ReqAutoOpenOrders,
    ReqCompletedOrders,
    ReqContractDetails,
    ReqCurrentTime,
    ReqExecutions,
    ReqIds,
    ReqManagedAccounts,
    ReqMarketDataType,
    ReqMktData,
    ReqOpenOrders,
    ReqPositions,
    Request,
    StartApi,
    UnknownRequest,
)
from publisher.sim.protocol.ticks import (
    DELAYED_MARKET_DATA_TYPES,
    DELAYED_TICK_TYPE,
    MARKET_DATA_TYPES,
    GenericTick,
    PriceTick,
    SizeTick,
    StringTick,
    TickEvent,
    TickType,
)
from publisher.sim.protocol.versions import (
    MAX_FRAME_LEN,
    MAX_SERVER_VERSION,
    MIN_SERVER_VERSION,
    PROTOBUF_ID_OFFSET,
    PROTOBUF_SINCE,
    V_PROTOBUF,
    V_PROTOBUF_ACCOUNTS,
    V_PROTOBUF_COMPLETED_ORDER,
    V_PROTOBUF_CONTRACT_DATA,
    V_PROTOBUF_MARKET_DATA,
    V_PROTOBUF_REST_3,
    ClientMsg,
    ServerMsg,
)

__all__ = [
    "API_PREFIX",
    "BBO_EXCHANGE",
    "CANNOT_FIND_TICKER",
    "CLIENT_ID_IN_USE",
    "CLIENT_ID_IN_USE_TEXT",
    "DELAYED_MARKET_DATA_TYPES",
    "DELAYED_TICK_TYPE",
    "DUPLICATE_TICKER_ID",
    "FARM_STATUS",
    "MARKET_DATA_TYPES",
    "MAX_FRAME_LEN",
    "MAX_SERVER_VERSION",
    "MAX_TICKERS",
    "MAX_TICKERS_TEXT",
    "MIN_SERVER_VERSION",
    "NO_SECURITY_DEFINITION",
    "NO_SECURITY_DEFINITION_TEXT",
    "PEEK_BYTES",
    "PROTOBUF_ID_OFFSET",
    "PROTOBUF_SINCE",
    "SNAPSHOT_PERMISSIONS",
    "V_PROTOBUF",
    "V_PROTOBUF_ACCOUNTS",
    "V_PROTOBUF_COMPLETED_ORDER",
    "V_PROTOBUF_CONTRACT_DATA",
    "V_PROTOBUF_MARKET_DATA",
    "V_PROTOBUF_REST_3",
    "BadHandshakeError",
    "CancelMktData",
    "ClientMsg",
    "ContractQuery",
    "ContractSpec",
    "Encoder",
    "FrameBuffer",
    "FrameTooLargeError",
    "GenericTick",
    "Hello",
    "MalformedRequestError",
    "Opening",
    "PriceTick",
    "ProtocolError",
    "ReqAccountUpdates",
    "ReqAccountUpdatesMulti",
    "ReqAutoOpenOrders",
    "ReqCompletedOrders",
    "ReqContractDetails",
    "ReqCurrentTime",
    "ReqExecutions",
    "ReqIds",
    "ReqManagedAccounts",
    "ReqMarketDataType",
    "ReqMktData",
    "ReqOpenOrders",
    "ReqPositions",
    "Request",
    "ServerMsg",
    "SizeTick",
    "StartApi",
    "StringTick",
    "TickEvent",
    "TickType",
    "UnknownRequest",
    "VersionMismatchError",
    "check_prefix",
    "decimal_text",
    "format_connection_time",
    "frame",
    "handshake_reply",
    "negotiate",
    "parse_hello",
    "parse_request",
]

"""Protocol versions and message ids: what each negotiated server version changes.

The version numbers come from the installed ibapi (``ibapi.server_versions``) so that a new ibapi
moves them with it. :data:`PROTOBUF_SINCE` is our reading of when a current gateway answers each
message in protobuf (by the version at which the matching request group went protobuf).
"""

from enum import IntEnum
from typing import Final

from ibapi import server_versions as _sv

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
V_PROTOBUF_HISTORICAL: Final[int] = int(_sv.MIN_SERVER_VER_PROTOBUF_HISTORICAL_DATA)  # 208
V_PROTOBUF_REST_3: Final[int] = int(_sv.MIN_SERVER_VER_PROTOBUF_REST_MESSAGES_3)  # 213

V_OPTIONAL_CAPABILITIES: Final[int] = int(_sv.MIN_SERVER_VER_OPTIONAL_CAPABILITIES)  # 72
V_LINKING: Final[int] = int(_sv.MIN_SERVER_VER_LINKING)  # 70
V_SMART_COMPONENTS: Final[int] = int(_sv.MIN_SERVER_VER_REQ_SMART_COMPONENTS)  # 114
V_MD_SIZE_MULTIPLIER: Final[int] = int(_sv.MIN_SERVER_VER_MD_SIZE_MULTIPLIER)  # 110
V_AGG_GROUP: Final[int] = int(_sv.MIN_SERVER_VER_AGG_GROUP)  # 121
V_UNDERLYING_INFO: Final[int] = int(_sv.MIN_SERVER_VER_UNDERLYING_INFO)  # 122
V_MARKET_RULES: Final[int] = int(_sv.MIN_SERVER_VER_MARKET_RULES)  # 126
V_REAL_EXPIRATION_DATE: Final[int] = int(_sv.MIN_SERVER_VER_REAL_EXPIRATION_DATE)  # 134
V_STOCK_TYPE: Final[int] = int(_sv.MIN_SERVER_VER_STOCK_TYPE)  # 152
V_FRACTIONAL_SIZE: Final[int] = int(_sv.MIN_SERVER_VER_FRACTIONAL_SIZE_SUPPORT)  # 163
V_SIZE_RULES: Final[int] = int(_sv.MIN_SERVER_VER_SIZE_RULES)  # 164
V_ADVANCED_ORDER_REJECT: Final[int] = int(_sv.MIN_SERVER_VER_ADVANCED_ORDER_REJECT)  # 166
V_FUND_DATA_FIELDS: Final[int] = int(_sv.MIN_SERVER_VER_FUND_DATA_FIELDS)  # 179
V_LAST_TRADE_DATE: Final[int] = int(_sv.MIN_SERVER_VER_LAST_TRADE_DATE)  # 182
V_INELIGIBILITY_REASONS: Final[int] = int(_sv.MIN_SERVER_VER_INELIGIBILITY_REASONS)  # 186
V_ERROR_TIME: Final[int] = int(_sv.MIN_SERVER_VER_ERROR_TIME)  # 194
V_SERVICE_DATA_TYPE: Final[int] = int(_sv.MIN_SERVER_VER_SERVICE_DATA_TYPE)  # 120
V_TICK_BY_TICK_IGNORE_SIZE: Final[int] = int(_sv.MIN_SERVER_VER_TICK_BY_TICK_IGNORE_SIZE)  # 140
V_SMART_DEPTH: Final[int] = int(_sv.MIN_SERVER_VER_SMART_DEPTH)  # 146
V_MKT_DEPTH_PRIM_EXCHANGE: Final[int] = int(_sv.MIN_SERVER_VER_MKT_DEPTH_PRIM_EXCHANGE)  # 149
V_PRICE_BASED_VOLATILITY: Final[int] = int(_sv.MIN_SERVER_VER_PRICE_BASED_VOLATILITY)  # 156


class ClientMsg(IntEnum):
    """Ids of the client requests the simulator understands (ibapi ``message.OUT``)."""

    REQ_MKT_DATA = 1
    CANCEL_MKT_DATA = 2
    REQ_OPEN_ORDERS = 5
    REQ_ACCT_DATA = 6
    REQ_EXECUTIONS = 7
    REQ_IDS = 8
    REQ_CONTRACT_DATA = 9
    REQ_MKT_DEPTH = 10
    CANCEL_MKT_DEPTH = 11
    REQ_AUTO_OPEN_ORDERS = 15
    REQ_ALL_OPEN_ORDERS = 16
    REQ_MANAGED_ACCTS = 17
    REQ_CURRENT_TIME = 49
    REQ_REAL_TIME_BARS = 50
    CANCEL_REAL_TIME_BARS = 51
    REQ_MARKET_DATA_TYPE = 59
    REQ_POSITIONS = 61
    START_API = 71
    REQ_ACCOUNT_UPDATES_MULTI = 76
    REQ_MKT_DEPTH_EXCHANGES = 82
    REQ_TICK_BY_TICK_DATA = 97
    CANCEL_TICK_BY_TICK_DATA = 98
    REQ_COMPLETED_ORDERS = 99


class ServerMsg(IntEnum):
    """Ids of the messages the simulator sends (ibapi ``message.IN``)."""

    TICK_PRICE = 1
    TICK_SIZE = 2
    ERR_MSG = 4
    NEXT_VALID_ID = 9
    CONTRACT_DATA = 10
    MARKET_DEPTH = 12
    MARKET_DEPTH_L2 = 13
    MANAGED_ACCTS = 15
    TICK_OPTION_COMPUTATION = 21
    TICK_GENERIC = 45
    TICK_STRING = 46
    CURRENT_TIME = 49
    REAL_TIME_BARS = 50
    CONTRACT_DATA_END = 52
    OPEN_ORDER_END = 53
    ACCT_DOWNLOAD_END = 54
    EXECUTION_DATA_END = 55
    TICK_SNAPSHOT_END = 57
    MARKET_DATA_TYPE = 58
    POSITION_END = 62
    ACCOUNT_UPDATE_MULTI_END = 74
    MKT_DEPTH_EXCHANGES = 80
    TICK_REQ_PARAMS = 81
    TICK_BY_TICK = 99
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
    ServerMsg.TICK_OPTION_COMPUTATION: V_PROTOBUF_MARKET_DATA,
    ServerMsg.MARKET_DEPTH: V_PROTOBUF_MARKET_DATA,
    ServerMsg.MARKET_DEPTH_L2: V_PROTOBUF_MARKET_DATA,
    # tick-by-tick and real-time bars are requested in the historical group
    ServerMsg.TICK_BY_TICK: V_PROTOBUF_HISTORICAL,
    ServerMsg.REAL_TIME_BARS: V_PROTOBUF_HISTORICAL,
    ServerMsg.MKT_DEPTH_EXCHANGES: V_PROTOBUF_REST_3,
    ServerMsg.MANAGED_ACCTS: V_PROTOBUF_ACCOUNTS,
    ServerMsg.POSITION_END: V_PROTOBUF_ACCOUNTS,
    ServerMsg.ACCT_DOWNLOAD_END: V_PROTOBUF_ACCOUNTS,
    ServerMsg.ACCOUNT_UPDATE_MULTI_END: V_PROTOBUF_ACCOUNTS,
    ServerMsg.NEXT_VALID_ID: V_PROTOBUF_REST_3,
    ServerMsg.CURRENT_TIME: V_PROTOBUF_REST_3,
}
"""The server version from which each message is sent as protobuf (by its request group)."""

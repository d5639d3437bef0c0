"""Decoding one client frame into a :data:`~publisher.sim.protocol.requests.Request`.

Text requests are read field by field at the negotiated version; protobuf requests (wire id above
200) are parsed with ibapi's generated message classes. A request we do not model comes back as
:class:`~publisher.sim.protocol.requests.UnknownRequest`, never as an error.
"""

from collections.abc import Callable
from dataclasses import replace
from typing import Any, Final

from ibapi.protobuf.AccountDataRequest_pb2 import AccountDataRequest as AccountDataRequestProto
from ibapi.protobuf.AccountUpdatesMultiRequest_pb2 import (
    AccountUpdatesMultiRequest as AccountUpdatesMultiRequestProto,
)
from ibapi.protobuf.CancelMarketData_pb2 import CancelMarketData as CancelMarketDataProto
from ibapi.protobuf.CompletedOrdersRequest_pb2 import (
    CompletedOrdersRequest as CompletedOrdersRequestProto,
)
from ibapi.protobuf.ContractDataRequest_pb2 import ContractDataRequest as ContractDataRequestProto
from ibapi.protobuf.ExecutionRequest_pb2 import ExecutionRequest as ExecutionRequestProto
from ibapi.protobuf.IdsRequest_pb2 import IdsRequest as IdsRequestProto
from ibapi.protobuf.MarketDataRequest_pb2 import MarketDataRequest as MarketDataRequestProto
from ibapi.protobuf.MarketDataTypeRequest_pb2 import (
    MarketDataTypeRequest as MarketDataTypeRequestProto,
)
from ibapi.protobuf.StartApiRequest_pb2 import StartApiRequest as StartApiRequestProto

from publisher.sim.protocol.data_parsing import DATA_PROTO_PARSERS, DATA_TEXT_PARSERS
from publisher.sim.protocol.errors import MalformedRequestError
from publisher.sim.protocol.reading import Fields as _Fields
from publisher.sim.protocol.reading import pb_bool as _pb_bool
from publisher.sim.protocol.reading import pb_int as _pb_int
from publisher.sim.protocol.reading import pb_str as _pb_str
from publisher.sim.protocol.reading import proto_contract as _proto_contract
from publisher.sim.protocol.reading import text_contract as _text_contract
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
from publisher.sim.protocol.versions import (
    PROTOBUF_ID_OFFSET,
    V_LINKING,
    V_OPTIONAL_CAPABILITIES,
    V_PROTOBUF,
    V_SMART_COMPONENTS,
    ClientMsg,
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
    regulatory = f.flag(False) if version >= V_SMART_COMPONENTS else False
    if version >= V_LINKING:
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
    caps = f.text("") if version >= V_OPTIONAL_CAPABILITIES else ""
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
    text_parser = _TEXT_PARSERS.get(msg_id) or DATA_TEXT_PARSERS.get(msg_id)
    if text_parser is None:
        return UnknownRequest(msg_id, protobuf=False)
    return text_parser(_Fields(fields, msg_id), server_version)


def _parse_proto(msg_id: int, body: bytes) -> Request:
    entry = _PROTO_PARSERS.get(msg_id) or DATA_PROTO_PARSERS.get(msg_id)
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

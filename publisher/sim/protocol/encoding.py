"""Server messages as complete frames, for one negotiated server version.

Three encodings share one wire, chosen per message by the version (:data:`PROTOBUF_SINCE`):
classic text (``<= 200``: ``msgId\\0field\\0...``), raw-int id (``>= 201``: a 4-byte msgId, then
the same text fields) and protobuf (``>= 201``: a 4-byte id of ``msgId + 200``, then a serialized
message). ibapi decides by the id alone, so either form decodes.
"""

from collections.abc import Sequence
from typing import Any

from ibapi.protobuf.AccountDataEnd_pb2 import AccountDataEnd as AccountDataEndProto
from ibapi.protobuf.AccountUpdateMultiEnd_pb2 import (
    AccountUpdateMultiEnd as AccountUpdateMultiEndProto,
)
from ibapi.protobuf.CompletedOrdersEnd_pb2 import CompletedOrdersEnd as CompletedOrdersEndProto
from ibapi.protobuf.ContractData_pb2 import ContractData as ContractDataProto
from ibapi.protobuf.ContractDataEnd_pb2 import ContractDataEnd as ContractDataEndProto
from ibapi.protobuf.CurrentTime_pb2 import CurrentTime as CurrentTimeProto
from ibapi.protobuf.ErrorMessage_pb2 import ErrorMessage as ErrorMessageProto
from ibapi.protobuf.ExecutionDetailsEnd_pb2 import ExecutionDetailsEnd as ExecutionDetailsEndProto
from ibapi.protobuf.ManagedAccounts_pb2 import ManagedAccounts as ManagedAccountsProto
from ibapi.protobuf.MarketDataType_pb2 import MarketDataType as MarketDataTypeProto
from ibapi.protobuf.NextValidId_pb2 import NextValidId as NextValidIdProto
from ibapi.protobuf.OpenOrdersEnd_pb2 import OpenOrdersEnd as OpenOrdersEndProto
from ibapi.protobuf.PositionEnd_pb2 import PositionEnd as PositionEndProto
from ibapi.protobuf.TickGeneric_pb2 import TickGeneric as TickGenericProto
from ibapi.protobuf.TickPrice_pb2 import TickPrice as TickPriceProto
from ibapi.protobuf.TickReqParams_pb2 import TickReqParams as TickReqParamsProto
from ibapi.protobuf.TickSize_pb2 import TickSize as TickSizeProto
from ibapi.protobuf.TickSnapshotEnd_pb2 import TickSnapshotEnd as TickSnapshotEndProto
from ibapi.protobuf.TickString_pb2 import TickString as TickStringProto

from publisher.sim.protocol.contract_data import contract_fields, contract_message, details_message
from publisher.sim.protocol.contracts import ContractSpec
from publisher.sim.protocol.fields import decimal_text, text_field
from publisher.sim.protocol.framing import LENGTH
from publisher.sim.protocol.ticks import (
    DELAYED_TICK_TYPE,
    PriceTick,
    SizeTick,
    StringTick,
    TickEvent,
)
from publisher.sim.protocol.versions import (
    MAX_SERVER_VERSION,
    MIN_SERVER_VERSION,
    PROTOBUF_ID_OFFSET,
    PROTOBUF_SINCE,
    V_ADVANCED_ORDER_REJECT,
    V_ERROR_TIME,
    V_PROTOBUF,
    ServerMsg,
)


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
        body = "".join([text_field(f) + "\0" for f in fields]).encode("ascii", "backslashreplace")
        return self._text_frame(msg_id, body)

    def _text_frame(self, msg_id: int, body: bytes) -> bytes:
        head = msg_id.to_bytes(4, "big") if self._raw_ids else b"%d\0" % msg_id
        return LENGTH.pack(len(head) + len(body)) + head + body

    @staticmethod
    def protobuf(msg_id: int, message: Any) -> bytes:
        """A protobuf message: id + 200 as 4 bytes, then the serialized message."""
        body: bytes = message.SerializeToString()
        return LENGTH.pack(len(body) + 4) + (msg_id + PROTOBUF_ID_OFFSET).to_bytes(4, "big") + body

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
        if self.version >= V_ERROR_TIME:
            return self.text(
                ServerMsg.ERR_MSG, req_id, code, message, advanced_order_reject_json, error_time_ms
            )
        if self.version >= V_ADVANCED_ORDER_REJECT:
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
                contract=contract_message(spec),
                contractDetails=details_message(spec),
            )
            return self.protobuf(ServerMsg.CONTRACT_DATA, message)
        return self.text(ServerMsg.CONTRACT_DATA, *contract_fields(self.version, req_id, spec))

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

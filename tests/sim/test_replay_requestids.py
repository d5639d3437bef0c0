"""Request ids in server frames: found where ibapi's Decoder reads them, rewritten in place.

Frames come from the simulator's own encoder (held to ibapi's Decoder by test_protocol) at a
classic and a protobuf version; after a rewrite ibapi decodes the frame to the new id and every
other byte unchanged.
"""

from collections.abc import Callable

import pytest
from ibapi.protobuf import (
    AccountUpdateMultiEnd_pb2,
    ContractData_pb2,
    ContractDataEnd_pb2,
    ErrorMessage_pb2,
    ExecutionDetailsEnd_pb2,
    MarketDataType_pb2,
    TickGeneric_pb2,
    TickPrice_pb2,
    TickReqParams_pb2,
    TickSize_pb2,
    TickSnapshotEnd_pb2,
    TickString_pb2,
)

from publisher.sim.catalogue import Catalogue
from publisher.sim.protocol import Encoder, FrameBuffer
from publisher.sim.replay.requestids import (
    PROTOBUF_WITH_REQ_ID,
    message_id,
    read_req_id,
    with_req_id,
)
from tests.sim.support import RecordingWrapper, decode_frames

VERSIONS = (176, 200, 225)
OLD_ID, NEW_ID = 4242, 7


def _spec() -> object:
    return next(iter(Catalogue.builtin())).spec


FRAMES: dict[str, Callable[[Encoder, int], bytes]] = {
    "tickPrice": lambda e, r: e.tick_price(r, 1, 101.5, 300, 1),
    "tickSize": lambda e, r: e.tick_size(r, 0, 200),
    "tickString": lambda e, r: e.tick_string(r, 45, "1700000000"),
    "tickGeneric": lambda e, r: e.tick_generic(r, 49, 0.0),
    "tickReqParams": lambda e, r: e.tick_req_params(r, 0.01, "9c0001", 3),
    "marketDataType": lambda e, r: e.market_data_type(r, 3),
    "tickSnapshotEnd": lambda e, r: e.tick_snapshot_end(r),
    "error": lambda e, r: e.error(r, 10167, "delayed", error_time_ms=1),
    "contractDetails": lambda e, r: e.contract_data(r, _spec()),  # type: ignore[arg-type]
    "contractDetailsEnd": lambda e, r: e.contract_data_end(r),
    "accountUpdateMultiEnd": lambda e, r: e.account_update_multi_end(r),
    "execDetailsEnd": lambda e, r: e.execution_data_end(r),
}


def payload_of(framed: bytes) -> bytes:
    buf = FrameBuffer()
    buf.feed(framed)
    payload = buf.next_frame()
    assert payload is not None and buf.pending == 0
    return payload


def decoded(payload: bytes, version: int) -> list[tuple[str, tuple[object, ...]]]:
    wrapper = RecordingWrapper()
    decode_frames(len(payload).to_bytes(4, "big") + payload, version, wrapper)
    return wrapper.calls


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("name", sorted(FRAMES))
def test_request_id_is_found_and_rewritten(name: str, version: int) -> None:
    encoder = Encoder(version)
    payload = payload_of(FRAMES[name](encoder, OLD_ID))
    assert read_req_id(payload, version) == OLD_ID
    for new in (NEW_ID, 0, -1, 2**31 - 1):
        rewritten = with_req_id(payload, version, new)
        assert read_req_id(rewritten, version) == new
        # byte for byte what the encoder writes for the new id (so nothing else moved) ...
        assert rewritten == payload_of(FRAMES[name](encoder, new))
        # ... and ibapi reads the new id (the first argument of every one of these callbacks)
        calls = [args for called, args in decoded(rewritten, version) if called == name]
        assert calls and calls[0][0] == new


@pytest.mark.parametrize("version", VERSIONS)
def test_messages_without_a_request_id(version: int) -> None:
    encoder = Encoder(version)
    for framed in (
        encoder.managed_accounts(["DU1"]),
        encoder.next_valid_id(5),
        encoder.current_time(1),
        encoder.position_end(),
    ):
        assert read_req_id(payload_of(framed), version) is None


def test_unreadable_frames_carry_no_id() -> None:
    assert read_req_id(b"", 225) is None
    assert read_req_id(b"x\0", 176) is None
    with pytest.raises(ValueError, match="message id"):
        message_id(b"x\0", 176)


PROTOS = {
    1: TickPrice_pb2.TickPrice,
    2: TickSize_pb2.TickSize,
    4: ErrorMessage_pb2.ErrorMessage,
    10: ContractData_pb2.ContractData,
    45: TickGeneric_pb2.TickGeneric,
    46: TickString_pb2.TickString,
    52: ContractDataEnd_pb2.ContractDataEnd,
    55: ExecutionDetailsEnd_pb2.ExecutionDetailsEnd,
    57: TickSnapshotEnd_pb2.TickSnapshotEnd,
    58: MarketDataType_pb2.MarketDataType,
    74: AccountUpdateMultiEnd_pb2.AccountUpdateMultiEnd,
    81: TickReqParams_pb2.TickReqParams,
}


@pytest.mark.parametrize("msg_id", sorted(PROTOS))
def test_protobuf_table_matches_ibapis_descriptors(msg_id: int) -> None:
    """Field 1 of each listed message is its int32 request id in ibapi's own .proto."""
    assert msg_id in PROTOBUF_WITH_REQ_ID
    field = PROTOS[msg_id].DESCRIPTOR.fields_by_number[1]
    assert field.name in {"reqId", "id"}
    assert field.type == field.TYPE_INT32

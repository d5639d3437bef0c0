"""Where a server frame carries its request id, reading it and rewriting it (pure).

A recorded answer goes to the replaying client under the client's own request id, so the frame's
id is rewritten in place and every other byte is kept. Two encodings:

* classic text (every frame below server version 201, and frames whose 4-byte id is <= 200
  above it): NUL-terminated fields; the id is the field at :func:`text_index` after the message
  id (a leading ``version`` field comes and goes with the server version, as in ibapi's
  ``Decoder``);
* protobuf (4-byte id > 200): every message in :data:`PROTOBUF_WITH_REQ_ID` has the request id
  as field 1 (an ``optional int32``: written even when 0; absent means unset, which ibapi reads
  as -1). A test holds this table to the ``*_pb2`` descriptors ibapi ships.

Messages not listed carry no request id (managed accounts, next valid id, current time,
positions, orders, ...): replay treats them as unsolicited.
"""

from collections.abc import Callable
from typing import Final

PROTOBUF_OFFSET: Final = 200
V_PROTOBUF: Final = 201
_V_PRICE_BASED_VOLATILITY: Final = 156
_V_SIZE_RULES: Final = 164
_V_ERROR_TIME: Final = 194


def _versioned(_: int) -> int:
    return 1  # a version field, then the id


def _first(_: int) -> int:
    return 0


TEXT_REQ_ID_INDEX: Final[dict[int, Callable[[int], int]]] = {
    1: _versioned,  # tickPrice
    2: _versioned,  # tickSize
    4: lambda v: 1 if v < _V_ERROR_TIME else 0,  # error
    10: lambda v: 1 if v < _V_SIZE_RULES else 0,  # contractData
    21: lambda v: 1 if v < _V_PRICE_BASED_VOLATILITY else 0,  # tickOptionComputation
    45: _versioned,  # tickGeneric
    46: _versioned,  # tickString
    47: _versioned,  # tickEFP
    52: _versioned,  # contractDataEnd
    55: _versioned,  # execDetailsEnd
    57: _versioned,  # tickSnapshotEnd
    58: _versioned,  # marketDataType
    63: _versioned,  # accountSummary
    64: _versioned,  # accountSummaryEnd
    73: _versioned,  # accountUpdateMulti
    74: _versioned,  # accountUpdateMultiEnd
    81: _first,  # tickReqParams
}
"""Message id -> (server version -> index of the request id among the fields after the id)."""

PROTOBUF_WITH_REQ_ID: Final = frozenset(
    {1, 2, 4, 10, 21, 45, 46, 52, 55, 57, 58, 63, 64, 73, 74, 81}
)
"""Logical message ids whose protobuf message has the request id as field 1."""


def message_id(payload: bytes, server_version: int) -> tuple[int, bool]:
    """The frame's logical message id and whether its body is protobuf (ValueError if neither)."""
    if server_version >= V_PROTOBUF:
        if len(payload) < 4:
            raise ValueError("frame shorter than its 4-byte message id")
        wire = int.from_bytes(payload[:4], "big")
        if wire > PROTOBUF_OFFSET:
            return wire - PROTOBUF_OFFSET, True
        return wire, False
    head, sep, _ = payload.partition(b"\0")
    if not sep or not head.isdigit():
        raise ValueError(f"message id not an int: {head[:16]!r}")
    return int(head), False


def _text_fields(payload: bytes, server_version: int) -> tuple[bytes, list[bytes]]:
    """(the bytes before the fields, the fields after the message id)."""
    if server_version >= V_PROTOBUF:
        prefix, body = payload[:4], payload[4:]
    else:
        head, _, body = payload.partition(b"\0")
        prefix = head + b"\0"
    return prefix, body.split(b"\0")


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _read_varint(body: bytes, offset: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        if offset >= len(body):
            raise ValueError("truncated varint")
        byte = body[offset]
        offset += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    if value >= 1 << 63:
        value -= 1 << 64
    return value, offset


_FIELD_1_VARINT: Final = 0x08


def read_req_id(payload: bytes, server_version: int) -> int | None:
    """The request id the frame carries, or None for a message without one (or unreadable)."""
    try:
        msg_id, protobuf = message_id(payload, server_version)
        if protobuf:
            if msg_id not in PROTOBUF_WITH_REQ_ID:
                return None
            body = payload[4:]
            if not body or body[0] != _FIELD_1_VARINT:
                return -1  # unset: ibapi's NO_VALID_ID
            return _read_varint(body, 1)[0]
        index_of = TEXT_REQ_ID_INDEX.get(msg_id)
        if index_of is None:
            return None
        _, fields = _text_fields(payload, server_version)
        return int(fields[index_of(server_version)])
    except (ValueError, IndexError):
        return None


def with_req_id(payload: bytes, server_version: int, req_id: int) -> bytes:
    """The frame with its request id replaced by ``req_id`` (every other byte kept)."""
    msg_id, protobuf = message_id(payload, server_version)
    if protobuf:
        head, body = payload[:4], payload[4:]
        if body and body[0] == _FIELD_1_VARINT:
            _, end = _read_varint(body, 1)
            body = body[end:]
        return head + bytes([_FIELD_1_VARINT]) + _varint(req_id) + body
    prefix, fields = _text_fields(payload, server_version)
    fields[TEXT_REQ_ID_INDEX[msg_id](server_version)] = str(req_id).encode()
    return prefix + b"\0".join(fields)

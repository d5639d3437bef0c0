"""The tap file format: what the writer writes the reader reads back; damage is named."""

import io

import pytest

from publisher.tap.fileformat import (
    CLIENT,
    CLOSE,
    OPEN,
    PREAMBLE,
    SERVER,
    Record,
    TapFormatError,
    TapWriter,
    decode,
    encode,
    is_tap,
)

RECORDS = [
    Record(OPEN, 1, 10, b"127.0.0.1:5000 -> 127.0.0.1:4002"),
    Record(CLIENT, 1, 11, b"API\0\0\0\0\tv100..225"),
    Record(SERVER, 1, 12, b"\0\0\0\x05225\0x"),
    Record(OPEN, 2, 13, b""),
    Record(CLOSE, 1, 2**63, b"client"),
]


def written(records: list[Record]) -> bytes:
    out = io.BytesIO()
    writer = TapWriter(out)
    for record in records:
        writer.write(record)
    writer.flush()
    assert writer.records == len(records)
    assert writer.bytes_written == len(out.getvalue())
    return out.getvalue()


def test_records_round_trip_in_order() -> None:
    data = written(RECORDS)
    assert is_tap(data)
    assert list(decode(data)) == RECORDS


def test_layout_is_the_documented_one() -> None:
    """Magic, 2-byte version, then kind u8, session u32, ts_ns u64, length u32, bytes."""
    data = written([Record(SERVER, 7, 0x0102030405060708, b"ab")])
    assert data[:10] == b"IBPUBTAP\x00\x01"
    assert data[10:] == b"\x03" + b"\0\0\0\x07" + bytes(range(1, 9)) + b"\0\0\0\x02ab"
    assert encode(Record(SERVER, 7, 0x0102030405060708, b"ab")) == data[10:]


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", "not a tap file"),
        (b"IBPUBTAQ\0\x01", "not a tap file"),
        (b"IBPUBTAP\0\x09", "tap format version 9"),
        (written(RECORDS)[:-3], "truncated record at byte"),
        (written(RECORDS)[: PREAMBLE.size + 5], "truncated record header at byte 10"),
        (b"IBPUBTAP\0\x01" + encode(Record(9, 1, 0, b"")), "unknown record kind 9"),
    ],
)
def test_damage_is_named(data: bytes, problem: str) -> None:
    with pytest.raises(TapFormatError, match=problem):
        list(decode(data))

"""The tap file: what ``ibpub tap`` writes and ``ibpub sim --replay`` reads (docs/record-replay.md).

A file is an 8-byte magic ``IBPUBTAP``, a 2-byte big-endian format version (1), then records to
the end of the file. A record is a 17-byte header, big-endian ``kind`` (1 byte), ``session``
(4 bytes, numbered from 1 in the order the client connections arrived), ``ts_ns`` (8 bytes, Unix
time in nanoseconds when the proxy read the bytes), ``length`` (4 bytes), then ``length`` bytes:

* kind 1 ``open``: a client connected; the bytes are
  ``"<client host:port> -> <gateway host:port>"``.
* kind 2 ``client``: bytes the client sent, exactly as read from its socket (chunk boundaries are
  the socket's, not frames: the stream starts with ``API\\0``).
* kind 3 ``server``: bytes the gateway sent, as read.
* kind 4 ``close``: the session ended; the bytes say which side closed (``client`` / ``gateway``).

Pure: bytes in, values out; the one I/O is the :class:`TapWriter` around an open binary file.
"""

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, Final

from publisher.errors import IbpubError

MAGIC: Final = b"IBPUBTAP"
FORMAT_VERSION: Final = 1
PREAMBLE: Final = struct.Struct(">8sH")
HEADER: Final = struct.Struct(">BIQI")
MAX_RECORD: Final = 64 * 1024 * 1024
"""A record longer than this is taken as a damaged file, not allocated."""

OPEN: Final = 1
CLIENT: Final = 2
SERVER: Final = 3
CLOSE: Final = 4
KINDS: Final = {OPEN: "open", CLIENT: "client", SERVER: "server", CLOSE: "close"}


class TapFormatError(IbpubError, ValueError):
    """The bytes are not a (whole) tap file; the message says what is wrong and where."""


@dataclass(frozen=True, slots=True)
class Record:
    """One record of a tap file."""

    kind: int
    session: int
    ts_ns: int
    data: bytes


def is_tap(head: bytes) -> bool:
    """Whether a file starting with ``head`` is a tap file (by its magic)."""
    return head.startswith(MAGIC)


def preamble() -> bytes:
    """The bytes every tap file starts with."""
    return PREAMBLE.pack(MAGIC, FORMAT_VERSION)


def encode(record: Record) -> bytes:
    """One record as it is written."""
    header = HEADER.pack(record.kind, record.session, record.ts_ns, len(record.data))
    return header + record.data


def decode(data: bytes) -> Iterator[Record]:
    """The records of a whole tap file; :class:`TapFormatError` for a bad or truncated one."""
    if len(data) < PREAMBLE.size or not is_tap(data):
        raise TapFormatError(f"not a tap file (no {MAGIC.decode()} header)")
    _, version = PREAMBLE.unpack_from(data)
    if version != FORMAT_VERSION:
        raise TapFormatError(f"tap format version {version}, this ibpub reads {FORMAT_VERSION}")
    offset = PREAMBLE.size
    while offset < len(data):
        if offset + HEADER.size > len(data):
            raise TapFormatError(f"truncated record header at byte {offset}")
        kind, session, ts_ns, length = HEADER.unpack_from(data, offset)
        if kind not in KINDS:
            raise TapFormatError(f"unknown record kind {kind} at byte {offset}")
        if length > MAX_RECORD:
            raise TapFormatError(f"record of {length} bytes at byte {offset} (damaged?)")
        start = offset + HEADER.size
        if start + length > len(data):
            raise TapFormatError(
                f"truncated record at byte {offset}: {length} bytes announced, "
                f"{len(data) - start} present"
            )
        yield Record(kind, session, ts_ns, data[start : start + length])
        offset = start + length


class TapWriter:
    """Appends records to an open binary file (the preamble first); flushes on request."""

    def __init__(self, file: BinaryIO) -> None:
        self._file = file
        self._file.write(preamble())
        self.records = 0
        self.bytes_written = PREAMBLE.size

    def write(self, record: Record) -> None:
        """Write one record (buffered; :meth:`flush` pushes it to the OS)."""
        blob = encode(record)
        self._file.write(blob)
        self.records += 1
        self.bytes_written += len(blob)

    def flush(self) -> None:
        """Push buffered records to the operating system."""
        self._file.flush()

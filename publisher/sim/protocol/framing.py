"""Length-prefixed frames: building one, and splitting a byte stream into them.

Every message after the handshake's ``API\\0`` is a 4-byte big-endian length and a payload.
"""

import struct
from typing import Final

from publisher.sim.protocol.errors import FrameTooLargeError
from publisher.sim.protocol.versions import MAX_FRAME_LEN

LENGTH: Final = struct.Struct(">I")
"""The 4-byte big-endian length prefix."""


def frame(payload: bytes) -> bytes:
    """Prefix a payload with its 4-byte big-endian length."""
    return LENGTH.pack(len(payload)) + payload


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

    def peek(self, size: int) -> bytes:
        """Up to ``size`` of the bytes received, without taking them."""
        return bytes(self._buf[:size])

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
        (size,) = LENGTH.unpack_from(self._buf)
        if size > self._limit:
            raise FrameTooLargeError(size, self._limit)
        end = 4 + size
        if len(self._buf) < end:
            return None
        payload = bytes(self._buf[4:end])
        del self._buf[:end]
        return payload

"""The connection's opening: ``API\\0``, the client's version range, and our one-frame reply.

Pure functions: the session feeds them bytes and acts on what they return or raise.
"""

import re
import time
from dataclasses import dataclass
from typing import Final

from publisher.sim.protocol.errors import BadHandshakeError, VersionMismatchError
from publisher.sim.protocol.framing import FrameBuffer, frame
from publisher.sim.protocol.versions import MIN_SERVER_VERSION

API_PREFIX: Final = b"API\0"
"""The four raw bytes a client sends before its version frame."""

PEEK_BYTES: Final = 64
"""How many of a connection's first bytes a bad prefix is judged (and reported) by."""

_BARE_VERSION: Final = re.compile(rb"(\d+)(?:\0|$)")
"""How a pre-v100 client opens: its client version as a text field (``62\\0``), no prefix."""


def check_prefix(head: bytes) -> bool:
    """Whether the connection's first bytes ``head`` hold all of ``API\\0``.

    False while what arrived may still become the prefix (a client may send it a byte at a
    time); :class:`BadHandshakeError` as soon as it cannot, so the session closes at once
    instead of waiting for bytes that will never make a prefix. A pre-v100 client (TWS API
    before 9.72, e.g. the Node package ``ib`` 0.2.9) opens with a bare version number such as
    ``62\\0`` and then waits for our reply: the reason names it.
    """
    size = len(API_PREFIX)
    if head[:size] == API_PREFIX[: len(head)]:
        return len(head) >= size
    bare = _BARE_VERSION.match(head)
    if bare is not None:
        number = bare.group(1).decode("ascii")
        reason = (
            f"no API\\0 prefix but a bare client version {number}, as clients older than"
            f" v{MIN_SERVER_VERSION} (TWS API 9.72) send; we speak v{MIN_SERVER_VERSION} and above"
        )
    else:
        reason = "missing API\\0 prefix"
    raise BadHandshakeError(head, reason)


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


class Opening:
    """The handshake's receiving side as a pure machine over the connection's frame buffer.

    :meth:`advance` consumes ``API\\0`` and the version frame as they arrive and returns the
    client's :class:`Hello` once both are in; it raises :class:`BadHandshakeError` the moment
    the first bytes cannot be the prefix (:func:`check_prefix`), or the version frame is not
    one. Bytes after the version frame stay in the buffer, for the request parser. When a
    handshake stalls, :meth:`progress` says how far it got.
    """

    __slots__ = ("_buffer", "_hello", "_prefixed")

    def __init__(self, buffer: FrameBuffer) -> None:
        self._buffer = buffer
        self._prefixed = False
        self._hello: Hello | None = None

    @property
    def done(self) -> bool:
        """Whether the version frame has been read."""
        return self._hello is not None

    def advance(self) -> Hello | None:
        """Consume what has arrived of the handshake; the Hello once complete, else None."""
        if self._hello is not None:
            return self._hello
        if not self._prefixed:
            if not check_prefix(self._buffer.peek(PEEK_BYTES)):
                return None  # part of API\0 so far
            self._buffer.take_prefix(len(API_PREFIX))
            self._prefixed = True
        payload = self._buffer.next_frame()
        if payload is None:
            return None
        self._hello = parse_hello(payload)
        return self._hello

    def progress(self) -> str:
        """How far the handshake got, in words, for a log line."""
        if self._hello is not None:
            return "complete"
        if self._prefixed:
            return f"no version frame after API\\0 ({self._buffer.pending} bytes of it)"
        got = self._buffer.peek(PEEK_BYTES)
        return f"got {got!r} of API\\0" if got else "nothing received"


def format_connection_time(epoch_seconds: float) -> str:
    """TWS's ``YYYYMMDD HH:MM:SS <tz>`` connection time; we always report UTC."""
    return time.strftime("%Y%m%d %H:%M:%S UTC", time.gmtime(epoch_seconds))


def handshake_reply(server_version: int, connection_time: str) -> bytes:
    """The one frame answering the version frame; always text, even above 200."""
    return frame(f"{server_version}\0{connection_time}\0".encode("ascii"))

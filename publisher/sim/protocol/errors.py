"""What the peer can get wrong, as exceptions that carry the data explaining it.

:class:`ProtocolError` and its subclasses mean the peer broke the protocol; passing values we
cannot encode is a plain ``ValueError`` (our bug), never one of these.
"""

from publisher.errors import IbpubError
from publisher.sim.protocol.versions import MAX_FRAME_LEN


class ProtocolError(IbpubError):
    """The peer sent something the TWS protocol does not allow; the connection should close."""


class FrameTooLargeError(ProtocolError):
    """A frame's length prefix is above :data:`MAX_FRAME_LEN`."""

    def __init__(self, size: int, limit: int = MAX_FRAME_LEN) -> None:
        super().__init__(f"frame of {size} bytes exceeds the limit of {limit}")
        self.size = size
        self.limit = limit


class BadHandshakeError(ProtocolError):
    """The connection did not open with ``API\\0`` and a ``v<min>..<max>`` version frame."""

    def __init__(self, data: bytes, reason: str) -> None:
        super().__init__(f"bad handshake ({reason}): {data[:64]!r}")
        self.data = data
        self.reason = reason


class VersionMismatchError(ProtocolError):
    """The client's version range does not overlap the versions we speak."""

    def __init__(self, client_min: int, client_max: int, server_min: int, server_max: int) -> None:
        super().__init__(
            f"client speaks v{client_min}..{client_max}, we speak v{server_min}..{server_max}"
        )
        self.client_min = client_min
        self.client_max = client_max
        self.server_min = server_min
        self.server_max = server_max


class MalformedRequestError(ProtocolError):
    """One request could not be decoded; the session may ignore it and carry on."""

    def __init__(self, msg_id: int, reason: str) -> None:
        super().__init__(f"malformed request {msg_id}: {reason}")
        self.msg_id = msg_id
        self.reason = reason

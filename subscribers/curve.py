"""A subscriber's CURVE keys: the publisher's public key and the subscriber's own key pair.

Key files are those ``ibpub keys`` writes (ZeroMQ's certificate format, read with
``zmq.auth.load_certificate``): the server's ``server.key`` and the client's
``clients/<name>.key_secret``. The environment variables :data:`ENV_SERVER_KEY` and
:data:`ENV_CLIENT_KEY` name the same two files for the ``ibsub`` commands.
"""

import os
from dataclasses import dataclass, field
from typing import Any, Final

import zmq
import zmq.auth

ENV_SERVER_KEY: Final = "IBSUB_CURVE_SERVER_KEY"
"""Path of the publisher's public key file (``server.key``)."""
ENV_CLIENT_KEY: Final = "IBSUB_CURVE_CLIENT_KEY"
"""Path of this subscriber's secret key file (``clients/<name>.key_secret``)."""


class CurveKeyError(ValueError):
    """A key file is missing, unreadable, or not the kind of key needed; ``path`` says which."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


@dataclass(frozen=True, slots=True)
class CurveKeys:
    """What a CURVE client socket needs; the secret key is kept out of ``repr``."""

    server_public: bytes
    public: bytes
    secret: bytes = field(repr=False)

    @classmethod
    def from_files(cls, server_key: str, client_key: str) -> "CurveKeys":
        """Load the server's public key file and the client's secret key file."""
        server_public, _ = _load(server_key)
        public, secret = _load(client_key)
        if secret is None:
            raise CurveKeyError(
                client_key, "holds no secret key (give the client's .key_secret file)"
            )
        return cls(server_public, public, secret)

    def apply(self, socket: zmq.Socket[Any]) -> None:
        """Make ``socket`` a CURVE client of the server (call before it connects)."""
        socket.curve_serverkey = self.server_public
        socket.curve_publickey = self.public
        socket.curve_secretkey = self.secret


def _load(path: str) -> tuple[bytes, bytes | None]:
    if not os.path.isfile(path):
        raise CurveKeyError(path, "no such key file")
    try:
        return zmq.auth.load_certificate(path)
    except (OSError, ValueError) as exc:
        raise CurveKeyError(path, f"not a ZeroMQ key file ({exc})") from None

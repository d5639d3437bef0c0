"""CURVE for ``ibpub proxy``: a server toward its subscribers, a client toward its publishers.

The two sides are independent, and each is on only when both of its flags are given:

* **downstream** (``--curve-secret-key``, ``--curve-authorized-keys``): the XPUB socket is a
  CURVE server with the proxy's own key pair, and a ZAP handler on the proxy's context admits
  only the subscribers whose public keys are in the directory, exactly as the publisher does
  with ``bus.curve_*`` (the helpers are publisher/bus/curve.py's). The key pair may be the
  proxy's own (a compromised proxy host then exposes only its key) or the publisher's, when
  subscribers use one server key for the stream (here) and the publisher's snapshot and control
  sockets (docs/deploy.md, "CURVE through the proxy").
* **upstream** (``--upstream-curve-server-key``, ``--upstream-curve-client-key``): the XSUB
  socket is a CURVE client holding the publishers' server public key and the proxy's client
  pair, whose public key each publisher lists in its ``bus.curve_authorized_keys``. One key set
  serves every upstream, so the publishers behind one proxy share a server key pair (or run
  behind separate proxies).

Keys are loaded when the service is built, so a missing or wrong file is a usage error (exit 2)
naming its flag before anything binds. The authenticator thread starts with the sockets.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator

from publisher.bus.curve import authorized_directory, load_secret_key, start_authenticator
from publisher.config import COMMAND_LINE
from publisher.endpoints import reaches_beyond_host
from publisher.errors import ConfigError
from publisher.proxy.settings import ProxySettings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ServerKeys:
    """The proxy's CURVE server identity toward subscribers; the secret stays out of ``repr``."""

    public: bytes
    secret: bytes = field(repr=False)
    authorized: Path


@dataclass(frozen=True, slots=True)
class ClientKeys:
    """The proxy's CURVE client identity toward the publishers."""

    server_public: bytes
    public: bytes
    secret: bytes = field(repr=False)


def _load_public_key(path: str, flag: str) -> bytes:
    try:
        public, _ = zmq.auth.load_certificate(path)
    except (OSError, ValueError) as exc:
        problem = (
            "is not a file" if isinstance(exc, FileNotFoundError) else f"cannot be read: {exc}"
        )
        raise ConfigError(COMMAND_LINE, flag, f"{path!r} {problem}") from None
    return public


class ProxySecurity:
    """Applies CURVE (or nothing) to the proxy's XPUB and XSUB sockets.

    Build it with :meth:`from_settings` (loads and checks the keys), call :meth:`start` with
    the proxy's context before binding, :meth:`secure_downstream` / :meth:`secure_upstream` on
    each socket before it binds / connects, and :meth:`close` at shutdown.
    """

    def __init__(self, server: ServerKeys | None = None, client: ClientKeys | None = None) -> None:
        self.server = server
        self.client = client
        self._authenticator: ThreadAuthenticator | None = None

    def __repr__(self) -> str:  # the secret keys stay out of logs and tracebacks
        server, client = self.server is not None, self.client is not None
        return f"ProxySecurity(downstream={server}, upstream={client})"

    @classmethod
    def from_settings(cls, settings: ProxySettings) -> "ProxySecurity":
        """Load the keys the settings name; ``ConfigError`` naming the flag when one is bad."""
        if (settings.curve or settings.upstream_curve) and not zmq.has("curve"):
            flag = "--curve-secret-key" if settings.curve else "--upstream-curve-server-key"
            raise ConfigError(COMMAND_LINE, flag, "this libzmq has no CURVE support")
        server = client = None
        if settings.curve_secret_key is not None and settings.curve_authorized_keys is not None:
            public, secret = load_secret_key(
                settings.curve_secret_key, COMMAND_LINE, "--curve-secret-key"
            )
            authorized = authorized_directory(
                settings.curve_authorized_keys, COMMAND_LINE, "--curve-authorized-keys"
            )
            server = ServerKeys(public, secret, authorized)
        if (
            settings.upstream_curve_server_key is not None
            and settings.upstream_curve_client_key is not None
        ):
            server_public = _load_public_key(
                settings.upstream_curve_server_key, "--upstream-curve-server-key"
            )
            public, secret = load_secret_key(
                settings.upstream_curve_client_key, COMMAND_LINE, "--upstream-curve-client-key"
            )
            client = ClientKeys(server_public, public, secret)
        return cls(server, client)

    def start(self, context: zmq.Context[Any]) -> None:
        """Start the ZAP handler on ``context`` when the downstream side has CURVE."""
        if self.server is not None and self._authenticator is None:
            self._authenticator = start_authenticator(context, self.server.authorized)
            log.info(
                "CURVE toward subscribers", extra={"authorized_keys": str(self.server.authorized)}
            )
        if self.client is not None:
            log.info("CURVE toward the publishers")

    def secure_downstream(self, socket: zmq.Socket[Any]) -> None:
        """Make ``socket`` (XPUB) a CURVE server; call before it binds."""
        if self.server is None:
            return
        socket.curve_secretkey = self.server.secret
        socket.curve_publickey = self.server.public
        socket.curve_server = True

    def secure_upstream(self, socket: zmq.Socket[Any]) -> None:
        """Make ``socket`` (XSUB) a CURVE client of the publishers; call before it connects."""
        if self.client is None:
            return
        socket.curve_serverkey = self.client.server_public
        socket.curve_publickey = self.client.public
        socket.curve_secretkey = self.client.secret

    def warn_if_exposed(self, binds: Sequence[str], upstreams: Sequence[str]) -> None:
        """Warn about each side that crosses the host's boundary without CURVE."""
        exposed = [e for e in binds if reaches_beyond_host(e)]
        if exposed and self.server is None:
            log.warning(
                "binding a non-loopback address without CURVE: anyone who can reach it can "
                "subscribe (set --curve-secret-key and --curve-authorized-keys)",
                extra={"endpoints": exposed},
            )
        remote = [e for e in upstreams if reaches_beyond_host(e)]
        if remote and self.client is None:
            log.warning(
                "connecting to publishers on other hosts without CURVE: the stream crosses the "
                "network in clear (set --upstream-curve-server-key and "
                "--upstream-curve-client-key)",
                extra={"endpoints": remote},
            )

    def close(self) -> None:
        """Stop the authenticator thread (idempotent)."""
        if self._authenticator is not None:
            self._authenticator.stop()
            self._authenticator = None

"""CURVE security for the publisher's PUB and snapshot sockets, with ZeroMQ's own ``zmq.auth``.

When ``bus.curve_secret_key`` and ``bus.curve_authorized_keys`` are set, every socket the
publisher binds is a CURVE server (encrypted, the server proves its identity with its secret
key) and a ZAP handler (:class:`zmq.auth.thread.ThreadAuthenticator`) admits only clients whose
public key is in the authorised directory. Without them nothing changes, and binding a
non-loopback address is logged as a warning because anyone who can reach it can subscribe.

The authorised directory is read once at start-up: restart the publisher to admit a new client.
One authenticator serves one ZeroMQ context (it binds the context's ZAP endpoint), so a process
running two CURVE publishers must give each its own context.

:func:`load_secret_key`, :func:`authorized_directory` and :func:`start_authenticator` are shared
with ``ibpub proxy`` (publisher/proxy/security.py), which is a CURVE server toward its own
subscribers; each takes the setting's name (a config key or a flag) to report in errors.
"""

import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator

from publisher.config import BusSettings
from publisher.endpoints import reaches_beyond_host
from publisher.errors import ConfigError

log = logging.getLogger(__name__)


def exposed_endpoints(bus: BusSettings) -> list[str]:
    """The endpoints of ``bus`` that other hosts may reach (:func:`reaches_beyond_host`)."""
    return [e for e in (*bus.pub, bus.snapshot) if reaches_beyond_host(e)]


class BusSecurity:
    """Applies CURVE (or nothing) to the publisher's sockets before they bind.

    Build it with :meth:`start`, pass :meth:`secure` as each socket's ``before_bind`` and call
    :meth:`close` at shutdown. With CURVE off, :meth:`secure` does nothing.
    """

    def __init__(
        self,
        *,
        public_key: bytes | None = None,
        secret_key: bytes | None = None,
        authenticator: ThreadAuthenticator | None = None,
    ) -> None:
        self._public_key = public_key
        self._secret_key = secret_key
        self._authenticator = authenticator

    def __repr__(self) -> str:  # the secret key stays out of logs and tracebacks
        return f"BusSecurity(curve={self.enabled})"

    @property
    def enabled(self) -> bool:
        """Whether the sockets are CURVE servers."""
        return self._secret_key is not None

    @classmethod
    def start(cls, bus: BusSettings, context: zmq.Context[Any], source: str) -> "BusSecurity":
        """Load the keys and start the authenticator named by ``bus`` (``source`` names the
        configuration file in errors); warns about exposed endpoints when CURVE is off."""
        if not bus.curve:
            exposed = exposed_endpoints(bus)
            if exposed:
                log.warning(
                    "binding a non-loopback address without CURVE: anyone who can reach it "
                    "can subscribe (set bus.curve_secret_key and bus.curve_authorized_keys)",
                    extra={"endpoints": exposed},
                )
            return cls()
        assert bus.curve_secret_key is not None and bus.curve_authorized_keys is not None
        if not zmq.has("curve"):
            raise ConfigError(source, "bus.curve_secret_key", "this libzmq has no CURVE support")
        public, secret = load_secret_key(bus.curve_secret_key, source, "bus.curve_secret_key")
        authorized = authorized_directory(
            bus.curve_authorized_keys, source, "bus.curve_authorized_keys"
        )
        authenticator = start_authenticator(context, authorized)
        log.info(
            "CURVE on",
            extra={"authorized_keys": str(authorized), "clients": _count_keys(authorized)},
        )
        return cls(public_key=public, secret_key=secret, authenticator=authenticator)

    def secure(self, socket: zmq.Socket[Any]) -> None:
        """Make ``socket`` a CURVE server (call before it binds); nothing when CURVE is off."""
        if self._secret_key is None:
            return
        socket.curve_secretkey = self._secret_key
        socket.curve_publickey = self._public_key
        socket.curve_server = True

    def close(self) -> None:
        """Stop the authenticator thread (idempotent)."""
        if self._authenticator is not None:
            self._authenticator.stop()
            self._authenticator = None


def start_authenticator(context: zmq.Context[Any], authorized: Path) -> ThreadAuthenticator:
    """A running ZAP handler on ``context`` admitting the CURVE clients whose public keys are in
    ``authorized`` (stop it at shutdown)."""
    authenticator = ThreadAuthenticator(context, log=log.getChild("zap"))
    authenticator.start()
    try:
        authenticator.configure_curve(domain="*", location=authorized)
    except BaseException:
        authenticator.stop()
        raise
    return authenticator


def load_secret_key(path: str, source: str, key: str) -> tuple[bytes, bytes]:
    """The (public, secret) pair in the key file ``path``; ``ConfigError`` naming ``source`` and
    ``key`` when it is missing, unreadable or only a public key."""
    if not os.path.isfile(path):
        raise ConfigError(source, key, f"{path!r} is not a file (create one with `ibpub keys`)")
    try:
        public, secret = zmq.auth.load_certificate(path)
    except (OSError, ValueError) as exc:
        raise ConfigError(source, key, f"{path!r} cannot be read as a key file: {exc}") from None
    if secret is None:
        raise ConfigError(
            source, key, f"{path!r} holds no secret key (give the .key_secret file, not .key)"
        )
    return public, secret


def authorized_directory(path: str, source: str, key: str) -> Path:
    """``path`` as the directory of authorised public keys (warns when it holds none)."""
    directory = Path(path)
    if not directory.is_dir():
        raise ConfigError(source, key, f"{path!r} is not a directory of public keys")
    if _count_keys(directory) == 0:
        log.warning(
            "no authorised client keys: every subscriber will be refused",
            extra={"authorized_keys": str(directory)},
        )
    return directory


def _count_keys(directory: Path) -> int:
    files: Iterable[Path] = directory.glob("*.key")
    return sum(1 for _ in files)

"""ZeroMQ endpoints and ``host:port`` addresses: one grammar, one loopback rule, for all of ibpub.

Pure: strings in, values (or an :class:`EndpointError` carrying the text and the problem) out;
nothing is resolved or bound. Before this module the configuration, the proxy, CURVE, the HTTP
server and ``ibsub latency`` each split addresses their own way and disagreed (``tcp://lo:7700``
was local to CURVE's warning and beyond the host to the proxy's; ``:9710`` was a listen address
to the proxy and an error to the configuration).

Endpoints (``bus.pub``, ``bus.snapshot``, ``ibpub proxy --upstream/--bind``):

* ``tcp://HOST:PORT``: HOST is a name, an IPv4 address, an IPv6 address in brackets
  (``tcp://[::1]:7700``), an interface name (``lo``, ``eth0``) or, for a bind, ``*``. ZeroMQ's
  ``tcp://SOURCE;HOST:PORT`` connect form is accepted; the host is the part after ``;``. A bind
  may give port ``*`` or ``0`` (a free port); a connect needs 1..65535.
* ``ipc://PATH``.

``host:port`` listen addresses (``metrics.listen``, ``ibpub proxy --metrics-listen``,
``ibsub latency --metrics-listen``): a host (IPv6 in brackets, ``[::1]:9700``) and a port
0..65535, 0 picking a free one. ``subscribers/endpoints.py`` has a copy of this one rule (the
subscriber library may not import ``publisher``); a test checks that the two agree.

Local or not (:func:`reaches_beyond_host`): ``ipc`` and ``inproc`` never leave the host; ``tcp``
stays on it only on a loopback host (127.0.0.0/8, ``::1``, ``localhost``, ``ip6-localhost``, the
``lo`` interface). Anything else, including an endpoint that does not parse, may be reachable from
other machines: the answer errs towards warning.
"""

import ipaddress
import re
from dataclasses import dataclass
from typing import Final

from publisher.errors import EndpointError

TCP: Final = "tcp"
IPC: Final = "ipc"
INPROC: Final = "inproc"
TRANSPORTS: Final = (TCP, IPC)
"""The transports ibpub binds and connects its buses on."""
ANY_PORT: Final = "*"
LOOPBACK_NAMES: Final = frozenset({"localhost", "ip6-localhost", "lo"})
"""Host and interface names that are loopback on any Linux host (Debian's /etc/hosts, ``lo``)."""
MAX_PORT: Final = 65535

_PORT: Final = re.compile(r"[0-9]{1,5}")
_TCP_EXAMPLE: Final = "tcp://127.0.0.1:7700"
_LISTEN_EXAMPLE: Final = "127.0.0.1:9700"


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A parsed ``tcp://`` or ``ipc://`` endpoint."""

    text: str
    """The endpoint as given (what ZeroMQ is handed)."""
    transport: str
    """``tcp`` or ``ipc``."""
    host: str = ""
    """tcp: the host, address or interface, without IPv6 brackets (``*`` for every interface);
    ipc: empty."""
    port: int | None = None
    """tcp: the port, 0 or None (``*``) for a free one; ipc: None."""
    path: str = ""
    """ipc: the socket path; tcp: empty."""

    @property
    def picks_free_port(self) -> bool:
        """A tcp bind on port 0 or ``*``: each bind gets a fresh port, so two never collide."""
        return self.transport == TCP and not self.port


@dataclass(frozen=True, slots=True)
class HostPort:
    """A parsed ``host:port`` listen address."""

    host: str
    """The host without IPv6 brackets."""
    port: int
    """0..65535; 0 picks a free port."""

    @property
    def ipv6(self) -> bool:
        """Whether the host is an IPv6 address (a listening socket then needs AF_INET6)."""
        return ":" in self.host

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if self.ipv6 else f"{self.host}:{self.port}"


def _port_problem(port: str, *, bind: bool) -> str | None:
    if bind and port == ANY_PORT:
        return None
    low = 0 if bind else 1
    if _PORT.fullmatch(port) and low <= int(port) <= MAX_PORT:
        return None
    return f"port {port!r} is not a number {low}..{MAX_PORT}" + (" or *" if bind else "")


def _unbracket(host: str) -> str | None:
    """The host without IPv6 brackets; None when it is malformed (empty, or an IPv6 address
    without brackets, where ``::1:9700`` would be ambiguous)."""
    if host.startswith("[") and host.endswith("]"):
        inner = host[1:-1]
        return inner if inner else None
    if not host or ":" in host or "[" in host or "]" in host:
        return None
    return host


def parse_endpoint(text: str, *, bind: bool) -> Endpoint:
    """``text`` as an :class:`Endpoint` to bind (``bind=True``) or connect to.

    Raises :class:`EndpointError` saying what is wrong.
    """
    transport, sep, rest = text.partition("://")
    if not sep or transport not in TRANSPORTS:
        raise EndpointError(text, f"{text!r} must start with tcp:// or ipc://")
    if transport == IPC:
        if not rest:
            raise EndpointError(text, f"{text!r} needs a path after ipc://")
        return Endpoint(text, IPC, path=rest)
    address = rest.rpartition(";")[2]  # "source;host:port": the host is the destination
    host, sep, port = address.rpartition(":")
    bare = _unbracket(host) if sep else None
    if bare is None:
        raise EndpointError(text, f"{text!r} needs host:port after tcp:// (e.g. {_TCP_EXAMPLE})")
    problem = _port_problem(port, bind=bind)
    if problem is not None:
        raise EndpointError(text, f"{text!r}: {problem}")
    return Endpoint(text, TCP, host=bare, port=None if port == ANY_PORT else int(port))


def endpoint_problem(text: str, *, bind: bool) -> str | None:
    """Why ``text`` cannot be bound (``bind=True``) or connected to; None when it can."""
    try:
        parse_endpoint(text, bind=bind)
    except EndpointError as exc:
        return exc.problem
    return None


def parse_host_port(text: str) -> HostPort:
    """``"host:port"`` (IPv6 as ``[::1]:9700``) as a :class:`HostPort`.

    Raises :class:`EndpointError` saying what is wrong.
    """
    host, sep, port = text.rpartition(":")
    bare = _unbracket(host) if sep else None
    if bare is None:
        raise EndpointError(text, f"expected host:port (e.g. {_LISTEN_EXAMPLE}), got {text!r}")
    if not _PORT.fullmatch(port) or int(port) > MAX_PORT:
        raise EndpointError(text, f"{text!r}: port {port!r} is not a number 0..{MAX_PORT}")
    return HostPort(bare, int(port))


def host_port_problem(text: str) -> str | None:
    """Why ``text`` is not a ``host:port`` listen address; None when it is one."""
    try:
        parse_host_port(text)
    except EndpointError as exc:
        return exc.problem
    return None


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` (no brackets) names this host's loopback: 127.0.0.0/8, ``::1``,
    ``localhost``, ``ip6-localhost`` or the ``lo`` interface."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name: only the ones above are loopback wherever they are resolved


def reaches_beyond_host(endpoint: str) -> bool:
    """Whether other machines may reach ``endpoint``: tcp on a host that is not loopback, or
    anything this module cannot read (``ipc`` and ``inproc`` never leave the host)."""
    transport = endpoint.partition("://")[0]
    if transport in (IPC, INPROC) and "://" in endpoint:
        return False
    try:
        parsed = parse_endpoint(endpoint, bind=True)
    except EndpointError:
        return True
    return not is_loopback_host(parsed.host)


def is_local_endpoint(endpoint: str) -> bool:
    """Whether only this host can reach ``endpoint``: the negation of
    :func:`reaches_beyond_host`, named for the callers that ask it that way round."""
    return not reaches_beyond_host(endpoint)

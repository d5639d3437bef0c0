"""``ibpub proxy``'s settings: the flags and their validation (endpoints: publisher.endpoints)."""

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from publisher.config import COMMAND_LINE
from publisher.endpoints import endpoint_problem, host_port_problem
from publisher.errors import ConfigError

DEFAULT_METRICS_LISTEN: Final = "127.0.0.1:9710"
"""Beside a publisher's 9700, so both can run on one host with their defaults."""
DEFAULT_HWM: Final = 100_000
"""Messages queued per upstream (XSUB receive) and per subscriber (XPUB send), as ``send_hwm``."""

DESCRIPTION: Final = """\
Forward the bus of one or more publishers to subscribers on other hosts. The proxy connects an
XSUB socket to every --upstream publisher and binds an XPUB socket on every --bind endpoint;
subscribers connect to the proxy exactly as they would to a publisher. Subscriptions travel
upstream, so each publisher only sends what some subscriber asked for. Messages pass through
unchanged (topics, sid, seq). The snapshot and control endpoints are not proxied: late joiners
and on-demand requests go to each publisher directly.

CURVE (keys from `ibpub keys`), on either side or both: --curve-secret-key and
--curve-authorized-keys make the proxy a CURVE server toward its subscribers (only the
authorised client keys get in); --upstream-curve-server-key and --upstream-curve-client-key make
it a CURVE client of publishers that run with bus.curve_secret_key."""

EPILOG: Final = """\
examples:
  ibpub proxy --upstream tcp://10.0.0.11:7700 tcp://10.0.0.12:7700 --bind tcp://0.0.0.0:7700
  ibpub proxy --upstream tcp://md-a:7700 --upstream tcp://md-b:7700 --bind tcp://*:7700 \\
      --metrics-listen 0.0.0.0:9710
  ibpub proxy --upstream tcp://10.0.0.11:7700 --bind tcp://0.0.0.0:7700 \\
      --curve-secret-key keys/proxy/server.key_secret \\
      --curve-authorized-keys keys/proxy/authorized \\
      --upstream-curve-server-key keys/publisher/server.key \\
      --upstream-curve-client-key keys/publisher/clients/proxy.key_secret

metrics and health (HTTP on --metrics-listen): /metrics (ibpub_proxy_* counters and gauges),
/healthz, and /readyz (200 while at least one upstream is connected).

exit codes: 0 clean stop (also after Ctrl-C or SIGTERM), 2 usage error, 1 anything else fatal
(for example an endpoint that cannot be bound).
"""


def _check_endpoints(flag: str, endpoints: Sequence[str], *, bind: bool) -> None:
    if not endpoints:
        raise ConfigError(COMMAND_LINE, flag, "at least one endpoint is required")
    seen: set[str] = set()
    for endpoint in endpoints:
        problem = endpoint_problem(endpoint, bind=bind)
        if problem:
            raise ConfigError(COMMAND_LINE, flag, problem)
        if endpoint in seen:
            # Connecting twice to one publisher would deliver each of its messages twice.
            raise ConfigError(COMMAND_LINE, flag, f"{endpoint!r} is given twice")
        seen.add(endpoint)


def _check_pair(first: tuple[str, str | None], second: tuple[str, str | None]) -> None:
    """Both flags of a CURVE pair or neither: one alone would leave that side half secured."""
    (first_flag, first_value), (second_flag, second_value) = first, second
    for flag, value in (first, second):
        if value is not None and not value.strip():
            raise ConfigError(COMMAND_LINE, flag, "is empty (give a path, or leave it out)")
    if (first_value is None) != (second_value is None):
        given, missing = (
            (first_flag, second_flag) if second_value is None else (second_flag, first_flag)
        )
        raise ConfigError(COMMAND_LINE, missing, f"is required with {given} (both or neither)")


@dataclass(frozen=True, slots=True)
class ProxySettings:
    """What ``ibpub proxy`` was asked to do, validated on construction (``ConfigError``)."""

    upstreams: tuple[str, ...]
    """Publisher PUB endpoints to connect the XSUB socket to."""
    binds: tuple[str, ...]
    """Endpoints to bind the XPUB socket on, for subscribers to connect to."""
    metrics_listen: str = DEFAULT_METRICS_LISTEN
    """``host:port`` for /metrics, /healthz, /readyz; port 0 picks a free one."""
    hwm: int = DEFAULT_HWM
    """High-water mark, in messages, on both sides (0: no limit)."""
    curve_secret_key: str | None = None
    """The proxy's own server key pair (``server.key_secret``): CURVE toward subscribers."""
    curve_authorized_keys: str | None = None
    """Directory of the subscribers' public keys (``authorized/``) the proxy admits."""
    upstream_curve_server_key: str | None = None
    """The publishers' server public key (their ``server.key``): CURVE toward the publishers."""
    upstream_curve_client_key: str | None = None
    """The proxy's client key pair toward the publishers (``clients/<name>.key_secret``)."""

    @property
    def curve(self) -> bool:
        """Whether subscribers must connect with CURVE (and an authorised key)."""
        return self.curve_secret_key is not None

    @property
    def upstream_curve(self) -> bool:
        """Whether the proxy connects to the publishers as a CURVE client."""
        return self.upstream_curve_server_key is not None

    def __post_init__(self) -> None:
        object.__setattr__(self, "upstreams", tuple(self.upstreams))
        object.__setattr__(self, "binds", tuple(self.binds))
        _check_endpoints("--upstream", self.upstreams, bind=False)
        _check_endpoints("--bind", self.binds, bind=True)
        problem = host_port_problem(self.metrics_listen)
        if problem:
            raise ConfigError(COMMAND_LINE, "--metrics-listen", problem)
        if self.hwm < 0:
            raise ConfigError(COMMAND_LINE, "--hwm", f"must be 0 or more, got {self.hwm}")
        _check_pair(
            ("--curve-secret-key", self.curve_secret_key),
            ("--curve-authorized-keys", self.curve_authorized_keys),
        )
        _check_pair(
            ("--upstream-curve-server-key", self.upstream_curve_server_key),
            ("--upstream-curve-client-key", self.upstream_curve_client_key),
        )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``ibpub proxy`` flags (``--upstream`` and ``--bind`` take one or more endpoints)."""
    parser.add_argument(
        "--upstream",
        metavar="ENDPOINT",
        nargs="+",
        action="extend",
        required=True,
        help="a publisher's bus endpoint (its bus.pub) to forward; repeat or list several",
    )
    parser.add_argument(
        "--bind",
        metavar="ENDPOINT",
        nargs="+",
        action="extend",
        required=True,
        help="where subscribers connect, e.g. tcp://0.0.0.0:7700; repeat or list several",
    )
    parser.add_argument(
        "--metrics-listen",
        metavar="HOST:PORT",
        default=DEFAULT_METRICS_LISTEN,
        help="HTTP for /metrics, /healthz and /readyz (default: %(default)s)",
    )
    parser.add_argument(
        "--hwm",
        metavar="COUNT",
        type=int,
        default=DEFAULT_HWM,
        help="messages queued per upstream and per subscriber before dropping "
        "(default: %(default)s; 0: no limit)",
    )
    curve = parser.add_argument_group(
        "CURVE (key files from `ibpub keys`; each pair both or neither)"
    )
    curve.add_argument(
        "--curve-secret-key",
        metavar="FILE",
        help="the proxy's server key pair (server.key_secret): subscribers must use CURVE "
        "with its public key",
    )
    curve.add_argument(
        "--curve-authorized-keys",
        metavar="DIR",
        help="directory of the public keys of the subscribers admitted (authorized/)",
    )
    curve.add_argument(
        "--upstream-curve-server-key",
        metavar="FILE",
        help="the publishers' server public key (their server.key), for CURVE publishers",
    )
    curve.add_argument(
        "--upstream-curve-client-key",
        metavar="FILE",
        help="the proxy's client key pair toward the publishers (clients/NAME.key_secret; "
        "its public key must be in their bus.curve_authorized_keys)",
    )
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="log verbosity on stderr (default: %(default)s)",
    )


def settings_from_args(args: argparse.Namespace) -> ProxySettings:
    """The parsed flags as settings (raises ``ConfigError`` naming the flag)."""
    return ProxySettings(
        upstreams=tuple(args.upstream),
        binds=tuple(args.bind),
        metrics_listen=args.metrics_listen,
        hwm=args.hwm,
        curve_secret_key=args.curve_secret_key,
        curve_authorized_keys=args.curve_authorized_keys,
        upstream_curve_server_key=args.upstream_curve_server_key,
        upstream_curve_client_key=args.upstream_curve_client_key,
    )

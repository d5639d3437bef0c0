"""What every ``ibsub`` command needs to reach a publisher: endpoints and CURVE keys.

Only the command line and the environment are read here (``--curve-server-key`` beats
``IBSUB_CURVE_SERVER_KEY``, and likewise for the client key); the result is a value the
commands pass to :class:`~subscribers.client.Subscriber` and :func:`~subscribers.snapshot.fetch`.
"""

import argparse
import os
from collections.abc import Mapping
from dataclasses import dataclass

from subscribers.client import DEFAULT_ENDPOINT, DEFAULT_SNAPSHOT_ENDPOINT
from subscribers.control import DEFAULT_CONTROL_ENDPOINT
from subscribers.curve import ENV_CLIENT_KEY, ENV_SERVER_KEY, CurveKeyError, CurveKeys


@dataclass(frozen=True, slots=True)
class Connection:
    """Where the publisher is and how to authenticate to it."""

    endpoint: str = DEFAULT_ENDPOINT
    snapshot_endpoint: str = DEFAULT_SNAPSHOT_ENDPOINT
    curve: CurveKeys | None = None
    control_endpoint: str = DEFAULT_CONTROL_ENDPOINT
    """The publisher's control socket (on-demand instruments), for the commands that ask."""


def add_connection_arguments(parser: argparse.ArgumentParser) -> None:
    """The bus options every ``ibsub`` command takes."""
    bus = parser.add_argument_group("bus")
    bus.add_argument(
        "--endpoint",
        default=DEFAULT_ENDPOINT,
        metavar="ENDPOINT",
        help=f"the publisher's PUB endpoint to connect to (default {DEFAULT_ENDPOINT})",
    )
    bus.add_argument(
        "--snapshot-endpoint",
        default=DEFAULT_SNAPSHOT_ENDPOINT,
        metavar="ENDPOINT",
        help=f"the publisher's last-value snapshot endpoint (default {DEFAULT_SNAPSHOT_ENDPOINT})",
    )
    bus.add_argument(
        "--curve-server-key",
        metavar="FILE",
        help=f"CURVE: the publisher's public key file, server.key (env {ENV_SERVER_KEY})",
    )
    bus.add_argument(
        "--curve-client-key",
        metavar="FILE",
        help="CURVE: this subscriber's secret key file, clients/NAME.key_secret "
        f"(env {ENV_CLIENT_KEY})",
    )


def add_control_argument(parser: argparse.ArgumentParser) -> None:
    """``--control-endpoint``, for the commands that ask the publisher for instruments (the
    CURVE options above apply to it too: the control socket uses the bus's keys)."""
    parser.add_argument(
        "--control-endpoint",
        default=DEFAULT_CONTROL_ENDPOINT,
        metavar="ENDPOINT",
        help=f"the publisher's control endpoint (default {DEFAULT_CONTROL_ENDPOINT})",
    )


def connection_from_args(
    args: argparse.Namespace, env: Mapping[str, str] = os.environ
) -> Connection:
    """The :class:`Connection` the options (then the environment) name.

    Raises :class:`~subscribers.curve.CurveKeyError` when only one key is given or a key file
    cannot be used.
    """
    server_key = getattr(args, "curve_server_key", None) or env.get(ENV_SERVER_KEY) or None
    client_key = getattr(args, "curve_client_key", None) or env.get(ENV_CLIENT_KEY) or None
    curve = None
    if server_key or client_key:
        if not server_key:
            raise CurveKeyError("--curve-server-key", "is needed with a client key")
        if not client_key:
            raise CurveKeyError("--curve-client-key", "is needed with a server key")
        curve = CurveKeys.from_files(server_key, client_key)
    control = getattr(args, "control_endpoint", None) or DEFAULT_CONTROL_ENDPOINT
    return Connection(args.endpoint, args.snapshot_endpoint, curve, control)

"""``ibpub tap``: the flags and what running the recording proxy means.

:mod:`publisher.cli` owns argv and calls :func:`add_arguments` and :func:`run`. Exit codes: 0 after
SIGINT/SIGTERM (the file flushed and closed), 2 for a bad flag or an output file that cannot be
created, 1 when the listen address cannot be bound.
"""

import argparse
import asyncio
import signal
import sys
from typing import Final

from publisher.endpoints import parse_host_port
from publisher.errors import EndpointError
from publisher.tap.proxy import TapProxy

EXIT_OK: Final = 0
EXIT_FATAL: Final = 1
EXIT_USAGE: Final = 2

DESCRIPTION: Final = """\
A recording TCP proxy between any TWS API client and a gateway (IB Gateway, TWS or
`ibpub sim`): point the client at --listen, and every byte both ways is forwarded and
written to --out with a timestamp, one numbered session per client connection. Replay it
anywhere with `ibpub sim --replay FILE`. See docs/record-replay.md.
"""
EPILOG: Final = """\
example:
  ibpub tap --listen 127.0.0.1:4012 --gateway 127.0.0.1:4002 --out session.tap
  (then connect the client to port 4012; Ctrl-C stops and flushes the file)
"""


def _address(text: str) -> tuple[str, int]:
    try:
        parsed = parse_host_port(text)
    except EndpointError as exc:
        raise argparse.ArgumentTypeError(exc.problem) from None
    return parsed.host, parsed.port


def _gateway(text: str) -> tuple[str, int]:
    host, port = _address(text)
    if port == 0:
        raise argparse.ArgumentTypeError(f"{text!r}: the gateway needs a port 1..65535, not 0")
    return host, port


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:  # also rejects NaN
        raise argparse.ArgumentTypeError(f"must be > 0, not {text}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``ibpub tap`` flags to ``parser``."""
    parser.add_argument(
        "--listen",
        type=_address,
        required=True,
        metavar="HOST:PORT",
        help="where clients connect (port 0 picks a free one, printed on stderr)",
    )
    parser.add_argument(
        "--gateway",
        type=_gateway,
        required=True,
        metavar="HOST:PORT",
        help="the gateway to forward to (IB Gateway, TWS or ibpub sim)",
    )
    parser.add_argument(
        "--out", required=True, metavar="FILE", help="the tap file to write (replaced if present)"
    )
    parser.add_argument(
        "--progress-every",
        type=_seconds,
        default=5.0,
        metavar="SECONDS",
        help="print bytes and frames each way this often (%(default)s)",
    )


def run(args: argparse.Namespace) -> int:
    """Record until SIGINT or SIGTERM."""
    try:
        out = open(args.out, "wb")  # noqa: SIM115  # closed below, after the loop
    except OSError as exc:
        print(f"ibpub tap: cannot write {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    with out:
        proxy = TapProxy(args.listen, args.gateway, out, progress_every=args.progress_every)
        try:
            asyncio.run(_serve(proxy))
        except OSError as exc:
            host, port = args.listen
            print(f"ibpub tap: cannot listen on {host}:{port}: {exc}", file=sys.stderr)
            return EXIT_FATAL
    return EXIT_OK


async def _serve(proxy: TapProxy) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, proxy.stop)
    try:
        await proxy.serve()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)

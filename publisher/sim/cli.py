"""``ibpub sim``: run the simulated IB Gateway until SIGINT or SIGTERM.

The ``ibpub`` command owns argv and wires this in with :func:`add_arguments` and :func:`run`;
this module only defines the flags and what running means.
"""

import argparse
import asyncio
import logging
import signal
import sys
from typing import Final

from publisher.sim.catalogue import Catalogue, CatalogueError, load_catalogue
from publisher.sim.faults import IB_PACING_LIMIT
from publisher.sim.kinds.flags import add_data_arguments, data_limits
from publisher.sim.protocol import MAX_SERVER_VERSION, MIN_SERVER_VERSION, V_PROTOBUF_MARKET_DATA
from publisher.sim.replay import DEFAULT_SPEED, ReplayError, ReplayGateway, load_script
from publisher.sim.scenario import SCENARIO_HELP, ScenarioError, Step, parse_scenario, schedule
from publisher.sim.server import IB_DEFAULT_LINES, AsyncGateway

DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 4010
DEFAULT_RATE: Final = 50.0
DEFAULT_SEED: Final = 1
LOG_LEVELS: Final = ("debug", "info", "warning", "error")

EXIT_OK: Final = 0
EXIT_FATAL: Final = 1
EXIT_USAGE: Final = 2


def _server_version(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if not MIN_SERVER_VERSION <= value <= MAX_SERVER_VERSION:
        raise argparse.ArgumentTypeError(
            f"{value} is outside the supported {MIN_SERVER_VERSION}..{MAX_SERVER_VERSION}"
        )
    return value


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= 0:  # also rejects NaN
        raise argparse.ArgumentTypeError(f"must be >= 0, not {text}")
    return value


def _max_lines(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0 (0 for no limit), not {value}")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a TCP port (0 picks a free one)")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``ibpub sim`` flags to ``parser``."""
    parser.add_argument("--host", default=DEFAULT_HOST, help="address to listen on (%(default)s)")
    parser.add_argument(
        "--port", type=_port, default=DEFAULT_PORT, help="TCP port, 0 for any free (%(default)s)"
    )
    parser.add_argument(
        "--rate",
        type=_rate,
        default=DEFAULT_RATE,
        metavar="TICKS_PER_S",
        help="streamed ticks per second over all subscriptions, 0 for none (%(default)s)",
    )
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help="random-walk seed (%(default)s)"
    )
    parser.add_argument(
        "--max-server-version",
        type=_server_version,
        default=MAX_SERVER_VERSION,
        metavar="V",
        help=(
            f"highest TWS server version to negotiate, {MIN_SERVER_VERSION}..{MAX_SERVER_VERSION}"
            f" ({MAX_SERVER_VERSION}, the installed ibapi's; 200 for the classic text encoding)"
        ),
    )
    parser.add_argument(
        "--catalogue",
        metavar="FILE",
        default=None,
        help="TOML or JSON file of extra contracts (added to the built-in ones)",
    )
    parser.add_argument(
        "--list-contracts",
        action="store_true",
        help="print the catalogue (built-in plus --catalogue) one contract a line, then exit",
    )
    parser.add_argument(
        "--max-lines",
        type=_max_lines,
        default=0,
        metavar="N",
        help="market-data lines across all clients, as IB counts an account's: a reqMktData "
        "beyond N live streams gets IB's error 101 (Max number of tickers has been reached) "
        f"and no data; cancelMktData frees a line. {IB_DEFAULT_LINES} is an IB account's "
        "default; the publisher's gateway.max_lines budget refuses before it. Default 0: no "
        "limit, so harnesses streaming hundreds of instruments work as before",
    )
    add_data_arguments(parser)
    parser.add_argument(
        "--log-level", choices=LOG_LEVELS, default="info", help="log verbosity (%(default)s)"
    )
    parser.add_argument(
        "--pacing-limit",
        type=int,
        default=IB_PACING_LIMIT,
        metavar="N",
        help="requests per second per client before error 100 and a disconnect, as IB Gateway "
        "enforces; 0 turns it off (%(default)s)",
    )
    parser.add_argument(
        "--scenario",
        type=_scenario,
        action="append",
        default=[],
        metavar="STEPS",
        help="scripted faults: " + SCENARIO_HELP,
    )

    parser.add_argument(
        "--replay",
        metavar="FILE",
        default=None,
        help="serve a recorded session instead of the random market: a tap file (ibpub tap) or "
        "a capture directory; requests the recording cannot answer get the simulator's reply "
        "(docs/record-replay.md)",
    )
    parser.add_argument(
        "--speed",
        type=_rate,
        default=DEFAULT_SPEED,
        metavar="X",
        help="with --replay: recorded time runs X times faster, 0 for as fast as possible "
        "(%(default)s)",
    )
    parser.add_argument(
        "--replay-session",
        type=int,
        default=None,
        metavar="N",
        help="with --replay of a tap file: which recorded session to serve (default: the first)",
    )


def _scenario(text: str) -> list[Step]:
    try:
        return parse_scenario(text)
    except ScenarioError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT or SIGTERM; 0 on a clean stop, 2 for a bad catalogue, 1 otherwise."""
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        catalogue = (
            load_catalogue(args.catalogue) if args.catalogue is not None else Catalogue.builtin()
        )
    except CatalogueError as exc:
        print(f"ibpub sim: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.list_contracts:
        sys.stdout.write(format_catalogue(catalogue))
        return EXIT_OK
    if args.replay is not None:
        return _run_replay(args, catalogue)
    gateway = AsyncGateway(
        rate=args.rate,
        seed=args.seed,
        max_server_version=args.max_server_version,
        catalogue=catalogue,
        max_lines=args.max_lines or None,
        data_limits=data_limits(args),
    )
    gateway.faults.pacing_limit = args.pacing_limit or None
    steps = [step for steps in args.scenario for step in steps]
    try:
        asyncio.run(_serve(gateway, args.host, args.port, steps))
    except OSError as exc:
        print(f"ibpub sim: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return EXIT_FATAL
    return EXIT_OK


def _run_replay(args: argparse.Namespace, catalogue: Catalogue) -> int:
    try:
        script = load_script(args.replay, args.replay_session)
    except ReplayError as exc:
        print(f"ibpub sim: cannot replay {exc}", file=sys.stderr)
        return EXIT_USAGE
    gateway = ReplayGateway(script, speed=args.speed, catalogue=catalogue)
    gateway.faults.pacing_limit = args.pacing_limit or None
    steps = [step for steps in args.scenario for step in steps]
    try:
        asyncio.run(_serve(gateway, args.host, args.port, steps))
    except OSError as exc:
        print(f"ibpub sim: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return EXIT_FATAL
    return EXIT_OK


async def _serve(gateway: AsyncGateway, host: str, port: int, steps: list[Step]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await gateway.start(host, port)
        print(_banner(gateway), flush=True)
        schedule(gateway.faults, steps)
        await stop.wait()
    finally:
        await gateway.aclose()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


def _banner(gateway: AsyncGateway) -> str:
    if isinstance(gateway, ReplayGateway):
        script = gateway.script
        return (
            f"ibpub sim: listening on {gateway.host}:{gateway.port}, replaying "
            f"{script.recording.source} (server version {script.server_version}, "
            f"{len(script.recording.frames)} frames, {len(script.requests)} recorded requests) "
            f"at speed {gateway.speed:g}; {len(gateway.catalogue)} contracts answer the rest"
            + (
                f"; {script.recording.cut_bytes} bytes of a frame cut off at the end left out"
                if script.recording.cut_bytes
                else ""
            )
        )
    top = gateway.max_server_version
    if top >= V_PROTOBUF_MARKET_DATA:
        encoding = f"protobuf ticks from v{V_PROTOBUF_MARKET_DATA}"
    else:
        encoding = "text ticks"
    return (
        f"ibpub sim: listening on {gateway.host}:{gateway.port}, "
        f"negotiating server versions {MIN_SERVER_VERSION}..{top} ({encoding}); "
        f"{len(gateway.catalogue)} contracts, {gateway.rate:g} ticks/s, seed {gateway.seed}, "
        f"{_lines(gateway.max_lines)}"
    )


def _lines(max_lines: int | None) -> str:
    return "no line limit" if max_lines is None else f"{max_lines} market-data lines"


_COLUMNS: Final = ("CONID", "TYPE", "SYMBOL", "LOCAL", "EXPIRY", "EXCHANGE", "PRIMARY", "CCY")


def format_catalogue(catalogue: Catalogue) -> str:
    """The catalogue as a table, one contract a line, synthetic conIds starred (a footnote says
    so): what a demo user can ask for, with the fields that tell the contracts apart."""
    rows = [_COLUMNS]
    for instrument in catalogue:
        spec = instrument.spec
        con_id = f"{spec.con_id}{'*' if instrument.synthetic else ''}"
        rows.append(
            (
                con_id,
                spec.sec_type,
                spec.symbol,
                spec.local_symbol,
                spec.last_trade_date,
                spec.exchange,
                spec.primary_exchange,
                spec.currency,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS))]
    lines = [
        "  ".join(value.ljust(width) for value, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    lines.append(
        f"{len(catalogue)} contracts; * synthetic conId (made up, not IB's: "
        "use it only against this simulator)"
    )
    return "\n".join(lines) + "\n"

"""The ``ibsub`` command: sample subscribers for the ibpub bus (``tail`` here; ``quotes``,
``record``, ``snapshot``, ``latency``, ``request`` and ``lines`` in their own modules).

This is the only module of ``subscribers`` that reads argv. ``main`` returns the exit status:
0 clean stop (also after SIGINT/SIGTERM, or when the reader of stdout goes away), 1 anything
else fatal (no message within ``--timeout``, a bad endpoint), 2 usage error.
"""

import argparse
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC
from importlib import metadata
from typing import Final, NoReturn, TextIO

import zmq

from subscribers import book_cli, control_cli, latency, quotes, record, replay_cli, snapshot_cli
from subscribers.client import DEFAULT_ENDPOINT, DEFAULT_SNAPSHOT_ENDPOINT, Subscriber
from subscribers.connect import add_connection_arguments, connection_from_args
from subscribers.curve import CurveKeyError, CurveKeys
from subscribers.events import Event, PublisherAlive, describe
from subscribers.schema import BAR_PREFIX, DEPTH_PREFIX, GREEKS_PREFIX, TBT_PREFIX
from subscribers.wire import HEARTBEAT_PREFIX, STATUS_PREFIX, TICK_PREFIX, format_line, to_jsonable

EXIT_OK: Final = 0
EXIT_ERROR: Final = 1
EXIT_USAGE: Final = 2

_COMMANDS: Final[dict[str, Callable[[argparse.Namespace, TextIO, TextIO], int]]] = {
    "quotes": quotes.main_quotes,
    "book": book_cli.main_book,
    "record": record.main_record,
    "snapshot": snapshot_cli.main_snapshot,
    "request": control_cli.main_request,
    "lines": control_cli.main_lines,
    "replay": replay_cli.main_replay,
}
"""Commands whose module parses its own options and returns the exit status."""

DATA_TYPES: Final = ("tick", "tbt", "depth", "bar", "greeks")
"""The message types of instrument data (contract 1.1 "Data kinds"), by topic prefix."""
MESSAGE_TYPES: Final = (*DATA_TYPES, "status", "hb")
_TYPE_PREFIXES: Final = {
    "tick": TICK_PREFIX,
    "tbt": TBT_PREFIX,
    "depth": DEPTH_PREFIX,
    "bar": BAR_PREFIX,
    "greeks": GREEKS_PREFIX,
    "status": STATUS_PREFIX,
    "hb": HEARTBEAT_PREFIX,
}

EXIT_CODES_HELP: Final = """\
exit status:
  0  clean stop: --count reached, Ctrl-C or SIGTERM, or the reader of stdout went away
  1  error: nothing arrived within --timeout, a bad endpoint
  2  usage error"""

MAIN_DESCRIPTION: Final = """\
Sample subscribers for the ibpub bus: Interactive Brokers market data published on ZeroMQ as
msgpack messages on the topics tick.<key> (and, per data kind, tbt.<key>, depth.<key>,
bar.<key>, greeks.<key>), status.<publisher> and hb.<publisher>."""

MAIN_EPILOG: Final = f"""\
Run 'ibsub COMMAND --help' for a command's options and examples.

{EXIT_CODES_HELP}"""

TAIL_DESCRIPTION: Final = """\
Print bus messages as they arrive, one per line.

Each PREFIX is a ZeroMQ subscription, which matches topics by byte prefix: 'tick.AAPL' receives
tick.AAPL (and tick.AAPLX too), 'tick.' every instrument, 'status.' every status change. With no
PREFIX every topic is printed. With --exact the arguments are instrument keys instead, matched
exactly, on every data topic (or only those of the --type given): '--exact ES' prints tick.ES,
tbt.ES, depth.ES, bar.ES and greeks.ES but not tick.ESZ6 or depth.ESZ6."""

TAIL_EPILOG: Final = f"""\
examples:
  ibsub tail                                 everything on the default bus
  ibsub tail tick.AAPL tick.MSFT             two instruments (prefix match)
  ibsub tail --exact ES NQ                   every data topic of ES and NQ, not of ESZ6
  ibsub tail --exact ES --type depth         depth.ES only: each change to its book
  ibsub tail depth. bar.                     every depth change and bar of every instrument
  ibsub tail --type status --type hb         status changes and heartbeats only
  ibsub tail --json --count 100 > ticks.jsonl
  ibsub tail --json tick. | jq -c 'select(.field == "bid")'
  ibsub tail --endpoint tcp://md-host:7700 --timeout 5

output:
  Line mode: the publish time (local clock unless --utc), the topic, #seq, then for a tick
  its field, value and market data type (mdt 1 live, 2 frozen, 3 delayed, 4 delayed-frozen);
  '-' is IB's "no price". tbt: kind, size @ price [exchange] (bid_ask: bid size x bid / ask x
  ask size; midpoint: mid). depth: operation side[position] price x size [market maker].
  bar: WHAT, start time, o h l c, v volume, n trade count. greeks: field, iv, delta, option
  price, und(erlying) price, mdt. For status: scope [key] state: message (code N). For hb:
  the publisher's gateway state and how many data topics it reports.
  --json: one JSON object per line, the message's payload keys plus "topic".
  The wire format is described in docs/wire-protocol.md.

{EXIT_CODES_HELP}"""


@dataclass(frozen=True, slots=True)
class TailOptions:
    """What ``ibsub tail`` was asked to do, parsed once from argv."""

    endpoint: str = DEFAULT_ENDPOINT
    snapshot_endpoint: str = DEFAULT_SNAPSHOT_ENDPOINT
    snapshot: bool = False
    """Start from the publisher's last-value snapshot (the Clone pattern)."""
    curve: CurveKeys | None = None
    prefixes: tuple[str, ...] = ("",)
    exact_keys: tuple[str, ...] = ()
    data: tuple[str, ...] = ("tick",)
    """The data topics the exact keys are subscribed on."""
    types: frozenset[str] = frozenset()
    """Message types to print; empty means all."""
    json: bool = False
    count: int | None = None
    timeout: float | None = None
    utc: bool = False


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, not {text}")
    return value


def _version() -> str:
    try:
        return metadata.version("ibpub")
    except metadata.PackageNotFoundError:
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    """The ``ibsub`` argument parser with its subcommands."""
    return _parsers()[0]


def _parsers() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The ``ibsub`` parser and its subcommands' parsers by name."""
    common = argparse.ArgumentParser(add_help=False)
    add_connection_arguments(common)  # --endpoint, --snapshot-endpoint, --curve-*-key

    parser = argparse.ArgumentParser(
        prog="ibsub",
        description=MAIN_DESCRIPTION,
        epilog=MAIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    tail = commands.add_parser(
        "tail",
        parents=[common],
        help="print bus messages as they arrive",
        description=TAIL_DESCRIPTION,
        epilog=TAIL_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    tail.add_argument(
        "topics",
        nargs="*",
        metavar="PREFIX",
        help="topic prefixes to subscribe to (default: every topic); instrument keys with --exact",
    )
    tail.add_argument(
        "--exact",
        action="store_true",
        help="treat the arguments as instrument keys, matched exactly (every data topic of each,"
        " or those of --type)",
    )
    tail.add_argument(
        "--type",
        dest="types",
        action="append",
        choices=MESSAGE_TYPES,
        default=[],
        help="print only messages of this type; repeat for several (default: all)",
    )
    tail.add_argument(
        "--json",
        action="store_true",
        help='print one JSON object per line: the payload\'s keys plus "topic"',
    )
    tail.add_argument(
        "--count",
        type=_positive_int,
        metavar="N",
        help="exit (status 0) after printing N messages",
    )
    tail.add_argument(
        "--timeout",
        type=_positive_seconds,
        metavar="SECONDS",
        help="exit with status 1 if SECONDS pass without a message to print (default: wait)",
    )
    tail.add_argument("--utc", action="store_true", help="print times in UTC, not local time")
    tail.add_argument(
        "--snapshot",
        action="store_true",
        help="start with the publisher's last value of every field (from --snapshot-endpoint), "
        "then the live messages newer than it",
    )
    return parser, {
        "tail": tail,
        "latency": latency.add_parser(commands, [common]),
        "quotes": quotes.add_parser(commands, [common]),
        "book": book_cli.add_parser(commands, [common]),
        "record": record.add_parser(commands, [common]),
        "snapshot": snapshot_cli.add_parser(commands, [common]),
        **control_cli.add_parsers(commands, [common]),
        "replay": replay_cli.add_parser(commands, [common]),
    }


def tail_options(args: argparse.Namespace, error: Callable[[str], NoReturn]) -> TailOptions:
    """Turn parsed ``tail`` arguments into :class:`TailOptions`; usage errors go to ``error``."""
    topics: list[str] = args.topics
    types = frozenset[str](args.types)
    if args.exact:
        if not topics:
            error("--exact needs at least one instrument KEY")
        if any(not key for key in topics):
            error("an instrument key cannot be empty")
        # Data comes through the exact keys; status and hb need their own prefix.
        prefixes = tuple(
            _TYPE_PREFIXES[t] for t in MESSAGE_TYPES if t in types and t not in DATA_TYPES
        )
        exact_keys = tuple(topics)
        data = tuple(t for t in DATA_TYPES if t in types) or DATA_TYPES
    else:
        exact_keys = ()
        data = ("tick",)
        if topics:
            prefixes = tuple(topics)
        elif types:
            prefixes = tuple(_TYPE_PREFIXES[t] for t in MESSAGE_TYPES if t in types)
        else:
            prefixes = ("",)
    try:
        connection = connection_from_args(args)
    except CurveKeyError as exc:
        error(str(exc))
    return TailOptions(
        endpoint=args.endpoint,
        snapshot_endpoint=args.snapshot_endpoint,
        snapshot=args.snapshot,
        curve=connection.curve,
        prefixes=prefixes,
        exact_keys=exact_keys,
        data=data,
        types=types,
        json=args.json,
        count=args.count,
        timeout=args.timeout,
        utc=args.utc,
    )


def run_tail(options: TailOptions, out: TextIO, err: TextIO) -> int:
    """Print messages to ``out`` until the count, the timeout or a signal; returns the status."""

    def report(event: Event) -> None:  # losses, restarts and silence go to stderr
        if not (isinstance(event, PublisherAlive) and not event.returned):
            print(f"ibsub: {describe(event)}", file=err, flush=True)

    try:
        subscriber = Subscriber(
            options.endpoint,
            prefixes=options.prefixes,
            exact_keys=options.exact_keys,
            data=options.data,
            books=False,  # changes are printed as they come; no book, so no resync to wait for
            snapshot=options.snapshot,
            snapshot_endpoint=options.snapshot_endpoint,
            curve=options.curve,
            on_event=report,
        )
    except zmq.ZMQError as exc:
        print(f"ibsub: error: cannot connect to {options.endpoint!r}: {exc.strerror}", file=err)
        return EXIT_ERROR
    with subscriber:
        return _tail_loop(subscriber, options, out, err)


def _tail_loop(subscriber: Subscriber, options: TailOptions, out: TextIO, err: TextIO) -> int:
    tz = UTC if options.utc else None
    printed = 0
    reported_error = None
    deadline = None if options.timeout is None else time.monotonic() + options.timeout
    while options.count is None or printed < options.count:
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        msg = subscriber.recv(remaining)
        if subscriber.last_error is not reported_error:
            reported_error = subscriber.last_error
            print(f"ibsub: skipped a malformed message: {reported_error}", file=err, flush=True)
        if msg is None:
            if deadline is not None and time.monotonic() >= deadline:
                print(
                    f"ibsub: error: no message within {options.timeout:g} s "
                    f"from {options.endpoint}",
                    file=err,
                )
                return EXIT_ERROR
            continue
        if options.types and msg.type not in options.types:
            continue
        if options.json:
            line = json.dumps(to_jsonable(msg), ensure_ascii=False, separators=(",", ":"))
        else:
            line = format_line(msg.topic, msg, tz=tz)
        out.write(line + "\n")
        out.flush()
        printed += 1
        if options.timeout is not None:
            deadline = time.monotonic() + options.timeout
    return EXIT_OK


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def _exit_status(exc: SystemExit) -> int:
    if exc.code is None:
        return EXIT_OK
    return exc.code if isinstance(exc.code, int) else EXIT_USAGE


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``ibsub`` with ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    parser, commands = _parsers()
    try:
        args = parser.parse_args(
            replay_cli.join_time_values(sys.argv[1:] if argv is None else argv)
        )
        options = (
            tail_options(args, commands[args.command].error) if args.command == "tail" else None
        )
        latency_options = None
        if args.command == "latency":
            try:
                latency_options = latency.options_from_args(args)
            except CurveKeyError as exc:
                commands["latency"].error(str(exc))
    except SystemExit as exc:  # argparse exits for --help, --version and usage errors
        return _exit_status(exc)
    # Ctrl-C and SIGTERM unwind to a clean exit (status 0, sockets closed, no traceback). SIGINT
    # is set explicitly because a shell starts background jobs with it ignored.
    handled = (signal.SIGINT, signal.SIGTERM)
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = (
        [signal.signal(s, signal.default_int_handler) for s in handled] if in_main_thread else []
    )
    try:
        if latency_options is not None:
            return latency.run_latency(latency_options, sys.stdout, sys.stderr)
        if args.command in _COMMANDS:
            return _COMMANDS[args.command](args, sys.stdout, sys.stderr)
        assert options is not None  # tail, the only other command
        return run_tail(options, sys.stdout, sys.stderr)
    except KeyboardInterrupt:
        return EXIT_OK
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_OK
    finally:
        for signum, handler in zip(handled, previous, strict=False):
            if handler is not None:  # None: a handler not installed from Python; leave it
                signal.signal(signum, handler)


if __name__ == "__main__":
    sys.exit(main())

"""``ibsub snapshot``: print the publisher's current state (its last-value snapshot) and exit."""

import argparse
import json
from datetime import UTC
from typing import Final, TextIO

import zmq

from subscribers.book_cli import ladder
from subscribers.connect import Connection, connection_from_args
from subscribers.curve import CurveKeyError
from subscribers.depth import DepthBook
from subscribers.schema import DEPTH_PREFIX
from subscribers.snapshot import DEFAULT_TIMEOUT, Snapshot, SnapshotError, TopicSnapshot, fetch
from subscribers.wire import format_clock, format_line, to_jsonable

EXIT_OK: Final = 0
EXIT_ERROR: Final = 1
EXIT_USAGE: Final = 2

DESCRIPTION: Final = """\
Ask the publisher for its last-value snapshot, the latest tick of every instrument and field
(and of every data kind: the latest tbt event per kind, bar, greeks per field, and the whole
book of each depth topic), print it and exit. PREFIX selects topics by byte prefix
('tick.AAPL', 'depth.AAPL'; 'tick.ES' also matches tick.ESZ6); with none, every instrument is
printed."""

EPILOG: Final = f"""\
examples:
  ibsub snapshot                    everything the publisher holds
  ibsub snapshot tick.AAPL          one instrument
  ibsub snapshot --json | jq '.topics[].topic'

output:
  Line mode: a header with the session id (sid) and the snapshot's time, then for each topic
  its last seq and one line per field, as 'ibsub tail' prints ticks; a depth topic's book as a
  ladder (as 'ibsub book' draws it).
  --json: one JSON object, {{"sid", "ts", "topics": [{{"topic", "seq", "ticks": [...]}}]}}, each
  tick as 'ibsub tail --json' prints it; a depth topic's entry also has "book": {{"bids":
  [[price, size, market_maker], ...], "asks": [...]}}, best first.

exit status:
  0  printed
  1  error: no reply within --timeout (default {DEFAULT_TIMEOUT:g} s), or the publisher refused
  2  usage error"""


def add_parser(
    commands: "argparse._SubParsersAction[argparse.ArgumentParser]",
    parents: list[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Register ``snapshot`` with the ``ibsub`` subcommands."""
    parser = commands.add_parser(
        "snapshot",
        parents=parents,
        help="print the publisher's current state and exit",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("prefix", nargs="?", default="", metavar="PREFIX", help="topic prefix")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help="give up (status 1) after SECONDS without a reply (default %(default)g)",
    )
    parser.add_argument("--utc", action="store_true", help="print times in UTC, not local time")
    return parser


def snapshot_json(snapshot: Snapshot) -> dict[str, object]:
    """The snapshot as a JSON-ready map (ticks as ``ibsub tail --json`` prints them)."""
    return {
        "sid": snapshot.sid,
        "ts": snapshot.ts,
        "topics": [_topic_json(t) for t in snapshot.topics],
    }


def _topic_json(entry: TopicSnapshot) -> dict[str, object]:
    out: dict[str, object] = {
        "topic": entry.topic,
        "seq": entry.seq,
        "ticks": [to_jsonable(tick) for tick in entry.ticks],
    }
    if entry.book is not None:
        bids, asks = entry.book
        out["book"] = {"bids": [list(r) for r in bids], "asks": [list(r) for r in asks]}
    return out


def snapshot_lines(snapshot: Snapshot, *, utc: bool = False) -> list[str]:
    """The snapshot as human-readable lines."""
    tz = UTC if utc else None
    lines = [
        f"snapshot of sid {snapshot.sid} at {format_clock(snapshot.ts, tz)}: "
        f"{len(snapshot.topics)} topic(s), {snapshot.tick_count} tick(s)"
    ]
    for entry in sorted(snapshot.topics, key=lambda t: t.topic):
        lines.append(f"{entry.topic}  last seq {entry.seq}")
        lines += [f"  {format_line(tick.topic, tick, tz=tz)}" for tick in entry.ticks]
        if entry.book is not None:
            book = DepthBook()
            book.replace(list(entry.book[0]), list(entry.book[1]))
            key = entry.topic[len(DEPTH_PREFIX) :]
            rows = max(len(book.bids), len(book.asks), 1)
            lines += [f"  {line}" for line in ladder(key, book, rows, entry.seq, 0)[1:]]
    return lines


def run_snapshot(
    connection: Connection,
    prefix: str,
    out: TextIO,
    err: TextIO,
    *,
    json_out: bool,
    timeout: float,
    utc: bool,
) -> int:
    """Fetch and print one snapshot; returns the exit status."""
    try:
        snapshot = fetch(
            connection.snapshot_endpoint, prefix, timeout=timeout, curve=connection.curve
        )
    except SnapshotError as exc:
        print(f"ibsub: error: {exc.reason}", file=err)
        return EXIT_ERROR
    except zmq.ZMQError as exc:
        endpoint = connection.snapshot_endpoint
        print(f"ibsub: error: cannot connect to {endpoint!r}: {exc.strerror}", file=err)
        return EXIT_ERROR
    if json_out:
        out.write(json.dumps(snapshot_json(snapshot), ensure_ascii=False) + "\n")
    else:
        out.write("\n".join(snapshot_lines(snapshot, utc=utc)) + "\n")
    out.flush()
    return EXIT_OK


def main_snapshot(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """The ``ibsub snapshot`` entry point from parsed arguments."""
    if not 0 < args.timeout < float("inf"):
        print(f"ibsub snapshot: error: --timeout must be positive, not {args.timeout}", file=err)
        return EXIT_USAGE
    try:
        connection = connection_from_args(args)
    except CurveKeyError as exc:
        print(f"ibsub: error: {exc}", file=err)
        return EXIT_USAGE
    return run_snapshot(
        connection, args.prefix, out, err, json_out=args.json, timeout=args.timeout, utc=args.utc
    )

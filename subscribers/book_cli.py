"""``ibsub book KEY``: a live L2 depth ladder of one instrument, built on ``sub.books``.

The book starts from the publisher's snapshot (the whole book at a consistent ``seq``), then
takes every ``depth.KEY`` change; after a gap or a publisher restart the library resyncs it
from a new snapshot (said on stderr). On a terminal the ladder is redrawn in place (the
alternate screen, restored at exit); when stdout is not a terminal each redraw is a plain block
of lines (no escape codes) followed by a blank line, at most every ``--interval`` seconds.
``--once`` prints the book once it is known and exits; ``--json`` prints JSON instead.
"""

import argparse
import json
import time
from dataclasses import dataclass
from datetime import UTC
from typing import Any, Final, TextIO

import zmq

from subscribers.client import Subscriber
from subscribers.connect import Connection, connection_from_args
from subscribers.curve import CurveKeyError
from subscribers.depth import DepthBook, Row
from subscribers.events import BookSynced, Event, PublisherAlive, describe
from subscribers.wire import Depth, format_clock

EXIT_OK: Final = 0
EXIT_ERROR: Final = 1
EXIT_USAGE: Final = 2
DEFAULT_ROWS: Final = 10
TTY_INTERVAL: Final = 0.2
PLAIN_INTERVAL: Final = 1.0
ONCE_TIMEOUT: Final = 10.0
ENTER_SCREEN: Final = "\x1b[?1049h\x1b[?25l"
LEAVE_SCREEN: Final = "\x1b[?25h\x1b[?1049l"
REDRAW: Final = "\x1b[H\x1b[2J"

DESCRIPTION: Final = """\
A live depth ladder (L2 order book) of one instrument: for each of --rows rows on each side the
market maker (or exchange), size and price, best first, bids on the left and asks on the right,
with the spread, the book's seq and the time of its last change. The instrument must be
published with the depth data kind (data = ["depth"] or "depth:ROWS[:smart]" in the config, or
requested so). The book starts from the publisher's snapshot and is resynced from a new one
after lost changes or a publisher restart. When stdout is not a terminal each update is a plain
block of lines followed by a blank line, at most every --interval seconds."""

EPILOG: Final = """\
examples:
  ibsub book AAPL                  a live ladder, 10 rows a side
  ibsub book ES --rows 5
  ibsub book AAPL --once           print the current book and exit
  ibsub book AAPL --once --json | jq .spread
  ibsub book AAPL --json           one JSON object per update (at most every --interval s)

--json objects: {"key", "topic", "seq", "ts", "spread", "bids": [[price, size, market_maker],
...], "asks": [...]}, best row first; market_maker is null where IB gave none.

exit status:
  0  --once printed the book, or stopped by Ctrl-C or SIGTERM
  1  error: cannot connect, or no book within --timeout (--once: 10 s by default)
  2  usage error"""


@dataclass(frozen=True, slots=True)
class BookOptions:
    """What ``ibsub book`` was asked to do."""

    connection: Connection
    key: str
    rows: int = DEFAULT_ROWS
    once: bool = False
    json: bool = False
    interval: float | None = None
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


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, not {text}")
    return value


def add_parser(
    commands: "argparse._SubParsersAction[argparse.ArgumentParser]",
    parents: list[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Add ``ibsub book`` to ``commands``."""
    book = commands.add_parser(
        "book",
        parents=parents,
        help="a live depth ladder (L2 book) of one instrument",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    book.add_argument("key", metavar="KEY", help="the instrument key (exact: ES is not ESZ6)")
    book.add_argument(
        "--rows", type=_positive_int, default=DEFAULT_ROWS, metavar="N",
        help=f"rows shown on each side (default {DEFAULT_ROWS})",
    )  # fmt: skip
    book.add_argument("--once", action="store_true", help="print the book once known, then exit")
    book.add_argument("--json", action="store_true", help="print JSON objects, not a ladder")
    book.add_argument(
        "--interval", type=_seconds, metavar="SECONDS",
        help=f"least time between redraws (default {TTY_INTERVAL:g} s on a terminal, "
        f"{PLAIN_INTERVAL:g} s otherwise)",
    )  # fmt: skip
    book.add_argument(
        "--timeout", type=_seconds, metavar="SECONDS",
        help=f"exit with status 1 if no book is known within SECONDS (default: wait; "
        f"{ONCE_TIMEOUT:g} s with --once)",
    )  # fmt: skip
    book.add_argument("--utc", action="store_true", help="print times in UTC, not local time")
    return book


def options_from_args(args: argparse.Namespace) -> BookOptions:
    """The options of a parsed ``ibsub book`` (CurveKeyError for bad key files)."""
    if not args.key:
        raise ValueError("an instrument key cannot be empty")
    return BookOptions(
        connection=connection_from_args(args),
        key=args.key,
        rows=args.rows,
        once=args.once,
        json=args.json,
        interval=args.interval,
        timeout=args.timeout if args.timeout is not None or not args.once else ONCE_TIMEOUT,
        utc=args.utc,
    )


def _number(value: float) -> str:
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else f"{value:g}"


def _places(rows: list[Row]) -> int:
    """Decimal places that show every price of ``rows`` exactly (at most 8), so the price
    column lines up on its decimal point."""
    most = 0
    for price, _, _ in rows:
        text = f"{price:.8f}".rstrip("0")
        most = max(most, len(text.split(".")[1]))
    return most


def _cells(row: Row | None, places: int) -> tuple[str, str, str]:
    if row is None:
        return "", "", ""
    price, size, maker = row
    return maker or "", _number(size), f"{price:.{places}f}"


def ladder(
    key: str, book: DepthBook, rows: int, seq: int, ts: int, *, utc: bool = False
) -> list[str]:
    """The ladder's lines: a header, the column titles, then ``rows`` rows of bids | asks."""
    spread = book.spread()
    spread_text = "-" if spread is None else _number(round(spread, 10))
    when = format_clock(ts, UTC if utc else None) if ts else "-"
    lines = [
        f"depth.{key}  seq {seq}  {when}  spread {spread_text}  "
        f"({len(book.bids)} bids, {len(book.asks)} asks)",
        f"{'MM':>8} {'SIZE':>10} {'BID':>12} | {'ASK':<12} {'SIZE':<10} {'MM':<8}",
    ]
    places = _places([*book.bids[:rows], *book.asks[:rows]])
    for at in range(rows):
        bid = _cells(book.bids[at] if at < len(book.bids) else None, places)
        ask = _cells(book.asks[at] if at < len(book.asks) else None, places)
        lines.append(
            f"{bid[0]:>8} {bid[1]:>10} {bid[2]:>12} | {ask[2]:<12} {ask[1]:<10} {ask[0]:<8}"
        )
    return [line.rstrip() for line in lines]


def book_json(key: str, book: DepthBook, rows: int, seq: int, ts: int) -> dict[str, Any]:
    """The ``--json`` object of a book."""
    return {
        "key": key,
        "topic": f"depth.{key}",
        "seq": seq,
        "ts": ts,
        "spread": book.spread(),
        "bids": [list(row) for row in book.bids[:rows]],
        "asks": [list(row) for row in book.asks[:rows]],
    }


def run_book(options: BookOptions, out: TextIO, err: TextIO) -> int:
    """Show the book until a signal (or, with --once, until it is known); the exit status."""
    key = options.key
    state = {"seq": 0, "ts": 0}

    def on_event(event: Event) -> None:
        if isinstance(event, BookSynced) and event.topic == f"depth.{key}":
            state["seq"] = event.seq
        quiet = isinstance(event, BookSynced) or (
            isinstance(event, PublisherAlive) and not event.returned
        )
        if not quiet:
            print(f"ibsub: {describe(event)}", file=err, flush=True)

    conn = options.connection
    try:
        sub = Subscriber(
            conn.endpoint, exact_keys=[key], data=["depth"], snapshot=True,
            snapshot_endpoint=conn.snapshot_endpoint, curve=conn.curve, on_event=on_event,
        )  # fmt: skip
    except zmq.ZMQError as exc:
        print(f"ibsub: error: cannot connect to {conn.endpoint!r}: {exc.strerror}", file=err)
        return EXIT_ERROR
    tty = out.isatty() and not options.json and not options.once
    interval = options.interval or (TTY_INTERVAL if tty else PLAIN_INTERVAL)
    deadline = None if options.timeout is None else time.monotonic() + options.timeout
    shown_at = -float("inf")
    dirty = True
    if tty:
        out.write(ENTER_SCREEN)
    try:
        with sub:
            while True:
                now = time.monotonic()
                if sub.book_ready(key) and dirty and (options.once or now - shown_at >= interval):
                    _show(options, sub.books[key], state["seq"], state["ts"], out, tty)
                    if options.once:
                        return EXIT_OK
                    shown_at, dirty, deadline = now, False, None
                if deadline is not None and now >= deadline:
                    print(
                        f"ibsub: error: no book of depth.{key} within {options.timeout:g} s "
                        f"(is {key} published with the depth data kind?)",
                        file=err,
                    )
                    return EXIT_ERROR
                msg = sub.recv(interval)
                while msg is not None:
                    if isinstance(msg, Depth):
                        state["seq"], state["ts"] = msg.seq, msg.ts
                        dirty = True
                    msg = sub.recv(0)
                if sub.book_ready(key) and not dirty and shown_at == -float("inf"):
                    dirty = True  # seeded from the snapshot, no change yet
    finally:
        if tty:
            out.write(LEAVE_SCREEN)
            out.flush()


def _show(options: BookOptions, book: DepthBook, seq: int, ts: int, out: TextIO, tty: bool) -> None:
    if options.json:
        payload = book_json(options.key, book, options.rows, seq, ts)
        out.write(json.dumps(payload, separators=(",", ":")) + "\n")
    else:
        lines = ladder(options.key, book, options.rows, seq, ts, utc=options.utc)
        out.write((REDRAW if tty else "") + "\n".join(lines) + ("\n" if tty else "\n\n"))
    out.flush()


def main_book(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``ibsub book``'s entry point from :mod:`subscribers.cli`."""
    try:
        options = options_from_args(args)
    except (CurveKeyError, ValueError) as exc:
        print(f"ibsub book: error: {exc}", file=err)
        return EXIT_USAGE
    return run_book(options, out, err)

"""``ibsub record``: write every data message (every kind) to files, losses as explicit rows.

The file layout and the row format are :mod:`subscribers.recorder`'s. SIGINT and SIGTERM stop
the recording cleanly: what is already queued in this process is drained and written, the
current file is flushed and closed, and the exit status is 0. Nothing received is dropped.
"""

import argparse
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, Final, TextIO

import zmq

from subscribers.client import Subscriber
from subscribers.connect import Connection, connection_from_args
from subscribers.curve import CurveKeyError
from subscribers.events import Event
from subscribers.recorder import DEFAULT_MAX_BYTES, FORMATS, Format, Recorder
from subscribers.schema import DATA_PREFIXES
from subscribers.wire import Bar, Depth, Greeks, Tbt, Tick

_DATA: Final = (Tick, Tbt, Depth, Bar, Greeks)
DATA_NAMES: Final = ("tick", "tbt", "depth", "bar", "greeks")
"""Every data kind: ``--exact`` keys are recorded on each of their data topics."""

EXIT_OK: Final = 0
EXIT_ERROR: Final = 1
EXIT_USAGE: Final = 2
FLUSH_EVERY: Final = 1.0
"""Seconds between flushes of csv/jsonl files to the operating system."""
BATCH: Final = 1000
"""Messages written between two looks at the stop flag and the flush clock."""
DRAIN_LIMIT: Final = 1_000_000
"""At most this many queued messages are drained at shutdown (bounds the exit time)."""
_SUFFIXES: Final = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}

DESCRIPTION: Final = """\
Write every data message to files, one row each (ticks and the tbt, depth, bar and greeks
kinds alike; the row column says which), rotating to a new file each UTC day and whenever a
file reaches --max-bytes. Losses the subscriber detects are written as rows too: 'gap' (these
seq numbers of this topic never arrived), 'restart' (the publisher began a new session) and
'silent' (the publisher stopped sending heartbeats), so a reader knows where data is missing."""

EPILOG: Final = """\
examples:
  ibsub record --out ticks                          every instrument, every kind, CSV
  ibsub record --out ticks --format parquet tick.ES
  ibsub record --out books --format parquet depth.  every depth change of every instrument
  ibsub record --out ticks --format jsonl --exact AAPL MSFT

files:
  DIR/ibsub-YYYYMMDD-NNNN.csv|jsonl|parquet (a Parquet file is the hidden
  .ibsub-...parquet.part until it is closed). Columns: row (tick|tbt|depth|bar|greeks|gap|
  restart|silent), recv_ns, topic, pub, sid, seq, ts, key, conid, field, tick_type, price,
  size, value, attrib, mdt, ts_recv, missing, note, then the other kinds' payload keys: kind,
  time, exchange, special_conditions, past_limit, unreported, bid, ask, bid_size, ask_size,
  bid_past_low, ask_past_high, mid (tbt); position, operation, side, market_maker, is_smart
  (depth); what, open, high, low, close, volume, wap, count (bar); implied_vol, delta,
  opt_price, pv_dividend, gamma, vega, theta, und_price (greeks). A row fills only its own
  kind's columns. A gap row's seq is the first lost seq, missing how many. See
  docs/subscribing.md for each kind's columns.

exit status:
  0  stopped by Ctrl-C or SIGTERM (the files are complete)
  1  error: cannot connect, cannot write
  2  usage error"""


@dataclass(frozen=True, slots=True)
class RecordOptions:
    """What ``ibsub record`` was asked to do."""

    connection: Connection
    out: Path
    format: Format = "csv"
    max_bytes: int = DEFAULT_MAX_BYTES
    prefixes: tuple[str, ...] = DATA_PREFIXES
    exact_keys: tuple[str, ...] = ()


def parse_size(text: str) -> int:
    """``1048576``, ``512k``, ``100M`` or ``2G`` as a number of bytes (for argparse)."""
    number, suffix = text.strip(), ""
    if number and number[-1].lower() in _SUFFIXES:
        number, suffix = number[:-1], number[-1].lower()
    try:
        value = int(float(number) * _SUFFIXES[suffix])
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 100M)") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 byte, not {text}")
    return value


def add_parser(
    commands: "argparse._SubParsersAction[argparse.ArgumentParser]",
    parents: list[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Register ``record`` with the ``ibsub`` subcommands."""
    parser = commands.add_parser(
        "record",
        parents=parents,
        help="write every tick (and detected gaps) to csv, jsonl or parquet files",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "topics",
        nargs="*",
        metavar="PREFIX",
        help="tick topic prefixes to record (default: tick., every instrument); "
        "instrument keys with --exact",
    )
    parser.add_argument("--exact", action="store_true", help="the arguments are exact keys")
    parser.add_argument("--out", required=True, metavar="DIR", help="directory for the files")
    parser.add_argument(
        "--format", choices=FORMATS, default="csv", help="file format (default: %(default)s)"
    )
    parser.add_argument(
        "--max-bytes",
        type=parse_size,
        default=DEFAULT_MAX_BYTES,
        metavar="SIZE",
        help="start a new file when one reaches SIZE (e.g. 100M; default 256M)",
    )
    return parser


def options_from_args(args: argparse.Namespace) -> RecordOptions:
    """Turn parsed arguments into :class:`RecordOptions` (raises CurveKeyError, ValueError)."""
    topics: list[str] = args.topics
    if args.exact:
        if not topics or not all(topics):
            raise ValueError("--exact needs at least one non-empty instrument KEY")
        prefixes: tuple[str, ...] = ()
        exact = tuple(topics)
    else:
        prefixes, exact = tuple(topics) or DATA_PREFIXES, ()
    return RecordOptions(
        connection=connection_from_args(args),
        out=Path(args.out),
        format=args.format,
        max_bytes=args.max_bytes,
        prefixes=prefixes,
        exact_keys=exact,
    )


class _StopFlag:
    """SIGINT/SIGTERM set a flag instead of raising, so no row is ever half-written."""

    def __init__(self) -> None:
        self.set = False
        self._previous: list[tuple[int, Any]] = []

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.set = True

    def __enter__(self) -> "_StopFlag":
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous.append((signum, signal.signal(signum, self)))
        return self

    def __exit__(self, *exc_info: object) -> None:
        for signum, handler in self._previous:
            signal.signal(signum, handler)


def run_record(
    options: RecordOptions,
    out: TextIO,
    err: TextIO,
    *,
    stop: Callable[[], bool] | None = None,
    now_ns: Callable[[], int] = time.time_ns,
) -> int:
    """Record until SIGINT/SIGTERM (or ``stop()`` is true); returns the exit status."""
    try:
        recorder = Recorder(options.out, options.format, max_bytes=options.max_bytes)
    except (OSError, ImportError) as exc:
        print(f"ibsub: error: cannot record to {options.out}: {exc}", file=err)
        return EXIT_ERROR
    conn = options.connection

    def on_event(event: Event) -> None:
        recorder.event(event, now_ns())

    try:
        subscriber = Subscriber(
            conn.endpoint,
            prefixes=options.prefixes,
            exact_keys=options.exact_keys,
            data=DATA_NAMES,
            books=False,  # every change is written as it comes (a gap row marks a loss)
            curve=conn.curve,
            on_event=on_event,
        )
    except zmq.ZMQError as exc:
        recorder.close()
        print(f"ibsub: error: cannot connect to {conn.endpoint!r}: {exc.strerror}", file=err)
        return EXIT_ERROR
    print(f"ibsub: recording {options.format} files in {options.out}", file=err, flush=True)
    try:
        with subscriber, _StopFlag() as flag:
            stopped = (lambda: flag.set) if stop is None else (lambda: flag.set or stop())
            record_loop(subscriber, recorder, stopped, now_ns)
    except OSError as exc:
        print(f"ibsub: error: cannot write to {options.out}: {exc}", file=err)
        return EXIT_ERROR
    finally:
        recorder.close()
    print(
        f"ibsub: recorded {recorder.ticks} ticks, {recorder.gaps} gaps "
        f"({recorder.lost} messages lost) in {len(recorder.files)} files",
        file=err,
        flush=True,
    )
    return EXIT_OK


def record_loop(
    subscriber: Subscriber,
    recorder: Recorder,
    stopped: Callable[[], bool],
    now_ns: Callable[[], int] = time.time_ns,
) -> None:
    """Write what ``subscriber`` delivers until ``stopped()``, then what it already holds
    (``ibsub record``'s loop; ``bench/subscriber.py`` times it). ``stopped`` and the flush
    clock are looked at once per batch of up to :data:`BATCH` messages already received."""
    recv, tick, data = subscriber.recv, recorder.tick, recorder.data
    next_flush = time.monotonic() + FLUSH_EVERY
    while not stopped():
        msg = recv(0.2)  # short, so a signal is noticed promptly
        written = 0
        while msg is not None:  # then what has already arrived, up to a batch
            if type(msg) is Tick:
                tick(msg, now_ns())
            elif isinstance(msg, _DATA):
                data(msg, now_ns())
            written += 1
            if written >= BATCH:
                break
            msg = recv(0)
        if time.monotonic() >= next_flush:
            recorder.flush()
            next_flush = time.monotonic() + FLUSH_EVERY
    # Stopping: write what has already reached this process, then close the file.
    for _ in range(DRAIN_LIMIT):
        msg = recv(0)
        if msg is None:
            break
        if isinstance(msg, _DATA):
            data(msg, now_ns())


def main_record(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """The ``ibsub record`` entry point from parsed arguments."""
    try:
        options = options_from_args(args)
    except CurveKeyError as exc:
        print(f"ibsub: error: {exc}", file=err)
        return EXIT_USAGE
    except ValueError as exc:
        print(f"ibsub record: error: {exc}", file=err)
        return EXIT_USAGE
    return run_record(options, out, err)

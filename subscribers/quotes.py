"""``ibsub quotes``: a live top-of-book table per instrument, built on the subscriber library.

On a terminal the table is redrawn in place (ANSI escapes, on the alternate screen, restored at
exit); when stdout is not a terminal it prints one plain summary line every ``--interval``
seconds instead, which suits logs and pipes. The view starts from the publisher's snapshot, so
every instrument shows its latest values at once, and shows per instrument the ticks per
second, the age of the last update and the messages lost; in the header, each publisher's
gateway state and whether it is alive.
"""

import argparse
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, TextIO

import zmq

from subscribers.book import Quote
from subscribers.client import Subscriber
from subscribers.connect import Connection, add_control_argument, connection_from_args
from subscribers.control import ControlError
from subscribers.control_cli import print_refusal
from subscribers.curve import CurveKeyError
from subscribers.events import (
    Event,
    Gap,
    PublisherAlive,
    PublisherRestart,
    PublisherSilent,
    SnapshotFailed,
    describe,
)
from subscribers.schema import DEPTH_PREFIX
from subscribers.states import instruments_in
from subscribers.wire import STATUS_PREFIX, TICK_PREFIX, Message, Status

EXIT_OK: Final = 0
EXIT_ERROR: Final = 1
EXIT_USAGE: Final = 2
TTY_INTERVAL: Final = 0.5
PLAIN_INTERVAL: Final = 5.0
STOP_POLL: Final = 0.1
"""How often :func:`show_quotes` checks its ``stop`` callable between messages."""
RATE_WINDOW: Final = 2.0
"""Seconds over which ticks per second are averaged."""

ENTER_SCREEN: Final = "\x1b[?1049h\x1b[?25l"  # alternate screen, hide the cursor
LEAVE_SCREEN: Final = "\x1b[?25h\x1b[?1049l"
REDRAW: Final = "\x1b[H\x1b[2J"

DESCRIPTION: Final = """\
A live table of the top of book of each instrument: bid size, bid, ask, ask size, last, last
size and volume, with ticks per second, the age of the last update and the messages lost per
instrument, and each publisher's gateway state; for an instrument published with depth too, the
spread of its L2 book ("L2 spread"). It starts from the publisher's snapshot, so
every instrument shows its latest values at once. KEYs are instrument keys, matched exactly;
with none, every instrument is shown. --request asks the publisher for instruments on demand
(a bare SYMBOL is a US stock), shows them, and releases them on exit. Instruments that failed
or get delayed data are listed under the table with IB's code and message. When stdout is not
a terminal it prints one plain line every --interval seconds instead."""

EPILOG: Final = """\
examples:
  ibsub quotes                      every instrument
  ibsub quotes AAPL ESZ6 EUR.USD    three instruments
  ibsub quotes --request NVDA AMD   ask for two stocks, show them, release them on exit
  ibsub quotes --interval 10 > quotes.log

exit status:
  0  stopped by Ctrl-C or SIGTERM
  1  error: cannot connect, or the publisher refused a --request
  2  usage error"""


@dataclass(frozen=True, slots=True)
class QuotesOptions:
    """What ``ibsub quotes`` was asked to do."""

    connection: Connection
    keys: tuple[str, ...] = ()
    interval: float | None = None
    """Seconds between redraws or lines; None: the default for the output kind."""
    snapshot: bool = True
    requests: tuple[str, ...] = ()
    """Symbols (US stocks) to ask the publisher for, shown and released on exit."""
    client: str | None = None


def _price(value: float | None, width: int) -> str:
    if value is None:
        return "-".rjust(width)
    places = 5 if abs(value) < 10 else 2  # FX quotes need more places than stocks
    return f"{value:>{width}.{places}f}"


def _size(value: float | None, width: int) -> str:
    if value is None:
        return "-".rjust(width)
    for limit, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M")):
        if abs(value) >= limit:
            return f"{value / limit:>{width - 1}.2f}{suffix}"
    if float(value).is_integer():
        return f"{int(value):>{width}d}"
    return f"{value:>{width}.4g}"


NOTES: Final = 3
"""Notable events (and, with ``statuses``, status messages) kept under the table."""


class QuotesView:
    """The state behind the table: the subscriber's book plus rates, losses and gateways.

    ``ibpub demo`` shows the same view (one table for both commands), titled ``ibpub demo`` and
    with ``statuses`` on: there the instruments' status messages (subscribed, delayed...) are
    news worth a line, while ``ibsub quotes`` on a long-running bus notes only losses and
    publisher events.
    """

    def __init__(
        self,
        subscriber: Subscriber,
        clock: Callable[[], float] = time.monotonic,
        *,
        title: str = "ibsub quotes",
        statuses: bool = False,
        only: frozenset[str] | None = None,
    ):
        self.subscriber = subscriber
        self.only = only
        """Instrument keys whose trouble (failed, delayed) is listed; None: every key."""
        self._clock = clock
        self.title = title
        self._statuses = statuses
        self.lost: dict[str, int] = {}
        """Messages lost per instrument key."""
        self.gateways: dict[str, str] = {}
        """Gateway state per publisher, from status messages and heartbeats."""
        self.notes: list[str] = []
        """The last few notable events, newest last."""
        self._rate_base: dict[str, tuple[float, int]] = {}
        self.rates: dict[str, float] = {}

    def on_message(self, msg: Message) -> None:
        if not isinstance(msg, Status):
            return
        if msg.scope == "gateway":
            self.gateways[msg.pub] = msg.state
        if self._statuses:
            key = f"{msg.key} " if msg.key else ""
            self._note(f"{msg.scope} {key}{msg.state}: {msg.message}")

    def _note(self, text: str) -> None:
        self.notes = [*self.notes[1 - NOTES :], text]

    def on_event(self, event: Event) -> None:
        if isinstance(event, Gap) and event.topic.startswith(TICK_PREFIX):
            key = event.topic[len(TICK_PREFIX) :]
            self.lost[key] = self.lost.get(key, 0) + event.missing
        notable = isinstance(event, Gap | PublisherRestart | PublisherSilent | SnapshotFailed)
        if notable or (isinstance(event, PublisherAlive) and event.returned):
            self._note(describe(event))

    def update_rates(self, now: float) -> None:
        """Refresh ticks per second for instruments whose window has passed."""
        for key, quote in self.subscriber.book.quotes.items():
            base = self._rate_base.get(key)
            if base is None:
                self._rate_base[key] = (now, quote.ticks)
            elif now - base[0] >= RATE_WINDOW:
                self.rates[key] = (quote.ticks - base[1]) / (now - base[0])
                self._rate_base[key] = (now, quote.ticks)

    def gateway_text(self) -> str:
        """``name: state`` for each publisher, with ``(silent)`` when its heartbeats stopped."""
        parts = []
        publishers = self.subscriber.publishers
        for name in sorted({*self.gateways, *publishers}):
            info = publishers.get(name)
            state = info.gateway if info is not None else self.gateways[name]
            alive = "" if info is None or info.alive else " (silent)"
            parts.append(f"{name}: {state}{alive}")
        return ", ".join(parts) or "no publisher heard yet"

    def trouble(self) -> list[Status]:
        """Instruments failed, delayed or stale per the subscriber's ``states`` (which the
        snapshot fills for a late joiner)."""
        found = instruments_in(self.subscriber.states)
        return [s for s in found if self.only is None or s.key in self.only]

    def trouble_lines(self) -> list[str]:
        """One line per instrument in trouble: key, state, message and IB's code."""
        lines = []
        for status in self.trouble():
            code = "" if status.code is None else f" (code {status.code})"
            lines.append(f"{status.key or '-':<8} {status.state}: {status.message}{code}")
        return lines

    def _row(self, quote: Quote, now_ns: int) -> str:
        age = (now_ns - quote.updated_ns) / 1e9 if quote.updated_ns else 0.0
        delayed = " delayed" if quote.mdt in (3, 4) else ""
        rate, lost = self.rates.get(quote.key, 0.0), self.lost.get(quote.key, 0)
        # 79 columns: fits a classic 80-column terminal.
        return (
            f"{quote.key:<8} {_size(quote.bid_size, 6)} {_price(quote.bid, 8)}"
            f" {_price(quote.ask, 8)} {_size(quote.ask_size, 6)} {_price(quote.last, 8)}"
            f" {_size(quote.last_size, 6)} {_size(quote.volume, 6)}"
            f" {rate:>4.0f} {age:>4.1f}s {lost:>4d}{delayed}{self._depth_text(quote.key)}"
        )

    def depth_spread(self, key: str) -> float | None:
        """The spread of ``key``'s L2 book (best ask - best bid) when a depth topic of it is
        read and its book is known; else None."""
        sub = self.subscriber
        book = sub.books.get(key)
        if book is None or not sub.book_ready(key):
            return None
        return book.spread()

    def _depth_text(self, key: str) -> str:
        spread = self.depth_spread(key)
        return "" if spread is None else f" L2 spread {round(spread, 10):g}"

    def table(self, now_ns: int, endpoint: str) -> list[str]:
        """The full-screen table's lines."""
        stats = self.subscriber.stats
        lines = [
            f"{self.title}  {endpoint}  gateway {self.gateway_text()}   (Ctrl-C to stop)",
            f"received {stats.received}  gaps {stats.gaps} ({stats.lost} lost)  "
            f"malformed {stats.malformed}  restarts {stats.publisher_restarts}",
            "",
            f"{'KEY':<8} {'BIDSZ':>6} {'BID':>8} {'ASK':>8} {'ASKSZ':>6} {'LAST':>8}"
            f" {'LASTSZ':>6} {'VOLUME':>6} {'T/S':>4} {'AGE':>5} {'LOST':>4}",
        ]
        quotes = self.subscriber.book.quotes
        lines += [self._row(quotes[key], now_ns) for key in sorted(quotes)]
        trouble = self.trouble_lines()
        if trouble:
            lines += ["", *trouble]
        if self.notes:
            lines += ["", *self.notes]
        return lines

    def line(self, now_ns: int) -> str:
        """One plain summary line."""
        clock = time.strftime("%H:%M:%S", time.gmtime(now_ns / 1e9))
        quotes = self.subscriber.book.quotes
        parts = [
            f"{key} {_price(q.bid, 0).strip()}/{_price(q.ask, 0).strip()} "
            f"last {_price(q.last, 0).strip()}{self._depth_text(key)}"
            for key, q in sorted(quotes.items())
        ]
        stats = self.subscriber.stats
        total = sum(self.rates.values())
        parts += [
            f"{s.key} {s.state}" + ("" if s.code is None else f" ({s.code})")
            for s in self.trouble()
        ]
        return (
            f"{clock}Z gateway {self.gateway_text()}; {total:.0f} ticks/s; "
            f"gaps {stats.gaps} ({stats.lost} lost); " + "; ".join(parts)
        )


def add_parser(
    commands: "argparse._SubParsersAction[argparse.ArgumentParser]",
    parents: list[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Register ``quotes`` with the ``ibsub`` subcommands."""
    parser = commands.add_parser(
        "quotes",
        parents=parents,
        help="a live top-of-book table per instrument",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("keys", nargs="*", metavar="KEY", help="instrument keys (default: all)")
    parser.add_argument(
        "--interval",
        type=float,
        metavar="SECONDS",
        help=f"seconds between redraws (default {TTY_INTERVAL:g}) or, when stdout is not a "
        f"terminal, between lines (default {PLAIN_INTERVAL:g})",
    )
    parser.add_argument(
        "--request",
        nargs="+",
        default=[],
        metavar="SYMBOL",
        help="ask the publisher for these US stocks on demand; released on exit",
    )
    parser.add_argument("--client", metavar="NAME", help="the holder's name for --request")
    add_control_argument(parser)
    parser.add_argument(
        "--no-snapshot",
        dest="snapshot",
        action="store_false",
        help="do not start from the publisher's snapshot; fill the table from live ticks only",
    )
    return parser


def options_from_args(args: argparse.Namespace) -> QuotesOptions:
    """Turn parsed arguments into :class:`QuotesOptions` (raises CurveKeyError, ValueError)."""
    if args.interval is not None and not 0 < args.interval < float("inf"):
        raise ValueError(f"--interval must be a positive number of seconds, not {args.interval}")
    if any(not key for key in [*args.keys, *args.request]):
        raise ValueError("an instrument key or symbol cannot be empty")
    return QuotesOptions(
        connection_from_args(args),
        tuple(args.keys),
        args.interval,
        args.snapshot,
        tuple(args.request),
        args.client,
    )


def run_quotes(options: QuotesOptions, out: TextIO, err: TextIO) -> int:
    """Show quotes until SIGINT/SIGTERM (KeyboardInterrupt); returns the exit status."""
    conn = options.connection
    tty = out.isatty()
    interval = options.interval or (TTY_INTERVAL if tty else PLAIN_INTERVAL)
    view: QuotesView | None = None

    def on_event(event: Event) -> None:
        if view is not None:
            view.on_event(event)

    narrowed = bool(options.keys or options.requests)
    try:
        subscriber = Subscriber(
            conn.endpoint,
            prefixes=(STATUS_PREFIX,) if narrowed else (TICK_PREFIX, DEPTH_PREFIX, STATUS_PREFIX),
            exact_keys=options.keys,
            data=("tick", "depth"),
            snapshot=options.snapshot,
            snapshot_endpoint=conn.snapshot_endpoint,
            curve=conn.curve,
            on_event=on_event,
            requests=options.requests,
            control_endpoint=conn.control_endpoint,
            client=options.client,
        )
    except zmq.ZMQError as exc:
        print(f"ibsub: error: cannot connect to {conn.endpoint!r}: {exc.strerror}", file=err)
        return EXIT_ERROR
    except ControlError as exc:
        print_refusal(exc, out, err, "quotes --request")
        return EXIT_ERROR
    only = frozenset([*options.keys, *subscriber.held]) if narrowed else None
    view = QuotesView(subscriber, only=only)
    with subscriber:
        return show_quotes(view, out, interval, conn.endpoint)


def show_quotes(
    view: QuotesView,
    out: TextIO,
    interval: float,
    endpoint: str,
    stop: Callable[[], bool] | None = None,
) -> int:
    """Draw ``view`` every ``interval`` seconds from its (entered) subscriber until
    KeyboardInterrupt (SIGINT, or SIGTERM as the ``ibsub`` commands route it) or, when given,
    until ``stop()`` is true (checked every :data:`STOP_POLL` seconds); returns the exit status.

    On a terminal the table is redrawn on the alternate screen, restored on the way out.
    """
    subscriber = view.subscriber
    tty = out.isatty()
    wait_cap = STOP_POLL if stop is not None else float("inf")
    if tty:
        out.write(ENTER_SCREEN)
    try:
        next_draw = time.monotonic() + (0.0 if tty else interval)
        while stop is None or not stop():
            now = time.monotonic()
            if now >= next_draw:
                view.update_rates(now)
                _draw(view, out, tty, endpoint)
                next_draw = now + interval
            msg = subscriber.recv(min(wait_cap, max(0.0, next_draw - time.monotonic())))
            if msg is not None:
                view.on_message(msg)
    except KeyboardInterrupt:
        pass
    finally:
        if tty:
            out.write(LEAVE_SCREEN)
            out.flush()
    return EXIT_OK


def _draw(view: QuotesView, out: TextIO, tty: bool, endpoint: str) -> None:
    now_ns = time.time_ns()
    if not tty:
        out.write(view.line(now_ns) + "\n")
        out.flush()
        return
    size = shutil.get_terminal_size()
    lines = [line[: size.columns] for line in view.table(now_ns, endpoint)[: size.lines - 1]]
    out.write(REDRAW + "\n".join(lines) + "\n")
    out.flush()


def main_quotes(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """The ``ibsub quotes`` entry point from parsed arguments."""
    try:
        options = options_from_args(args)
    except CurveKeyError as exc:
        print(f"ibsub: error: {exc}", file=err)
        return EXIT_USAGE
    except ValueError as exc:
        print(f"ibsub quotes: error: {exc}", file=err)
        return EXIT_USAGE
    return run_quotes(options, out, err)

"""``ibpub sim`` flags for the data kinds: IB's limits and the real-time bar period."""

import argparse

from publisher.sim.kinds.limits import (
    DEFAULT_BAR_SECONDS,
    DEFAULT_MAX_DEPTH,
    DEFAULT_MAX_TICK_BY_TICK,
    DataLimits,
)


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, not {value}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:  # also rejects NaN
        raise argparse.ArgumentTypeError(f"must be > 0, not {text}")
    return value


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """--max-tick-by-tick, --max-depth, --bar-seconds."""
    parser.add_argument(
        "--max-tick-by-tick",
        type=_count,
        default=DEFAULT_MAX_TICK_BY_TICK,
        metavar="N",
        help="live reqTickByTickData subscriptions across all clients; one more gets IB's "
        "error 10190 (%(default)s)",
    )
    parser.add_argument(
        "--max-depth",
        type=_count,
        default=DEFAULT_MAX_DEPTH,
        metavar="N",
        help="live reqMktDepth subscriptions across all clients; one more gets IB's error 309 "
        "(%(default)s, an IB account's default)",
    )
    parser.add_argument(
        "--bar-seconds",
        type=_seconds,
        default=DEFAULT_BAR_SECONDS,
        metavar="S",
        help="wall seconds between real-time bars; each is still labelled a 5-second bar, "
        "5 s after the one before (%(default)g, as IB; smaller for tests)",
    )


def data_limits(args: argparse.Namespace) -> DataLimits:
    """The limits the flags ask for."""
    return DataLimits(
        max_tick_by_tick=args.max_tick_by_tick,
        max_depth=args.max_depth,
        bar_seconds=args.bar_seconds,
    )

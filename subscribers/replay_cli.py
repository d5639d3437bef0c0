"""``ibsub replay``: print history from JetStream as ``ibsub tail`` prints the live bus."""

import argparse
import json
from collections.abc import Sequence
from typing import Any, TextIO

from subscribers.replay import (
    DEFAULT_NATS,
    DEFAULT_STREAM,
    GapRecord,
    ReplaySubscriber,
    TimeError,
    parse_time,
)
from subscribers.wire import format_line, to_jsonable

__all__ = ["add_parser", "main_replay"]

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_FATAL = 1

DESCRIPTION = (
    "Print the bus messages that `ibpub bridge` stored in NATS JetStream, in stream order, "
    "from --since (ISO time, or relative: -15m, -2h, -1d) to --until or the end of the "
    "stream; with --follow, carry on live (no gap, no duplicate at the seam). Gaps the bridge "
    "stored print as type gap."
)


def add_parser(
    commands: Any, parents: Sequence[argparse.ArgumentParser]
) -> argparse.ArgumentParser:
    replay: argparse.ArgumentParser = commands.add_parser(
        "replay",
        help="print history stored by ibpub bridge in NATS JetStream",
        description=DESCRIPTION,
    )
    replay.add_argument(
        "--nats",
        default=DEFAULT_NATS,
        metavar="URL",
        help="NATS server URL(s), comma-separated (default: %(default)s)",
    )
    replay.add_argument(
        "--stream", default=DEFAULT_STREAM, help="stream name (default: %(default)s)"
    )
    replay.add_argument("--since", required=True, metavar="TIME", help="ISO time or -N[smhd]")
    replay.add_argument("--until", default=None, metavar="TIME", help="ISO time or -N[smhd]")
    replay.add_argument("--follow", action="store_true", help="carry on with live messages")
    replay.add_argument("--json", action="store_true", help="one JSON object per line")
    replay.add_argument("--credentials", default=None, metavar="FILE", help="NATS .creds file")
    replay.add_argument(
        "prefixes", nargs="*", metavar="PREFIX", help="topic prefixes (default: all)"
    )
    return replay


def main_replay(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:
        since = parse_time(args.since)
        until = parse_time(args.until) if args.until else None
    except TimeError as exc:
        print(f"error: --since/--until: {exc}", file=err)
        return EXIT_USAGE

    def report(event: object) -> None:
        if isinstance(event, GapRecord):
            if args.json:
                out.write(json.dumps(event.jsonable(), separators=(",", ":")) + "\n")
            else:
                p = event.payload
                out.write(
                    f"gap {event.pub} {p.topic} sid {p.sid} "
                    f"seq {p.from_seq}..{p.to_seq} ({p.reason})\n"
                )

    try:
        sub = ReplaySubscriber(
            args.nats.split(","),
            since=since,
            until=until,
            follow=args.follow,
            prefixes=args.prefixes,
            stream=args.stream,
            on_event=report,
            credentials=args.credentials,
        )
    except Exception as exc:  # a bad URL, no stream, refused credentials
        print(
            f"error: --nats/--stream: cannot replay {args.stream!r}: {type(exc).__name__} {exc}",
            file=err,
        )
        return EXIT_USAGE
    with sub:
        for msg in sub:
            if args.json:
                line = json.dumps(to_jsonable(msg), ensure_ascii=False, separators=(",", ":"))
            else:
                line = format_line(msg.topic, msg)
            out.write(line + "\n")
            out.flush()
    return EXIT_OK


def join_time_values(argv: Sequence[str]) -> list[str]:
    """``--since -10m`` as ``--since=-10m``: argparse would take ``-10m`` for an option."""
    out: list[str] = []
    args = list(argv)
    index = 0
    while index < len(args):
        arg = args[index]
        if arg in ("--since", "--until") and index + 1 < len(args):
            out.append(f"{arg}={args[index + 1]}")
            index += 2
            continue
        out.append(arg)
        index += 1
    return out

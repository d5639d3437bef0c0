"""``ibsub request`` and ``ibsub lines``: the control socket from the command line.

``ibsub request NVDA`` asks the publisher for a US stock (or any contract, by flags) and prints
the reply; the instrument then streams for every subscriber until the lease runs out (a
:class:`~subscribers.client.Subscriber` with ``requests=`` renews it; ``ibsub quotes --request``
asks, shows and releases). ``ibsub lines`` shows what the publisher holds, by whom, against its
IB line budget. The formatting functions are pure; ``main_*`` do the I/O.
"""

import argparse
import json
import time
from collections.abc import Sequence
from typing import Any, Final, TextIO

import msgspec
import zmq

from subscribers.connect import Connection, add_control_argument, connection_from_args
from subscribers.control import (
    DEFAULT_CONTROL_TIMEOUT,
    ControlClient,
    ControlError,
    Op,
    decode_reply,
    default_client_name,
    encode_list,
    encode_subscribe,
    instrument_from,
)
from subscribers.curve import CurveKeyError
from subscribers.schema import (
    DEFAULT_DATA,
    Candidate,
    ControlInstrument,
    ListReply,
    SubscribeReply,
)

EXIT_OK: Final = 0
EXIT_REFUSED: Final = 1
EXIT_USAGE: Final = 2

EXIT_HELP: Final = """\
exit status:
  0  the publisher agreed
  1  the publisher refused (the reason is printed), did not answer within --timeout, or sent
     a broken reply
  2  usage error"""

REQUEST_DESCRIPTION: Final = """\
Ask the publisher for an instrument on demand and print its reply: the key, the IB contract id,
the topics it streams on and when the lease runs out. A bare SYMBOL is a US stock (STK on SMART,
in USD); flags describe any other contract, like a config [[instruments]] table. An ambiguous
description (a future without an expiry) prints the matching contracts: ask again with
--con-id. The instrument streams to every subscriber until the lease runs out; a subscriber
that needs it for longer renews it (Subscriber(requests=...) does)."""

REQUEST_EPILOG: Final = f"""\
examples:
  ibsub request NVDA
  ibsub request --sec-type FUT --symbol ES --exchange CME --last-trade-date 202703
  ibsub request --sec-type CASH --symbol EUR --currency USD --exchange IDEALPRO
  ibsub request --con-id 4815747 --exchange SMART
  ibsub request NVDA --json

{EXIT_HELP}"""

LINES_DESCRIPTION: Final = """\
What the publisher holds: each instrument with its state, whether the config pins it, its
holders and when their lease runs out, and the IB market-data lines in use against the
budget (gateway.max_lines)."""

LINES_EPILOG: Final = f"""\
examples:
  ibsub lines
  ibsub lines --json | jq '.instruments[].key'

{EXIT_HELP}"""

INSTRUMENT_FLAGS: Final[tuple[tuple[str, type, str], ...]] = (
    ("key", str, "the topic key to use (default: derived by the publisher)"),
    ("sec_type", str, "STK FUT CASH IND OPT CRYPTO CONTFUT ..."),
    ("symbol", str, "the underlying symbol"),
    ("exchange", str, "e.g. SMART, CME, IDEALPRO"),
    ("primary_exchange", str, "e.g. NASDAQ"),
    ("currency", str, "e.g. USD"),
    ("local_symbol", str, "e.g. ESH7"),
    ("last_trade_date", str, "YYYYMM or YYYYMMDD"),
    ("strike", float, "an option's strike"),
    ("right", str, "an option's right: C or P"),
    ("multiplier", str, "the contract multiplier"),
    ("trading_class", str, "the trading class"),
    ("con_id", int, "IB's contract id (from an ambiguous reply's candidates)"),
    ("generic_ticks", str, 'extra generic tick ids, e.g. "233,236"'),
)


def _add_common(parser: argparse.ArgumentParser) -> None:
    add_control_argument(parser)
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_CONTROL_TIMEOUT,
        metavar="SECONDS",
        help=f"seconds to wait for the reply (default {DEFAULT_CONTROL_TIMEOUT:g})",
    )
    parser.add_argument("--json", action="store_true", help="print the raw reply as JSON")


def add_parsers(
    commands: "argparse._SubParsersAction[argparse.ArgumentParser]",
    parents: list[argparse.ArgumentParser],
) -> dict[str, argparse.ArgumentParser]:
    """Register ``request`` and ``lines`` with the ``ibsub`` subcommands."""
    request = commands.add_parser(
        "request",
        parents=parents,
        help="ask the publisher for an instrument on demand",
        description=REQUEST_DESCRIPTION,
        epilog=REQUEST_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    request.add_argument(
        "target", nargs="?", metavar="SYMBOL", help="a US stock's symbol (or use the flags)"
    )
    contract = request.add_argument_group("contract (the keys of a config [[instruments]] table)")
    for name, kind, text in INSTRUMENT_FLAGS:
        flag = "--" + name.replace("_", "-")
        contract.add_argument(flag, dest=name, type=kind, metavar=name.upper(), help=text)
    request.add_argument(
        "--data",
        action="append",
        metavar="KIND",
        help="a data kind to ask for; repeat for several (default: l1)",
    )
    request.add_argument("--lease", type=float, metavar="SECONDS", help="the lease to ask for")
    request.add_argument(
        "--client", metavar="NAME", help="the holder's name (default host:pid:random)"
    )
    _add_common(request)
    lines = commands.add_parser(
        "lines",
        parents=parents,
        help="what the publisher holds, by whom, against its line budget",
        description=LINES_DESCRIPTION,
        epilog=LINES_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_common(lines)
    return {"request": request, "lines": lines}


def instrument_from_args(args: argparse.Namespace) -> ControlInstrument:
    """The instrument the SYMBOL and the contract flags describe (ValueError if none)."""
    flags = {name: getattr(args, name) for name, _, _ in INSTRUMENT_FLAGS}
    given: dict[str, Any] = {name: value for name, value in flags.items() if value is not None}
    target: str | None = args.target
    if target is not None:
        if "symbol" in given:
            raise ValueError("give the symbol once: as SYMBOL or as --symbol")
        if given.get("sec_type", "STK") == "STK":
            base = msgspec.structs.asdict(instrument_from(target))
            base = {k: v for k, v in base.items() if v is not msgspec.UNSET}
        else:
            base = {"symbol": target}
        given = {**base, **given}
    elif "symbol" not in given and "con_id" not in given:
        raise ValueError("name an instrument: a SYMBOL, or --symbol/--con-id with other flags")
    return instrument_from(given)


def format_subscribe(reply: SubscribeReply, client: str, now_ns: int) -> list[str]:
    """The lines ``ibsub request`` prints for a granted request."""
    left = (reply.lease_expires - now_ns) / 1e9
    expires = time.strftime("%H:%M:%S", time.gmtime(reply.lease_expires / 1e9))
    return [
        f"{reply.key}: conid {reply.conid}, {reply.state}",
        f"topics: {', '.join(reply.topics)}",
        f"lease: held by {client} until {expires}Z (in {max(0.0, left):.0f} s)",
    ]


def format_candidates(candidates: Sequence[Candidate]) -> list[str]:
    """The contracts an ambiguous description matched, as a table."""
    rows = [("CONID", "SEC_TYPE", "SYMBOL", "LOCAL_SYMBOL", "LAST_TRADE", "EXCHANGE", "CURRENCY")]
    rows += [
        (
            str(c.conid),
            c.sec_type,
            c.symbol,
            c.local_symbol or "-",
            c.last_trade_date or "-",
            c.exchange,
            c.currency,
        )
        for c in candidates
    ]
    return _table(rows)


def format_lines(reply: ListReply, now_ns: int) -> list[str]:
    """The lines ``ibsub lines`` prints."""
    out = [f"lines {reply.lines_used}/{reply.lines_budget} in use"]
    rows = [("KEY", "CONID", "DATA", "STATE", "PINNED", "LEASE", "HOLDERS")]
    for held in sorted(reply.instruments, key=lambda i: i.key):
        lease = "-"
        if held.lease_expires is not None:
            lease = f"{max(0.0, (held.lease_expires - now_ns) / 1e9):.0f}s"
        rows.append(
            (
                held.key,
                str(held.conid),
                ",".join(held.data),
                held.state,
                "yes" if held.pinned else "no",
                lease,
                ", ".join(held.holders) or "-",
            )
        )
    return out + (_table(rows) if reply.instruments else ["(nothing held)"])


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def print_refusal(exc: ControlError, out: TextIO, err: TextIO, command: str) -> None:
    """Say why a request failed (on stderr); the candidates of an ambiguous one on ``out``."""
    what = "refused" if exc.refused else "failed"
    print(f"ibsub {command}: {what}: {exc.error}: {exc.message}", file=err)
    if exc.candidates:
        out.write("\n".join(format_candidates(exc.candidates)) + "\n")
        print("ask again with --con-id CONID", file=err)


def _connection(args: argparse.Namespace, err: TextIO, command: str) -> Connection | None:
    if not 0 < args.timeout < float("inf"):
        print(f"ibsub {command}: error: --timeout must be a positive number", file=err)
        return None
    try:
        return connection_from_args(args)
    except CurveKeyError as exc:
        print(f"ibsub {command}: error: {exc}", file=err)
        return None


def _ask(
    conn: Connection, op: Op, body: bytes, args: argparse.Namespace, out: TextIO, err: TextIO
) -> tuple[int, Any]:
    """Send one request; (exit status, decoded reply or None), printing JSON or the refusal."""
    command = "request" if op == "subscribe" else "lines"
    with ControlClient(conn.control_endpoint, curve=conn.curve, timeout=args.timeout) as client:
        try:
            raw = client.call_raw(body)
        except ControlError as exc:  # no reply in time
            print_refusal(exc, out, err, command)
            return EXIT_REFUSED, None
        except zmq.ZMQError as exc:
            print(f"ibsub {command}: error: {conn.control_endpoint!r}: {exc.strerror}", file=err)
            return EXIT_REFUSED, None
    try:
        reply = decode_reply(op, raw)
    except ControlError as exc:
        if args.json:
            _print_json(raw, out)
        else:
            print_refusal(exc, out, err, command)
        return EXIT_REFUSED, None
    if args.json:
        _print_json(raw, out)
    return EXIT_OK, reply


def _print_json(raw: bytes, out: TextIO) -> None:
    try:
        value = msgspec.msgpack.decode(raw)
    except msgspec.DecodeError:
        value = {"undecodable": raw.hex()}
    out.write(json.dumps(value, ensure_ascii=False, default=repr) + "\n")


def main_request(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """The ``ibsub request`` entry point from parsed arguments."""
    conn = _connection(args, err, "request")
    if conn is None:
        return EXIT_USAGE
    client = args.client or default_client_name()
    try:
        instrument = instrument_from_args(args)
        body = encode_subscribe(client, instrument, args.data or DEFAULT_DATA, args.lease)
    except (ValueError, TypeError) as exc:
        print(f"ibsub request: error: {exc}", file=err)
        return EXIT_USAGE
    status, reply = _ask(conn, "subscribe", body, args, out, err)
    if isinstance(reply, SubscribeReply) and not args.json:
        out.write("\n".join(format_subscribe(reply, client, time.time_ns())) + "\n")
    return status


def main_lines(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """The ``ibsub lines`` entry point from parsed arguments."""
    conn = _connection(args, err, "lines")
    if conn is None:
        return EXIT_USAGE
    status, reply = _ask(conn, "list", encode_list(), args, out, err)
    if isinstance(reply, ListReply) and not args.json:
        out.write("\n".join(format_lines(reply, time.time_ns())) + "\n")
    return status

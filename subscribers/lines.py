"""One human-readable line per bus message (``ibsub tail``'s line mode), pure.

:mod:`subscribers.wire` re-exports :func:`format_line` and :func:`format_clock` (the names
users know).
"""

from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from types import MappingProxyType
from typing import Final

from msgspec import UNSET

from subscribers.messages import Bar, Depth, Greeks, Heartbeat, Message, Status, Tbt, Tick

ATTRIB_NAMES: Final[Mapping[int, str]] = MappingProxyType(
    {1: "can-auto-execute", 2: "past-limit", 4: "pre-open"}
)
"""The bits of a price tick's ``attrib`` mask."""


def _value(datum: object) -> str:
    return "-" if datum is UNSET else _number(datum)  # type: ignore[arg-type]


def _data_text(msg: Tbt | Depth | Bar | Greeks) -> str:
    """The body of :func:`format_line` for a contract 1.1 data message."""
    if isinstance(msg, Depth):
        maker = "" if msg.market_maker is None else f" {msg.market_maker}"
        return (
            f"{msg.operation} {msg.side}[{msg.position}] {_number(msg.price)} x "
            f"{_number(msg.size)}{maker}"
        )
    if isinstance(msg, Tbt):
        if msg.kind == "bid_ask":
            return (
                f"bid_ask {_value(msg.bid_size)} x {_value(msg.bid)} / {_value(msg.ask)} x "
                f"{_value(msg.ask_size)}"
            )
        if msg.kind == "midpoint":
            return f"midpoint {_value(msg.mid)}"
        exchange = "" if msg.exchange is UNSET else f" {msg.exchange}"
        return f"{msg.kind} {_value(msg.size)} @ {_value(msg.price)}{exchange}"
    if isinstance(msg, Bar):
        return (
            f"bar {msg.what} {format_clock(msg.time * 1_000_000_000)} o {_number(msg.open)} "
            f"h {_number(msg.high)} l {_number(msg.low)} c {_number(msg.close)} "
            f"v {_number(msg.volume)} n {msg.count}"
        )
    return (
        f"{msg.field} iv {_number(msg.implied_vol)} delta {_number(msg.delta)} "
        f"price {_number(msg.opt_price)} und {_number(msg.und_price)} (mdt {msg.mdt})"
    )


def format_clock(ts_ns: int, tz: tzinfo | None = UTC) -> str:
    """``HH:MM:SS.ffffff`` of a nanosecond timestamp (``tz=None``: local time)."""
    seconds, ns = divmod(ts_ns, 1_000_000_000)
    try:
        when = datetime.fromtimestamp(seconds, tz)
    except (OverflowError, OSError, ValueError):
        return f"ts={ts_ns}"
    return f"{when:%H:%M:%S}.{ns // 1000:06d}"


def _number(datum: float | int | str | None) -> str:
    if datum is None:
        return "-"
    if isinstance(datum, float) and datum.is_integer() and abs(datum) < 1e15:
        return str(int(datum))
    return str(datum)


def _attrib_text(mask: int) -> str:
    names = [name for bit, name in ATTRIB_NAMES.items() if mask & bit]
    rest = mask & ~sum(ATTRIB_NAMES)
    if rest:
        names.append(f"0x{rest:x}")
    return ",".join(names)


def _printable(text: str) -> str:
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def format_line(topic: str, msg: Message, *, tz: tzinfo | None = UTC) -> str:
    """One human-readable line, e.g. ``12:00:01.123456 tick.AAPL  #42 bid 189.52 (mdt 1)``.

    The time is the publish time ``ts``, in ``tz`` (UTC by default; None for local time). A price
    of nil (IB's "no price") shows as ``-``. Control characters are escaped, so the result is
    always exactly one line.
    """
    head = f"{format_clock(msg.ts, tz)} {topic:<10} #{msg.seq}"
    if isinstance(msg, Tick):
        notes = f"mdt {msg.mdt}"
        if msg.attrib:
            notes += f", {_attrib_text(msg.attrib)}"
        return _printable(f"{head} {msg.field} {_number(msg.datum)} ({notes})")
    if isinstance(msg, Status):
        subject = msg.scope if msg.key is None else f"{msg.scope} {msg.key}"
        code = "" if msg.code is None else f" (code {msg.code})"
        return _printable(f"{head} {subject} {msg.state}: {msg.message}{code}")
    if isinstance(msg, Heartbeat):
        return _printable(f"{head} gateway {msg.gateway}, {len(msg.seqs)} data topics")
    return _printable(f"{head} {_data_text(msg)}")

"""Data kinds (contract 1.1 "Data kinds"): the grammar of ``data = [...]``, one definition.

An instrument's ``data`` is a list of kind names, in the config and in control requests alike:
``l1``; ``tbt_last``, ``tbt_all_last``, ``tbt_bid_ask``, ``tbt_midpoint``;
``depth[:ROWS[:smart]]`` (10 rows by default); ``bars_5s[:WHAT[:rth]]`` (WHAT one of TRADES,
MIDPOINT, BID, ASK; TRADES by default); ``greeks``. Both ends parse with :func:`parse_kinds`:
the publisher to validate a config or a request, the subscriber library to know which topics a
request will publish on.

Pure: no imports beyond the standard library.
"""

from dataclasses import dataclass
from typing import Final, Literal, TypeAlias

from subscribers.schema import BAR_PREFIX, DEPTH_PREFIX, GREEKS_PREFIX, TBT_PREFIX, TICK_PREFIX

Family: TypeAlias = Literal["l1", "tbt", "depth", "bars", "greeks"]

TBT_TYPES: Final[dict[str, str]] = {
    "tbt_last": "Last",
    "tbt_all_last": "AllLast",
    "tbt_bid_ask": "BidAsk",
    "tbt_midpoint": "MidPoint",
}
"""Each tick-by-tick kind and the ``tickType`` of its reqTickByTickData."""
TBT_PAYLOAD_KINDS: Final[dict[str, str]] = {
    "tbt_last": "last",
    "tbt_all_last": "all_last",
    "tbt_bid_ask": "bid_ask",
    "tbt_midpoint": "midpoint",
}
"""Each tick-by-tick kind and the ``kind`` its ``tbt`` payloads carry."""
BAR_WHATS: Final = ("TRADES", "MIDPOINT", "BID", "ASK")
DEFAULT_DEPTH_ROWS: Final = 10
MAX_DEPTH_ROWS: Final = 100
"""More rows than any IB venue serves; a larger ROWS is a typo, refused."""

_PREFIXES: Final[dict[Family, str]] = {
    "l1": TICK_PREFIX,
    "tbt": TBT_PREFIX,
    "depth": DEPTH_PREFIX,
    "bars": BAR_PREFIX,
    "greeks": GREEKS_PREFIX,
}


class KindError(ValueError):
    """A data kind that is not in the grammar; the message says what is wrong with it."""


@dataclass(frozen=True, slots=True)
class DataKind:
    """One parsed data kind. ``name`` is its canonical spelling (parameters spelled out)."""

    family: Family
    name: str
    tbt_type: str = ""
    """reqTickByTickData's tickType (``Last``, ``AllLast``, ``BidAsk``, ``MidPoint``)."""
    rows: int = 0
    """Depth: reqMktDepth's numRows."""
    smart: bool = False
    """Depth: isSmartDepth."""
    what: str = ""
    """Bars: reqRealTimeBars's whatToShow."""
    rth: bool = False
    """Bars: useRTH."""

    @property
    def prefix(self) -> str:
        """The topic prefix this kind publishes on (``tick.``, ``tbt.``, ...)."""
        return _PREFIXES[self.family]

    def topic(self, key: str) -> str:
        """The topic of this kind for instrument ``key``."""
        return _PREFIXES[self.family] + key


def parse_kind(text: str) -> DataKind:
    """Parse one kind name; raises :class:`KindError` naming what is wrong."""
    if not isinstance(text, str) or not text:
        raise KindError(f"a data kind must be a non-empty string, not {text!r}")
    head, *params = text.split(":")
    if head == "l1" or head == "greeks":
        if params:
            raise KindError(f"{text!r}: {head} takes no parameters")
        return DataKind(family="l1" if head == "l1" else "greeks", name=head)
    if head in TBT_TYPES:
        if params:
            raise KindError(f"{text!r}: {head} takes no parameters")
        return DataKind(family="tbt", name=head, tbt_type=TBT_TYPES[head])
    if head == "depth":
        return _depth(text, params)
    if head == "bars_5s":
        return _bars(text, params)
    known = "l1, tbt_last, tbt_all_last, tbt_bid_ask, tbt_midpoint, depth, bars_5s, greeks"
    raise KindError(f"unknown data kind {text!r} (known: {known})")


def _depth(text: str, params: list[str]) -> DataKind:
    if len(params) > 2:
        raise KindError(f"{text!r}: depth takes at most ROWS and 'smart' (depth[:ROWS[:smart]])")
    rows = DEFAULT_DEPTH_ROWS
    if params:
        if not params[0].isdigit():
            raise KindError(f"{text!r}: ROWS must be a whole number, not {params[0]!r}")
        rows = int(params[0])
        if not 1 <= rows <= MAX_DEPTH_ROWS:
            raise KindError(f"{text!r}: ROWS must be 1 to {MAX_DEPTH_ROWS}, not {rows}")
    smart = False
    if len(params) == 2:
        if params[1] != "smart":
            raise KindError(f"{text!r}: the third part may only be 'smart', not {params[1]!r}")
        smart = True
    name = f"depth:{rows}:smart" if smart else f"depth:{rows}"
    return DataKind(family="depth", name=name, rows=rows, smart=smart)


def _bars(text: str, params: list[str]) -> DataKind:
    if len(params) > 2:
        raise KindError(f"{text!r}: bars_5s takes at most WHAT and 'rth' (bars_5s[:WHAT[:rth]])")
    what = params[0].upper() if params else "TRADES"
    if what not in BAR_WHATS:
        raise KindError(f"{text!r}: WHAT must be one of {', '.join(BAR_WHATS)}, not {what!r}")
    rth = False
    if len(params) == 2:
        if params[1] != "rth":
            raise KindError(f"{text!r}: the third part may only be 'rth', not {params[1]!r}")
        rth = True
    name = f"bars_5s:{what}:rth" if rth else f"bars_5s:{what}"
    return DataKind(family="bars", name=name, what=what, rth=rth)


def parse_kinds(texts: list[str] | tuple[str, ...]) -> tuple[DataKind, ...]:
    """Parse an instrument's ``data`` list, in order, refusing an empty list and conflicts.

    Two kinds conflict when they would publish on one topic with different requests: two
    ``depth`` kinds or two ``bars_5s`` kinds. Tick-by-tick kinds share ``tbt.<key>`` (each
    payload says its ``kind``), so any set of them is fine; a kind named twice is refused.
    """
    if not isinstance(texts, list | tuple) or not texts:
        raise KindError('data must be a non-empty list of data kinds, e.g. ["l1"]')
    kinds = tuple(parse_kind(text) for text in texts)
    seen: set[str] = set()
    for kind in kinds:
        if kind.name in seen:
            raise KindError(f"data kind {kind.name!r} is named twice")
        seen.add(kind.name)
    for family in ("depth", "bars"):
        named = [kind.name for kind in kinds if kind.family == family]
        if len(named) > 1:
            raise KindError(f"only one {family} kind per instrument, not {', '.join(named)}")
    return kinds


def topics(kinds: tuple[DataKind, ...], key: str) -> list[str]:
    """The topics an instrument with ``kinds`` publishes on, in order, each once."""
    out: list[str] = []
    for kind in kinds:
        topic = kind.topic(key)
        if topic not in out:
            out.append(topic)
    return out

"""The topics an on-demand request will most likely be granted, known before it is sent.

The publisher names an instrument requested without ``key`` by a fixed rule (docs/configuration:
``SYMBOL`` for a stock, ``SYMBOL.CURRENCY`` for FX, a future's local symbol or
``SYMBOL.LAST_TRADE_DATE``, ``SYMBOL.DATE.<C|P><strike>`` for an option). The subscriber
subscribes to those topics *before* it sends the request, so that the first messages the
publisher sends after granting it cannot pass before the subscription reaches the publisher;
the reply's ``topics`` are the truth, and the subscriber adjusts to them (a wrong guess costs
only a subscription taken back). Pure: no sockets.
"""

import re
from typing import Final

from msgspec import UNSET

from subscribers.kinds import KindError, parse_kinds, topics
from subscribers.schema import ControlInstrument

_NOT_KEY_CHARS: Final = re.compile(r"[^A-Za-z0-9._-]+")
_OPTION_TYPES: Final = frozenset({"OPT", "FOP"})


def likely_key(instrument: ControlInstrument) -> str | None:
    """The key the publisher will most likely give ``instrument``; None when it cannot be told
    (e.g. only a ``con_id``)."""
    if isinstance(instrument.key, str):
        return instrument.key
    symbol = instrument.symbol if isinstance(instrument.symbol, str) else ""
    sec_type = instrument.sec_type if isinstance(instrument.sec_type, str) else "STK"
    local = instrument.local_symbol if isinstance(instrument.local_symbol, str) else ""
    date = instrument.last_trade_date if isinstance(instrument.last_trade_date, str) else ""
    raw = ""
    if sec_type == "CASH":
        if symbol and isinstance(instrument.currency, str):
            raw = f"{symbol}.{instrument.currency}"
    elif sec_type == "FUT":
        raw = local or (f"{symbol}.{date}" if symbol and date else "")
    elif sec_type in _OPTION_TYPES:
        right, strike = instrument.right, instrument.strike
        if symbol and date and isinstance(right, str) and right and strike is not UNSET:
            raw = f"{symbol}.{date}.{right[0]}{strike:g}"
    else:
        raw = symbol
    if not raw:
        raw = local
    return _NOT_KEY_CHARS.sub("_", raw)[:64] or None


def likely_topics(instrument: ControlInstrument, data: tuple[str, ...]) -> list[str]:
    """The topics a request for ``instrument`` with ``data`` will most likely be granted
    (empty when the key cannot be told, or ``data`` does not parse: the publisher will say)."""
    key = likely_key(instrument)
    if key is None:
        return []
    try:
        kinds = parse_kinds(list(data))
    except KindError:
        return []
    return topics(kinds, key)

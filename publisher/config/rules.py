"""The rules a setting's value follows: IB's vocabularies, dates, topic keys.

Pure functions, values in and values out: each ``*_problem`` returns the problem as the text a
:class:`~publisher.errors.ConfigError` shows, or ``None`` when the value is fine. The value
objects (:mod:`publisher.config.model`) and the loader (:mod:`publisher.config.loading`) share
them, so a value refused in code and one refused in a file are refused in the same words.

Endpoints and listen addresses follow :mod:`publisher.endpoints`, the one grammar for all of ibpub.
"""

import difflib
import re
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Final

__all__ = [
    "KEY_PATTERN",
    "KEY_RULE",
    "MARKET_DATA_TYPES",
    "MAX_INT32",
    "OPTION_TYPES",
    "RIGHTS",
    "SEC_TYPES",
    "date_problem",
    "derive_key",
    "sanitize_key",
    "suggest",
]

KEY_PATTERN: Final = re.compile(r"[A-Za-z0-9._-]{1,64}")
"""Instrument keys and publisher names (they become topic segments): use ``fullmatch``."""
KEY_RULE: Final = "1 to 64 of the characters A-Z a-z 0-9 . _ -"
_NOT_KEY_CHARS: Final = re.compile(r"[^A-Za-z0-9._-]+")

OPTION_TYPES: Final = frozenset({"OPT", "FOP"})
"""Security types whose contract needs an expiry, a right and a strike."""

MARKET_DATA_TYPES: Final[Mapping[str, int]] = {
    "live": 1,
    "frozen": 2,
    "delayed": 3,
    "delayed-frozen": 4,
}
"""``gateway.market_data_type`` names and the ids ``reqMarketDataType`` takes."""

SEC_TYPES: Final[tuple[str, ...]] = (
    "STK",  # stock or ETF
    "OPT",  # option
    "FUT",  # future
    "CONTFUT",  # continuous future
    "IND",  # index
    "FOP",  # future option
    "CASH",  # forex pair
    "CFD",
    "BAG",  # combo: needs legs, which a configuration cannot describe (refused below)
    "WAR",  # warrant
    "IOPT",  # structured product (Dutch warrant)
    "BOND",
    "CMDTY",  # commodity
    "NEWS",
    "FUND",  # mutual fund
    "CRYPTO",
    "EVENT",  # event contract
)
"""IB's security types (``Contract.secType``), as the TWS API documentation lists them."""

RIGHTS: Final[tuple[str, ...]] = ("", "C", "P", "CALL", "PUT")
"""``right`` of an option: none, call or put."""

MAX_INT32: Final = 2**31 - 1
"""The largest client id and send high-water mark (IB and ZeroMQ take a signed 32-bit int)."""


def suggest(value: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest choice, or nothing."""
    options = list(choices)
    for option in options:
        if option and option.casefold() == value.casefold():
            return f" (did you mean {option!r}?)"
    close = difflib.get_close_matches(value, options, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


# -- contract fields -------------------------------------------------------------------------------


def date_problem(text: str) -> str | None:
    """Whether ``text`` is a plausible ``YYYYMM`` or ``YYYYMMDD`` (an expiry or contract month)."""
    if not re.fullmatch(r"[0-9]{6}|[0-9]{8}", text):
        return f"expected YYYYMM or YYYYMMDD, got {text!r}"
    year, month = int(text[:4]), int(text[4:6])
    if not 1900 <= year <= 2199:
        return f"year {year} in {text!r} is implausible"
    if not 1 <= month <= 12:
        return f"month {month:02d} in {text!r} is not 01..12"
    if len(text) == 8:
        try:
            date(year, month, int(text[6:]))
        except ValueError:
            return f"{text!r} is not a calendar date"
    return None


# -- instrument keys ---------------------------------------------------------------------------


def sanitize_key(text: str) -> str:
    """``text`` made into a key: each run of other characters becomes ``_``, cut to 64."""
    return _NOT_KEY_CHARS.sub("_", text)[:64]


def derive_key(
    sec_type: str,
    symbol: str,
    *,
    currency: str = "",
    local_symbol: str = "",
    last_trade_date: str = "",
    right: str = "",
    strike: float = 0.0,
    con_id: int = 0,
) -> str:
    """The topic key of an instrument configured without ``key``.

    * CASH: ``SYMBOL.CURRENCY`` (``EUR.USD``)
    * FUT: ``local_symbol`` if set, else ``SYMBOL.LAST_TRADE_DATE`` (``ES.202612``)
    * OPT, FOP: ``SYMBOL.LAST_TRADE_DATE.<C|P><strike:g>`` (``AAPL.20261218.C200``)
    * everything else (STK, IND, CRYPTO, CONTFUT, CMDTY, ...): ``SYMBOL``

    When the rule's fields are missing (possible only with ``con_id``), the key is
    ``local_symbol``, else the ``con_id``. The result is passed through :func:`sanitize_key`.
    """
    raw = ""
    if sec_type == "CASH" and symbol and currency:
        raw = f"{symbol}.{currency}"
    elif sec_type == "FUT":
        if local_symbol:
            raw = local_symbol
        elif symbol and last_trade_date:
            raw = f"{symbol}.{last_trade_date}"
    elif sec_type in OPTION_TYPES:
        if symbol and last_trade_date and right and strike:
            raw = f"{symbol}.{last_trade_date}.{right[0]}{strike:g}"
    else:
        raw = symbol
    if not raw:
        raw = local_symbol or (str(con_id) if con_id else symbol)
    return sanitize_key(raw)

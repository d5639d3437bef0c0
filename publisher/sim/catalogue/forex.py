"""The built-in currency pairs on IDEALPRO: the majors and the main euro crosses. Data.

The conIds are IB's (the ones ib_async users qualify these pairs to); none here is synthetic.
Prices are plausible levels where the random walk starts; minTicks are IDEALPRO's half pip
(``0.00005``, and ``0.005`` for the yen pairs).
"""

from dataclasses import replace
from typing import Final

from publisher.sim.catalogue.contracts import Instrument, forex

__all__ = ["FOREX", "FOREX_PAIRS"]

_Pair = tuple[str, int, float, str, float]
"""local symbol, conId, start price, long name, minTick."""

_PAIRS: Final[tuple[_Pair, ...]] = (
    ("EUR.USD", 12087792, 1.165, "European Monetary Union Euro", 0.00005),
    ("GBP.USD", 12087797, 1.335, "British pound", 0.00005),
    ("USD.JPY", 15016059, 154.5, "US dollar", 0.005),
    ("USD.CHF", 12087820, 0.805, "US dollar", 0.00005),
    ("AUD.USD", 14433401, 0.655, "Australian dollar", 0.00005),
    ("USD.CAD", 15016062, 1.395, "US dollar", 0.00005),
    ("NZD.USD", 39453441, 0.575, "New Zealand dollar", 0.00005),
    ("EUR.GBP", 12087807, 0.873, "European Monetary Union Euro", 0.00005),
    ("EUR.JPY", 14321016, 180.0, "European Monetary Union Euro", 0.005),
    ("EUR.CHF", 12087817, 0.938, "European Monetary Union Euro", 0.00005),
    ("GBP.JPY", 14321015, 206.2, "British pound", 0.005),
)

FOREX_PAIRS: Final = tuple(pair[0] for pair in _PAIRS)
NO_DEPTH: Final = frozenset({"EUR.CHF"})
"""Pairs without depth: reqMktDepth gets error 10092 (the simulator's contract for that error)."""
FOREX: Final[tuple[Instrument, ...]] = tuple(
    replace(forex(*pair), depth=pair[0] not in NO_DEPTH) for pair in _PAIRS
)

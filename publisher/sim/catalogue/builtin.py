"""The built-in catalogue: what a demo user would ask IB for. Data, joined from the tables.

The S&P 100 stocks and the main index ETFs (:mod:`~publisher.sim.catalogue.equities`), ES, NQ,
CL and GC over several months (:mod:`~publisher.sim.catalogue.futures`), the major currency
pairs (:mod:`~publisher.sim.catalogue.forex`), option chains on AAPL and SPY
(:mod:`~publisher.sim.catalogue.options`). An instrument whose ``synthetic`` flag is set has
a made-up conId (every future, and the stocks whose real conId is not known here); the others
carry IB's. ``ibpub sim --list-contracts`` prints it.
"""

from typing import Final

from publisher.sim.catalogue.contracts import Instrument
from publisher.sim.catalogue.equities import EQUITIES
from publisher.sim.catalogue.forex import FOREX
from publisher.sim.catalogue.futures import FUTURES
from publisher.sim.catalogue.options import OPTIONS

__all__ = ["BUILTIN"]

BUILTIN: Final[tuple[Instrument, ...]] = EQUITIES + FUTURES + FOREX + OPTIONS
"""Stocks and ETFs, then futures, then currency pairs, then the AAPL and SPY option chains."""

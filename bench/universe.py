"""The instruments the memory soak's wide run adds: synthetic US stocks, each its own conId.

``bench --soak`` measures the publisher's memory with the simulator's catalogue (144 stocks,
futures and FX) and again with :data:`WIDE` instruments: the catalogue plus
``WIDE - 144`` stocks made here (``SYN0001``, ``SYN0002``, ...; NASDAQ-listed, routed SMART,
prices spread over 10-500 USD). Their conIds are the simulator's synthetic ones
(:func:`publisher.sim.catalogue.synthetic_con_id`): the feeder serves their contract details
and market data like any other contract's. Pure.
"""

from typing import Final

from publisher.sim import Catalogue
from publisher.sim.catalogue import Instrument
from publisher.sim.catalogue.contracts import stock

WIDE: Final = 1_000
"""Instruments of the soak's wide run (issue 15, target 6: the peak for 1,000 instruments)."""
PREFIX: Final = "SYN"


def served() -> tuple[Instrument, ...]:
    """The catalogue's instruments the bench configures: all but the options."""
    return tuple(i for i in Catalogue.builtin() if i.spec.sec_type != "OPT")


def synthetic_stocks(count: int) -> tuple[Instrument, ...]:
    """``count`` made-up stocks, the same ones every time."""
    return tuple(
        stock(f"{PREFIX}{n:04d}", "NASDAQ", 0, 10.0 + (n * 37) % 490, f"Synthetic stock {n}")
        for n in range(1, count + 1)
    )


def widened(total: int) -> tuple[Instrument, ...]:
    """:func:`served` plus enough synthetic stocks to make ``total`` (at least :func:`served`)."""
    base = served()
    return base + synthetic_stocks(max(0, total - len(base)))

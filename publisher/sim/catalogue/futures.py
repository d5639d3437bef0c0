"""The built-in futures: E-mini S&P 500, E-mini Nasdaq-100, WTI crude and gold, several months each.

The months are fixed, not rolled from today's date, so that tests, configs and demos name the
same contracts whenever they run: they are the months listed on the reference date
:data:`REFERENCE_DATE` (1 December 2026), namely the next four quarterly ES and NQ, the next six
monthly CL and the next four active (even-month) GC. Last trading days follow each exchange's
rule for those months (ES/NQ: the third Friday; CL: three business days before the 25th of the
month before delivery; GC: the third-last business day of the month). As they expire the table
is to be moved on, like an IB account's contract list.

A request without an expiry (``ES`` FUT on CME) matches every month of its root, as IB answers
it, so a client must choose (by expiry, local symbol or conId). All conIds here are made up:
ESZ6, ESH7, CLF7 and CLG7 carry the ones this catalogue has always had (tests and configs name
them); the others come from :func:`~publisher.sim.catalogue.contracts.synthetic_con_id`. Data.
"""

from typing import Final

from publisher.sim.catalogue.contracts import FutureRoot, Instrument, future, synthetic_con_id

__all__ = ["FUTURES", "REFERENCE_DATE"]

REFERENCE_DATE: Final = "20261201"
"""The date on which these months are the listed ones (every expiry is after it)."""

ES: Final = FutureRoot("ES", "CME", "50", 0.25, "E-mini S&P 500", 11004968, "67")
NQ: Final = FutureRoot(
    "NQ", "CME", "20", 0.25, "E-mini Nasdaq-100", synthetic_con_id("IND", "NDX"), "67"
)
CL: Final = FutureRoot(
    "CL", "NYMEX", "1000", 0.01, "Light Sweet Crude Oil", 17340715, "32", "US/Eastern"
)
GC: Final = FutureRoot(
    "GC", "COMEX", "100", 0.1, "Gold", synthetic_con_id("IND", "XAU"), "32", "US/Eastern"
)

_Month = tuple[FutureRoot, str, str, str, float, int]
"""root, local symbol, last trade date, contract month, start price, conId (0: synthetic)."""

_MONTHS: Final[tuple[_Month, ...]] = (
    (ES, "ESZ6", "20261218", "202612", 6850.0, 649180695),
    (ES, "ESH7", "20270319", "202703", 6905.0, 672387468),
    (ES, "ESM7", "20270618", "202706", 6960.0, 0),
    (ES, "ESU7", "20270917", "202709", 7015.0, 0),
    (NQ, "NQZ6", "20261218", "202612", 25400.0, 0),
    (NQ, "NQH7", "20270319", "202703", 25620.0, 0),
    (NQ, "NQM7", "20270618", "202706", 25840.0, 0),
    (NQ, "NQU7", "20270917", "202709", 26060.0, 0),
    (CL, "CLF7", "20261221", "202701", 64.50, 692845150),
    (CL, "CLG7", "20270120", "202702", 64.80, 698563121),
    (CL, "CLH7", "20270222", "202703", 65.05, 0),
    (CL, "CLJ7", "20270322", "202704", 65.25, 0),
    (CL, "CLK7", "20270420", "202705", 65.40, 0),
    (CL, "CLM7", "20270520", "202706", 65.50, 0),
    (GC, "GCZ6", "20261229", "202612", 4200.0, 0),
    (GC, "GCG7", "20270224", "202702", 4225.0, 0),
    (GC, "GCJ7", "20270428", "202704", 4250.0, 0),
    (GC, "GCM7", "20270628", "202706", 4275.0, 0),
)

FUTURES: Final[tuple[Instrument, ...]] = tuple(
    future(root, local, last, month, price, con_id, synthetic=True)
    for root, local, last, month, price, con_id in _MONTHS
)
"""Every future month, flagged synthetic: none of their conIds is IB's."""

"""The catalogue: an immutable set of contracts, and how a client's request picks among them.

Matching follows IB's reqContractDetails rules closely enough that ib_async's
``qualifyContracts`` behaves as it does against a real gateway, including several matches for an
under-specified future. Pure.
"""

from collections.abc import Iterable, Iterator

from publisher.sim.catalogue.builtin import BUILTIN
from publisher.sim.catalogue.contracts import Instrument
from publisher.sim.protocol import ContractQuery

__all__ = ["Catalogue"]


class Catalogue:
    """An immutable set of instruments with IB-like lookup; conIds are unique."""

    __slots__ = ("_by_con_id",)

    def __init__(self, instruments: Iterable[Instrument]) -> None:
        by_con_id: dict[int, Instrument] = {}
        for instrument in instruments:
            if instrument.con_id in by_con_id:
                raise ValueError(f"duplicate con_id {instrument.con_id}")
            by_con_id[instrument.con_id] = instrument
        self._by_con_id = by_con_id

    @classmethod
    def builtin(cls) -> "Catalogue":
        """The built-in contracts (:data:`BUILTIN`)."""
        return cls(BUILTIN)

    def merged(self, instruments: Iterable[Instrument]) -> "Catalogue":
        """A new catalogue with ``instruments`` added; same conId replaces the existing entry."""
        combined = dict(self._by_con_id)
        for instrument in instruments:
            combined[instrument.con_id] = instrument
        return Catalogue(combined.values())

    def __len__(self) -> int:
        return len(self._by_con_id)

    def __iter__(self) -> Iterator[Instrument]:
        return iter(self._by_con_id.values())

    def by_con_id(self, con_id: int) -> Instrument | None:
        """The instrument with this conId, if any."""
        return self._by_con_id.get(con_id)

    def match(self, query: ContractQuery) -> tuple[Instrument, ...]:
        """Every instrument the request could mean, as reqContractDetails would return them.

        A non-zero conId decides alone (the exchange must still be valid for it). Otherwise the
        given fields must all agree: symbol, secType, currency, exchange (the listing exchange or
        one of its valid exchanges), primary exchange, localSymbol, tradingClass, multiplier, and
        for futures a prefix of the expiry (``202612`` or ``20261218``).
        """
        if query.con_id:
            found = self._by_con_id.get(query.con_id)
            if found is None or (query.exchange and not found.accepts_exchange(query.exchange)):
                return ()
            return (found.on_exchange(query.exchange),)
        if not (query.symbol or query.local_symbol):
            return ()
        return tuple(
            instrument.on_exchange(query.exchange)
            for instrument in self._by_con_id.values()
            if _fields_agree(instrument, query)
        )


def _fields_agree(instrument: Instrument, query: ContractQuery) -> bool:
    spec = instrument.spec
    checks = (
        (query.symbol, spec.symbol),
        (query.sec_type, spec.sec_type),
        (query.currency, spec.currency),
        (query.local_symbol, spec.local_symbol),
        (query.trading_class, spec.trading_class),
        (query.right, spec.right),
    )
    if any(given and given.upper() != actual.upper() for given, actual in checks):
        return False
    if query.exchange and not instrument.accepts_exchange(query.exchange):
        return False
    if query.primary_exchange and spec.primary_exchange not in ("", query.primary_exchange):
        return False
    if query.multiplier and not _same_number(query.multiplier, spec.multiplier):
        return False
    if query.strike and query.strike != spec.strike:
        return False
    expiry = query.last_trade_date_or_contract_month
    if not expiry:
        return True
    # As IB reads it: six digits name the contract month (CL "202701" is CLF7, which stops
    # trading in December 2026); eight digits name the last trading day.
    if len(expiry) == 6:
        return spec.contract_month == expiry
    return spec.last_trade_date.startswith(expiry)


def _same_number(given: str, actual: str) -> bool:
    try:
        return float(given) == float(actual)
    except ValueError:
        return given == actual

"""The contracts the simulated gateway knows, and how a client's request picks among them.

A built-in set covers what demos and tests need (US stocks and ETFs, E-mini S&P and crude oil
futures, EUR.USD); a TOML or JSON file can add more or replace built-ins by ``con_id``. Matching
follows IB's reqContractDetails rules closely enough that ib_async's ``qualifyContracts`` behaves
as it does against a real gateway, including several matches for an under-specified future.

File format (TOML shown; JSON is ``{"contracts": [{...}, ...]}`` or a bare list)::

    [[contracts]]
    con_id = 4391
    symbol = "AMD"
    sec_type = "STK"
    exchange = "SMART"
    primary_exchange = "NASDAQ"
    currency = "USD"
    price = 160.0        # where the random walk starts
    # optional: lot (size granularity), min_tick, local_symbol, trading_class, multiplier,
    # last_trade_date, long_name, valid_exchanges, sec_ids = {ISIN = "..."}, and every
    # other ContractSpec field name.
"""

import json
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Final

from publisher.errors import IbpubError
from publisher.sim.protocol import ContractQuery, ContractSpec


class CatalogueError(IbpubError, ValueError):
    """A catalogue file could not be used; names the file, the key and the problem."""

    def __init__(self, path: Path | str, key: str, problem: str) -> None:
        where = f"{path}: {key}" if key else str(path)
        super().__init__(f"{where}: {problem}")
        self.path = str(path)
        self.key = key
        self.problem = problem


@dataclass(frozen=True, slots=True)
class Instrument:
    """One tradable contract: its contract details plus where its simulated market starts."""

    spec: ContractSpec
    price: float
    lot: int = 100

    def __post_init__(self) -> None:
        if self.price <= 0 or self.spec.min_tick <= 0 or self.lot <= 0:
            raise ValueError(f"{self.spec.local_symbol}: price, min_tick and lot must be > 0")

    @property
    def con_id(self) -> int:
        """IB's contract id."""
        return self.spec.con_id

    def accepts_exchange(self, exchange: str) -> bool:
        """Whether a request naming ``exchange`` can mean this contract."""
        if exchange == self.spec.exchange:
            return True
        return exchange in self.spec.valid_exchanges.split(",")

    def on_exchange(self, exchange: str) -> "Instrument":
        """This contract as quoted on ``exchange`` (IB echoes the requested exchange)."""
        if not exchange or exchange == self.spec.exchange:
            return self
        return replace(self, spec=replace(self.spec, exchange=exchange))


_STOCK_ORDER_TYPES: Final = (
    "ACTIVETIM,AD,ALGO,ALLOC,AON,COND,DAY,GAT,GTC,GTD,IOC,LIT,LMT,LOC,MIT,MKT,MOC,MTL,OCA,OPG,"
    "REL,RTH,SCALE,STP,STPLMT,TRAIL,TRAILLIT,TRAILLMT,TRAILMIT,WHATIF"
)
_STOCK_EXCHANGES: Final = (
    "SMART,AMEX,NYSE,CBOE,PHLX,ISE,CHX,ARCA,NASDAQ,DRCTEDGE,BEX,BATS,EDGEA,BYX,IEX,EDGX,"
    "FOXRIVER,PEARL,NYSENAT,LTSE,MEMX,IBEOS,OVERNIGHT,TPLUS0,PSX"
)
_FUTURE_ORDER_TYPES: Final = (
    "ACTIVETIM,AD,ALERT,ALGO,ALLOC,COND,DAY,GAT,GTC,GTD,GTT,HID,ICE,IOC,LIT,LMT,MIT,MKT,MTL,OCA,"
    "SCALE,STP,STPLMT,TRAIL,TRAILLIT,TRAILLMT,TRAILMIT,WHATIF"
)
_FX_ORDER_TYPES: Final = (
    "ACTIVETIM,AD,ALERT,ALGO,ALLOC,CASHQTY,COND,DAY,GAT,GTC,GTD,GTT,HID,IOC,LIT,LMT,MIT,MKT,OCA,"
    "REL,SCALE,STP,STPLMT,TRAIL,TRAILLIT,TRAILLMT,TRAILMIT,WHATIF"
)
_NO_EXPIRY_AGG_GROUP: Final = 2147483647  # what TWS reports as aggGroup for futures


def _stock(
    con_id: int,
    symbol: str,
    primary: str,
    long_name: str,
    isin: str,
    price: float,
    *,
    trading_class: str = "NMS",
    stock_type: str = "COMMON",
    industry: str = "Technology",
    category: str = "Computers",
) -> Instrument:
    spec = ContractSpec(
        con_id=con_id,
        symbol=symbol,
        sec_type="STK",
        exchange="SMART",
        currency="USD",
        local_symbol=symbol,
        trading_class=trading_class,
        primary_exchange=primary,
        min_tick=0.01,
        market_name=trading_class,
        long_name=long_name,
        industry=industry,
        category=category,
        subcategory=category,
        time_zone_id="US/Eastern",
        order_types=_STOCK_ORDER_TYPES,
        valid_exchanges=_STOCK_EXCHANGES,
        market_rule_ids=",".join(["26"] * len(_STOCK_EXCHANGES.split(","))),
        stock_type=stock_type,
        min_size="0.0001",
        size_increment="0.0001",
        suggested_size_increment="100",
        sec_ids=(("ISIN", isin),),
    )
    return Instrument(spec, price, lot=100)


def _future(
    con_id: int,
    symbol: str,
    local_symbol: str,
    exchange: str,
    last_trade_date: str,
    contract_month: str,
    *,
    multiplier: str,
    min_tick: float,
    long_name: str,
    under_con_id: int,
    market_rule: str,
    price: float,
) -> Instrument:
    spec = ContractSpec(
        con_id=con_id,
        symbol=symbol,
        sec_type="FUT",
        exchange=exchange,
        currency="USD",
        local_symbol=local_symbol,
        trading_class=symbol,
        last_trade_date=last_trade_date,
        multiplier=multiplier,
        min_tick=min_tick,
        market_name=symbol,
        long_name=long_name,
        contract_month=contract_month,
        time_zone_id="US/Central",
        order_types=_FUTURE_ORDER_TYPES,
        valid_exchanges=f"{exchange},QBALGO",
        under_con_id=under_con_id,
        under_symbol=symbol,
        under_sec_type="IND",
        agg_group=_NO_EXPIRY_AGG_GROUP,
        market_rule_ids=f"{market_rule},{market_rule}",
        real_expiration_date=last_trade_date,
    )
    return Instrument(spec, price, lot=1)


BUILTIN: Final[tuple[Instrument, ...]] = (
    _stock(265598, "AAPL", "NASDAQ", "APPLE INC", "US0378331005", 230.0),
    _stock(272093, "MSFT", "NASDAQ", "MICROSOFT CORP", "US5949181045", 510.0),
    _stock(
        756733,
        "SPY",
        "ARCA",
        "SPDR S&P 500 ETF TRUST",
        "US78462F1030",
        680.0,
        trading_class="SPY",
        stock_type="ETF",
        industry="Funds",
        category="Equity Fund",
    ),
    _stock(
        320227571,
        "QQQ",
        "NASDAQ",
        "INVESCO QQQ TRUST SERIES 1",
        "US46090E1038",
        610.0,
        stock_type="ETF",
        industry="Funds",
        category="Equity Fund",
    ),
    # E-mini S&P 500: quarterly, last trade on the third Friday of the contract month.
    _future(
        649180695,
        "ES",
        "ESZ6",
        "CME",
        "20261218",
        "202612",
        multiplier="50",
        min_tick=0.25,
        long_name="E-mini S&P 500",
        under_con_id=11004968,
        market_rule="67",
        price=6850.0,
    ),
    _future(
        672387468,
        "ES",
        "ESH7",
        "CME",
        "20270319",
        "202703",
        multiplier="50",
        min_tick=0.25,
        long_name="E-mini S&P 500",
        under_con_id=11004968,
        market_rule="67",
        price=6905.0,
    ),
    # WTI crude: monthly, last trade a few business days before the 25th of the prior month.
    _future(
        692845150,
        "CL",
        "CLF7",
        "NYMEX",
        "20261221",
        "202701",
        multiplier="1000",
        min_tick=0.01,
        long_name="Light Sweet Crude Oil",
        under_con_id=17340715,
        market_rule="32",
        price=64.50,
    ),
    _future(
        698563121,
        "CL",
        "CLG7",
        "NYMEX",
        "20270120",
        "202702",
        multiplier="1000",
        min_tick=0.01,
        long_name="Light Sweet Crude Oil",
        under_con_id=17340715,
        market_rule="32",
        price=64.80,
    ),
    Instrument(
        ContractSpec(
            con_id=12087792,
            symbol="EUR",
            sec_type="CASH",
            exchange="IDEALPRO",
            currency="USD",
            local_symbol="EUR.USD",
            trading_class="EUR.USD",
            min_tick=0.00005,
            market_name="EUR.USD",
            long_name="European Monetary Union Euro",
            time_zone_id="US/Eastern",
            order_types=_FX_ORDER_TYPES,
            valid_exchanges="IDEALPRO",
            market_rule_ids="239",
            min_size="0.01",
            size_increment="0.01",
            suggested_size_increment="20000",
        ),
        price=1.165,
        lot=100000,
    ),
)
"""The built-in catalogue. Stock, ETF and EUR.USD conIds are IB's; future conIds are made up."""


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


# ---------------------------------------------------------------------------------------------
# Loading from a file

_SPEC_FIELDS: Final = {f.name: f for f in fields(ContractSpec)}
_INT_KEYS: Final = frozenset({"con_id", "price_magnifier", "under_con_id", "agg_group", "lot"})
_FLOAT_KEYS: Final = frozenset({"strike", "min_tick", "price"})
_REQUIRED: Final = ("con_id", "symbol", "sec_type", "exchange", "currency", "price")
_ALLOWED: Final = frozenset(_SPEC_FIELDS) | {"price", "lot"}


def load_instruments(path: Path | str) -> tuple[Instrument, ...]:
    """Read the instruments listed in a ``.toml`` or ``.json`` file."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CatalogueError(path, "", f"cannot read: {exc.strerror or exc}") from exc
    suffix = path.suffix.lower()
    try:
        if suffix == ".toml":
            document: Any = tomllib.loads(raw.decode("utf-8"))
        elif suffix == ".json":
            document = json.loads(raw)
        else:
            raise CatalogueError(path, "", "unsupported file type (use .toml or .json)")
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CatalogueError(path, "", f"not valid {suffix[1:].upper()}: {exc}") from exc
    entries = document.get("contracts") if isinstance(document, dict) else document
    if isinstance(document, dict) and set(document) - {"contracts"}:
        unknown = sorted(set(document) - {"contracts"})[0]
        raise CatalogueError(path, unknown, "unknown key (expected only 'contracts')")
    if not isinstance(entries, list):
        raise CatalogueError(path, "contracts", "must be a list of contract tables")
    instruments = [_instrument(path, f"contracts[{i}]", entry) for i, entry in enumerate(entries)]
    seen: set[int] = set()
    for i, instrument in enumerate(instruments):
        if instrument.con_id in seen:
            raise CatalogueError(path, f"contracts[{i}].con_id", "duplicate con_id in this file")
        seen.add(instrument.con_id)
    return tuple(instruments)


def load_catalogue(path: Path | str, base: Catalogue | None = None) -> Catalogue:
    """The built-in catalogue (or ``base``) extended by the contracts in ``path``."""
    return (base or Catalogue.builtin()).merged(load_instruments(path))


def _instrument(path: Path, where: str, entry: object) -> Instrument:
    if not isinstance(entry, Mapping):
        raise CatalogueError(path, where, "must be a table of contract fields")
    for key in entry:
        if key not in _ALLOWED:
            raise CatalogueError(path, f"{where}.{key}", "unknown key")
    for key in _REQUIRED:
        if key not in entry:
            raise CatalogueError(path, f"{where}.{key}", "required key is missing")
    values = {key: _typed(path, f"{where}.{key}", key, value) for key, value in entry.items()}
    price = values.pop("price")
    lot = values.pop("lot", 1 if values["sec_type"] == "FUT" else 100)
    if values["sec_type"] == "CASH":
        values.setdefault("local_symbol", f"{values['symbol']}.{values['currency']}")
    values.setdefault("local_symbol", values["symbol"])
    values.setdefault("trading_class", values["local_symbol"])
    values.setdefault("market_name", values["trading_class"])
    values.setdefault("valid_exchanges", values["exchange"])
    try:
        return Instrument(ContractSpec(**values), price=price, lot=lot)
    except ValueError as exc:
        raise CatalogueError(path, where, str(exc)) from exc


def _typed(path: Path, where: str, key: str, value: object) -> Any:
    if key == "sec_ids":
        return _sec_ids(path, where, value)
    if key in _INT_KEYS:
        if isinstance(value, bool) or not isinstance(value, int):
            raise CatalogueError(path, where, f"must be an integer, not {value!r}")
        return value
    if key in _FLOAT_KEYS:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise CatalogueError(path, where, f"must be a number, not {value!r}")
        return float(value)
    if not isinstance(value, str):
        raise CatalogueError(path, where, f"must be a string, not {value!r}")
    if not value.isascii():
        raise CatalogueError(path, where, "must be ASCII (the TWS protocol is ASCII)")
    return value


def _sec_ids(path: Path, where: str, value: object) -> tuple[tuple[str, str], ...]:
    pairs: list[tuple[object, object]]
    if isinstance(value, Mapping):
        pairs = list(value.items())
    elif isinstance(value, list) and all(isinstance(p, list) and len(p) == 2 for p in value):
        pairs = [(p[0], p[1]) for p in value]
    else:
        raise CatalogueError(path, where, 'must be a table like {ISIN = "..."}')
    result: list[tuple[str, str]] = []
    for tag, text in pairs:
        if not isinstance(tag, str) or not isinstance(text, str):
            raise CatalogueError(path, where, "tags and values must be strings")
        result.append((tag, text))
    return tuple(result)

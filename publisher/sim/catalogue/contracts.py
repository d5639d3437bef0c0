"""What one contract is, and the builders the built-in tables use to describe contracts.

A builder fills in the contract details a real gateway sends for its kind of contract (order
types, valid exchanges, market rule ids, time zone), so that the tables in
:mod:`~publisher.sim.catalogue.equities`, :mod:`~publisher.sim.catalogue.futures` and
:mod:`~publisher.sim.catalogue.forex` need only a row each, and clients qualify the result as they
would against IB.

Synthetic conIds: where IB's real conId is not known, a table row gives ``0`` and the builder
makes one with :func:`synthetic_con_id` (``9xx_xxx_xxx``, derived from the security type and
local symbol, so it never changes when rows move) and marks the instrument ``synthetic``. Such
a conId means nothing to a real gateway. Pure.
"""

import zlib
from dataclasses import dataclass, replace
from typing import Final

from publisher.sim.protocol import ContractSpec

__all__ = [
    "SYNTHETIC_CON_ID_BASE",
    "FutureRoot",
    "Instrument",
    "forex",
    "future",
    "stock",
    "synthetic_con_id",
]

SYNTHETIC_CON_ID_BASE: Final = 900_000_000
"""Synthetic conIds are ``SYNTHETIC_CON_ID_BASE`` plus up to 99,999,999: far above the conIds IB
has handed out for the contracts in these tables, and still a 32-bit int as the protocol needs."""


def synthetic_con_id(sec_type: str, local_symbol: str) -> int:
    """The made-up conId of a contract whose real one is not known: stable, not IB's."""
    digest = zlib.crc32(f"{sec_type}:{local_symbol}".encode("ascii"))
    return SYNTHETIC_CON_ID_BASE + digest % 100_000_000


@dataclass(frozen=True, slots=True)
class Instrument:
    """One tradable contract: its contract details plus where its simulated market starts."""

    spec: ContractSpec
    price: float
    lot: int = 100
    synthetic: bool = False
    """Whether the conId is made up (see :func:`synthetic_con_id`) rather than IB's."""
    depth: bool = True
    """Whether reqMktDepth is served (else error 10092, as for a contract without depth)."""

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


def stock(
    symbol: str,
    primary: str,
    con_id: int,
    price: float,
    long_name: str,
    *,
    isin: str = "",
    trading_class: str = "NMS",
    stock_type: str = "COMMON",
    industry: str = "",
    category: str = "",
) -> Instrument:
    """A US stock or ETF routed SMART, listed on ``primary``; ``con_id`` 0 makes a synthetic one."""
    synthetic = con_id == 0
    spec = ContractSpec(
        con_id=synthetic_con_id("STK", symbol) if synthetic else con_id,
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
        sec_ids=(("ISIN", isin),) if isin else (),
    )
    return Instrument(spec, price, lot=100, synthetic=synthetic)


@dataclass(frozen=True, slots=True)
class FutureRoot:
    """What every contract month of one future shares."""

    symbol: str
    exchange: str
    multiplier: str
    min_tick: float
    long_name: str
    under_con_id: int
    market_rule: str
    time_zone_id: str = "US/Central"


def future(
    root: FutureRoot,
    local_symbol: str,
    last_trade_date: str,
    contract_month: str,
    price: float,
    con_id: int = 0,
    *,
    synthetic: bool | None = None,
) -> Instrument:
    """One contract month of ``root``; ``con_id`` 0 makes a synthetic one.

    ``synthetic`` overrides the flag for a made-up conId given explicitly (the ones that predate
    :func:`synthetic_con_id` and that tests and configs already name).
    """
    made_up = con_id == 0
    spec = ContractSpec(
        con_id=synthetic_con_id("FUT", local_symbol) if made_up else con_id,
        symbol=root.symbol,
        sec_type="FUT",
        exchange=root.exchange,
        currency="USD",
        local_symbol=local_symbol,
        trading_class=root.symbol,
        last_trade_date=last_trade_date,
        multiplier=root.multiplier,
        min_tick=root.min_tick,
        market_name=root.symbol,
        long_name=root.long_name,
        contract_month=contract_month,
        time_zone_id=root.time_zone_id,
        order_types=_FUTURE_ORDER_TYPES,
        valid_exchanges=f"{root.exchange},QBALGO",
        under_con_id=root.under_con_id,
        under_symbol=root.symbol,
        under_sec_type="IND",
        agg_group=_NO_EXPIRY_AGG_GROUP,
        market_rule_ids=f"{root.market_rule},{root.market_rule}",
        real_expiration_date=last_trade_date,
    )
    flag = made_up if synthetic is None else synthetic
    return Instrument(spec, price, lot=1, synthetic=flag)


def forex(pair: str, con_id: int, price: float, long_name: str, min_tick: float) -> Instrument:
    """A currency pair on IDEALPRO, ``pair`` as IB spells its local symbol (``EUR.USD``)."""
    base, quote = pair.split(".")
    synthetic = con_id == 0
    spec = ContractSpec(
        con_id=synthetic_con_id("CASH", pair) if synthetic else con_id,
        symbol=base,
        sec_type="CASH",
        exchange="IDEALPRO",
        currency=quote,
        local_symbol=pair,
        trading_class=pair,
        min_tick=min_tick,
        market_name=pair,
        long_name=long_name,
        time_zone_id="US/Eastern",
        order_types=_FX_ORDER_TYPES,
        valid_exchanges="IDEALPRO",
        market_rule_ids="239",
        min_size="0.01",
        size_increment="0.01",
        suggested_size_increment="20000",
    )
    return Instrument(spec, price, lot=100000, synthetic=synthetic)

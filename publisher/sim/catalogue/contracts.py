"""The contracts the simulated gateway knows out of the box, and what one contract is.

A built-in set covers what demos and tests need (US stocks and ETFs, E-mini S&P and crude oil
futures, EUR.USD), with the contract details a real gateway sends for them (order types, valid
exchanges, market rule ids), so that clients qualify them as they would against IB. Pure data.
"""

from dataclasses import dataclass, replace
from typing import Final

from publisher.sim.protocol import ContractSpec

__all__ = ["BUILTIN", "Instrument"]


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

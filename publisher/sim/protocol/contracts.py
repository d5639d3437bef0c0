"""Contracts as the wire carries them: what a client asks for, and what we describe."""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ContractQuery:
    """The contract fields a client sends in reqContractDetails / reqMktData (empty = not given)."""

    con_id: int = 0
    symbol: str = ""
    sec_type: str = ""
    last_trade_date_or_contract_month: str = ""
    strike: float = 0.0
    right: str = ""
    multiplier: str = ""
    exchange: str = ""
    primary_exchange: str = ""
    currency: str = ""
    local_symbol: str = ""
    trading_class: str = ""
    include_expired: bool = False
    sec_id_type: str = ""
    sec_id: str = ""


@dataclass(frozen=True, slots=True)
class ContractSpec:
    """Everything contractData (10) carries about one contract, in ibpub's spelling.

    ``last_trade_date`` is ``lastTradeDateOrContractMonth`` (``YYYYMMDD``; empty for stocks and FX).
    Sizes are decimal strings, as on the wire.
    """

    con_id: int
    symbol: str
    sec_type: str
    exchange: str
    currency: str
    local_symbol: str
    trading_class: str = ""
    primary_exchange: str = ""
    last_trade_date: str = ""
    strike: float = 0.0
    right: str = ""
    multiplier: str = ""
    min_tick: float = 0.01
    market_name: str = ""
    long_name: str = ""
    contract_month: str = ""
    industry: str = ""
    category: str = ""
    subcategory: str = ""
    time_zone_id: str = "US/Eastern"
    trading_hours: str = ""
    liquid_hours: str = ""
    order_types: str = "LMT,MKT,STP"
    valid_exchanges: str = ""
    price_magnifier: int = 1
    under_con_id: int = 0
    under_symbol: str = ""
    under_sec_type: str = ""
    agg_group: int = 1
    market_rule_ids: str = ""
    real_expiration_date: str = ""
    stock_type: str = ""
    min_size: str = "1"
    size_increment: str = "1"
    suggested_size_increment: str = "1"
    sec_ids: tuple[tuple[str, str], ...] = ()

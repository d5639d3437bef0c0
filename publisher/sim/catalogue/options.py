"""The built-in option chains: a few expiries and strikes on AAPL and SPY. Data.

Like the futures, the months are fixed on :data:`~publisher.sim.catalogue.futures.REFERENCE_DATE`
(the next three monthly expiries, third Fridays) so that tests and configs name the same
contracts whenever they run. Every contract is an American-style equity option routed SMART in
USD with multiplier 100, the local symbol in OCC form (``AAPL  261218C00230000``), its underlying
the stock's conId; all conIds are synthetic. Strikes sit around the underlying's start price.

Options have no depth here (reqMktDepth gets error 10092). Their quotes follow Black-Scholes
(:mod:`publisher.sim.greeks`) from the underlying's simulated midpoint
(:mod:`publisher.sim.kinds.options`) with the model parameters of :data:`OPTION_MODELS`.
"""

import calendar
import time
from dataclasses import dataclass
from typing import Final

from publisher.sim.catalogue.contracts import Instrument, synthetic_con_id
from publisher.sim.catalogue.equities import EQUITIES
from publisher.sim.greeks import black_scholes
from publisher.sim.protocol import ContractSpec

__all__ = ["OPTIONS", "OPTION_MODELS", "OptionModel", "option_years"]

RATE: Final = 0.04
"""The risk-free rate of every option model."""


@dataclass(frozen=True, slots=True)
class OptionModel:
    """How one underlying's options are priced: at-the-money vol, smile, dividend yield."""

    vol: float
    smile: float
    dividend_yield: float

    def vol_at(self, strike: float, reference: float) -> float:
        """The implied vol at ``strike``: the at-the-money vol plus a quadratic smile."""
        moneyness = strike / reference - 1.0
        return self.vol + self.smile * moneyness * moneyness


OPTION_MODELS: Final[dict[str, OptionModel]] = {
    "AAPL": OptionModel(vol=0.27, smile=1.5, dividend_yield=0.0045),
    "SPY": OptionModel(vol=0.15, smile=2.5, dividend_yield=0.012),
}

_EXPIRIES: Final = ("20261218", "20270115", "20270219")
_STRIKES: Final[dict[str, tuple[float, ...]]] = {
    "AAPL": (210.0, 220.0, 230.0, 240.0, 250.0),
    "SPY": (660.0, 670.0, 680.0, 690.0, 700.0),
}
_EXCHANGES: Final = (
    "SMART,AMEX,CBOE,PHLX,PSE,ISE,BOX,BATS,NASDAQOM,CBOE2,NASDAQBX,MIAX,GEMINI,EDGX,MERCURY,"
    "PEARL,EMERALD,MEMX,IBUSOPT"
)
_ORDER_TYPES: Final = (
    "ACTIVETIM,AD,ADJUST,ALERT,ALLOC,AVGCOST,BASKET,COND,CONDORDER,DAY,DEACT,DEACTDIS,DEACTEOD,"
    "GAT,GTC,GTD,GTT,HID,IOC,LIT,LMT,MIT,MKT,MTL,NGCOMB,NONALGO,OCA,OPENCLOSE,PEGMIDVOL,"
    "PEGMKTVOL,PEGPRMVOL,PEGSRFVOL,POSTONLY,PRICECHK,REL,RELPCTOFS,RELSTK,SCALE,SCALERST,SIZECHK,"
    "SNAPMID,SNAPMKT,SNAPREL,STP,STPLMT,TRAIL,TRAILLIT,TRAILLMT,TRAILMIT,VOLAT,WHATIF"
)


def option_years(expiry: str, now: float) -> float:
    """Years from ``now`` (epoch seconds) to 16:00 New York (21:00 UTC) on ``expiry``; at least
    one hour, so an expiring option still has a model value."""
    close = calendar.timegm(time.strptime(expiry + " 21", "%Y%m%d %H"))
    return max(close - now, 3600.0) / (365.0 * 86400.0)


def _occ(symbol: str, expiry: str, right: str, strike: float) -> str:
    return f"{symbol:<6}{expiry[2:]}{right}{round(strike * 1000):08d}"


def _option(underlying: Instrument, expiry: str, strike: float, right: str) -> Instrument:
    symbol = underlying.spec.symbol
    model = OPTION_MODELS[symbol]
    local = _occ(symbol, expiry, right, strike)
    reference = underlying.price
    start = calendar.timegm(time.strptime("20261201", "%Y%m%d"))
    greeks = black_scholes(
        right == "C",
        reference,
        strike,
        option_years(expiry, start),
        model.vol_at(strike, reference),
        RATE,
        model.dividend_yield,
    )
    spec = ContractSpec(
        con_id=synthetic_con_id("OPT", local),
        symbol=symbol,
        sec_type="OPT",
        exchange="SMART",
        currency="USD",
        local_symbol=local,
        trading_class=symbol,
        last_trade_date=expiry,
        strike=strike,
        right=right,
        multiplier="100",
        min_tick=0.01,
        market_name=symbol,
        long_name=underlying.spec.long_name,
        contract_month=expiry[:6],
        time_zone_id="US/Eastern",
        order_types=_ORDER_TYPES,
        valid_exchanges=_EXCHANGES,
        market_rule_ids=",".join(["32"] * len(_EXCHANGES.split(","))),
        under_con_id=underlying.con_id,
        under_symbol=symbol,
        under_sec_type="STK",
        real_expiration_date=expiry,
    )
    price = max(0.01, round(greeks.price, 2))
    return Instrument(spec, price, lot=1, synthetic=True, depth=False)


def _chains() -> tuple[Instrument, ...]:
    by_symbol = {i.spec.symbol: i for i in EQUITIES}
    return tuple(
        _option(by_symbol[symbol], expiry, strike, right)
        for symbol, strikes in _STRIKES.items()
        for expiry in _EXPIRIES
        for strike in strikes
        for right in ("C", "P")
    )


OPTIONS: Final[tuple[Instrument, ...]] = _chains()
"""AAPL then SPY: every expiry, strike and right (30 contracts each)."""

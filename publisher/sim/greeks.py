"""Black-Scholes-Merton prices and greeks, as IB's tickOptionComputation reports them. Pure.

Continuous dividend yield ``q``; IB's conventions: vega per 1 vol point (0.01), theta per
calendar day, ``pv_dividend`` the present value of the dividends to expiry.
"""

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Greeks:
    """One option's model values."""

    price: float
    delta: float
    gamma: float
    vega: float
    theta: float
    pv_dividend: float


def _cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def _pdf(x: float) -> float:
    return math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


def black_scholes(
    call: bool, spot: float, strike: float, years: float, vol: float, rate: float, q: float
) -> Greeks:
    """Price and greeks of a European option; ``years`` and ``vol`` must be > 0."""
    if spot <= 0 or strike <= 0 or years <= 0 or vol <= 0:
        raise ValueError("spot, strike, years and vol must be > 0")
    sqrt_t = math.sqrt(years)
    d1 = (math.log(spot / strike) + (rate - q + 0.5 * vol * vol) * years) / (vol * sqrt_t)
    d2 = d1 - vol * sqrt_t
    disc_r = math.exp(-rate * years)
    disc_q = math.exp(-q * years)
    if call:
        price = spot * disc_q * _cdf(d1) - strike * disc_r * _cdf(d2)
        delta = disc_q * _cdf(d1)
        theta_year = (
            -spot * disc_q * _pdf(d1) * vol / (2 * sqrt_t)
            - rate * strike * disc_r * _cdf(d2)
            + q * spot * disc_q * _cdf(d1)
        )
    else:
        price = strike * disc_r * _cdf(-d2) - spot * disc_q * _cdf(-d1)
        delta = -disc_q * _cdf(-d1)
        theta_year = (
            -spot * disc_q * _pdf(d1) * vol / (2 * sqrt_t)
            + rate * strike * disc_r * _cdf(-d2)
            - q * spot * disc_q * _cdf(-d1)
        )
    gamma = disc_q * _pdf(d1) / (spot * vol * sqrt_t)
    vega = spot * disc_q * _pdf(d1) * sqrt_t / 100.0
    return Greeks(
        price=price,
        delta=delta,
        gamma=gamma,
        vega=vega,
        theta=theta_year / 365.0,
        pv_dividend=spot * (1.0 - disc_q),
    )

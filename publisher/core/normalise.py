"""Pure normalisation of IB tick callbacks into contract v1 tick bodies.

Nothing here touches a socket or a clock: every function takes values and returns values, so the
mapping rules are testable on their own. The bus adds the envelope keys (``v``, ``type``, ``pub``,
``sid``, ``seq``, ``ts``) when it publishes.
"""

from collections.abc import Mapping
from decimal import Decimal
from typing import Final

# IB's "unset" sentinels (ibapi.const): a double of sys.float_info.max and Decimal(2**127 - 1).
UNSET_DOUBLE: Final = 1.7976931348623157e308
UNSET_DECIMAL: Final = Decimal(2**127 - 1)
UNSET_SIZE_FLOAT: Final = float(UNSET_DECIMAL)

Size = Decimal | float | None
"""A tick size: ibapi's ``Decimal`` (UNSET_DECIMAL when unset), or, from the fast path
(:mod:`publisher.gateway.fastpath`), the same value already as a float (None when unset)."""
NO_PRICE: Final = -1.0
"""IB sends -1 as the price when there is no quote (for example an empty side of the book)."""

MDT_LIVE: Final = 1
MDT_FROZEN: Final = 2
MDT_DELAYED: Final = 3
MDT_DELAYED_FROZEN: Final = 4

# The contract's names for the core tick types (ibapi.ticktype.TickTypeEnum ids).
_CORE_FIELDS: Final[Mapping[int, str]] = {
    0: "bid_size",
    1: "bid",
    2: "ask",
    3: "ask_size",
    4: "last",
    5: "last_size",
    6: "high",
    7: "low",
    8: "volume",
    9: "close",
    14: "open",
    45: "last_timestamp",
    49: "halted",
}

# Delayed tick ids carry the same meaning as their live twins; the market data type says "delayed".
DELAYED_TO_LIVE: Final[Mapping[int, int]] = {
    66: 1,
    67: 2,
    68: 4,
    69: 0,
    70: 3,
    71: 5,
    72: 6,
    73: 7,
    74: 8,
    75: 9,
    76: 14,
    88: 45,
    90: 49,
}

# ibapi's TickTypeEnum names for the remaining ids, in lower case (ibapi.ticktype, 10.50).
# Kept as data so this module needs no ibapi import; tests check it against ibapi itself.
# A split string reads (and diffs) better than a 110-item list literal.
_IBAPI_NAMES: Final = (  # noqa: SIM905
    "bid_size bid ask ask_size last last_size high low volume close bid_option_computation "
    "ask_option_computation last_option_computation model_option open low_13_week high_13_week "
    "low_26_week high_26_week low_52_week high_52_week avg_volume open_interest "
    "option_historical_vol option_implied_vol option_bid_exch option_ask_exch "
    "option_call_open_interest option_put_open_interest option_call_volume option_put_volume "
    "index_future_premium bid_exch ask_exch auction_volume auction_price auction_imbalance "
    "mark_price bid_efp_computation ask_efp_computation last_efp_computation "
    "open_efp_computation high_efp_computation low_efp_computation close_efp_computation "
    "last_timestamp shortable not_used rt_volume halted bid_yield ask_yield last_yield "
    "cust_option_computation trade_count trade_rate volume_rate last_rth_trade "
    "rt_historical_vol ib_dividends bond_factor_multiplier regulatory_imbalance news_tick "
    "short_term_volume_3_min short_term_volume_5_min short_term_volume_10_min delayed_bid "
    "delayed_ask delayed_last delayed_bid_size delayed_ask_size delayed_last_size delayed_high "
    "delayed_low delayed_volume delayed_close delayed_open rt_trd_volume creditman_mark_price "
    "creditman_slow_mark_price delayed_bid_option delayed_ask_option delayed_last_option "
    "delayed_model_option last_exch last_reg_time futures_open_interest avg_opt_volume "
    "delayed_last_timestamp shortable_shares delayed_halted reuters_2_mutual_funds "
    "etf_nav_close etf_nav_prior_close etf_nav_bid etf_nav_ask etf_nav_last "
    "etf_frozen_nav_last etf_nav_high etf_nav_low social_market_analytics "
    "estimated_ipo_midpoint final_ipo_last delayed_yield_bid delayed_yield_ask odd_lot_bid "
    "odd_lot_ask odd_lot_bid_size odd_lot_ask_size odd_lot_bid_exch"
).split()


def _build_field_names() -> dict[int, str]:
    names = dict(enumerate(_IBAPI_NAMES))
    names.update(_CORE_FIELDS)
    for delayed, live in DELAYED_TO_LIVE.items():
        names[delayed] = _CORE_FIELDS[live]
    return names


FIELD_NAMES: Final[Mapping[int, str]] = _build_field_names()


def field_name(tick_type: int) -> str:
    """The contract's field name for an IB tick type id; unknown ids become ``tick_<id>``."""
    name = FIELD_NAMES.get(tick_type)
    return name if name is not None else f"tick_{tick_type}"


def market_data_type(tick_type: int, current: int) -> int:
    """The ``mdt`` of one tick, given the instrument's last announced market data type.

    Delayed ids are delayed by definition (3, or 4 when the stream is delayed-frozen), whatever
    the stream last announced; other ids take the stream's type.
    """
    if tick_type in DELAYED_TO_LIVE:
        return MDT_DELAYED_FROZEN if current == MDT_DELAYED_FROZEN else MDT_DELAYED
    return current


def normal_price(price: float) -> float | None:
    """IB's price, or None where IB sent its "no price" marker (-1) or the unset double."""
    if price == NO_PRICE or price >= UNSET_DOUBLE:
        return None
    return price


def normal_size(size: Size | int) -> float | None:
    """IB's decimal size as a float (fractional sizes are kept); None for IB's unset marker
    (or None: a size the fast path already found unset)."""
    if isinstance(size, Decimal):
        if size == UNSET_DECIMAL:
            return None
        return float(size)
    return None if size is None else float(size)


def generic_value(tick_type: int, value: float) -> float | int:
    """A tickGeneric value: whole-number states (halted, shortable...) as int, else float."""
    if value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def string_value(tick_type: int, value: str) -> str | int:
    """A tickString value; the last-trade timestamps (45, 88) become int epoch seconds."""
    if tick_type in (45, 88):
        try:
            return int(value)
        except ValueError:
            return value
    return value


def attrib_mask(can_auto_execute: bool, past_limit: bool, pre_open: bool) -> int:
    """IB's tick attribute mask: 1 can-auto-execute, 2 past-limit, 4 pre-open."""
    return (1 if can_auto_execute else 0) | (2 if past_limit else 0) | (4 if pre_open else 0)

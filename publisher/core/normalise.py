"""Pure normalisation of IB tick callbacks into contract v1 tick bodies.

Nothing here touches a socket or a clock: every function takes values and returns values, so the
mapping rules are testable on their own. The bus adds the envelope keys (``v``, ``type``, ``pub``,
``sid``, ``seq``, ``ts``) when it publishes.
"""

from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType
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
CONTRACT_FIELDS: Final[Mapping[int, str]] = MappingProxyType(
    {
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
)

# Delayed tick ids carry the same meaning as their live twins; the market data type says "delayed".
DELAYED_TO_LIVE: Final[Mapping[int, int]] = MappingProxyType(
    {
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
)


def field_names(ibapi_names: Mapping[int, str]) -> Mapping[int, str]:
    """The contract's field name of every known tick type id.

    ``ibapi_names`` is ibapi's ``TickTypeEnum`` in lower case, ``{id: name}``
    (:data:`publisher.gateway.ticktypes.IBAPI_TICK_NAMES`): the core takes it as a value rather
    than importing ibapi, so it stays pure and a newer ibapi's ids need no edit here. The
    contract's own names (:data:`CONTRACT_FIELDS`, and the live twin's name for each delayed id)
    win over ibapi's.
    """
    names = dict(ibapi_names)
    names.update(CONTRACT_FIELDS)
    for delayed, live in DELAYED_TO_LIVE.items():
        names[delayed] = CONTRACT_FIELDS[live]
    return MappingProxyType(names)


def field_name(names: Mapping[int, str], tick_type: int) -> str:
    """The field name of a tick type id in ``names`` (from :func:`field_names`); an id it does
    not know becomes ``tick_<id>`` (the contract: no tick is dropped silently)."""
    name = names.get(tick_type)
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

"""The pure tick-normalisation rules of contract v1."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ibapi.ticktype import TickTypeEnum

from publisher.core.normalise import (
    DELAYED_TO_LIVE,
    UNSET_DECIMAL,
    UNSET_DOUBLE,
    attrib_mask,
    field_name,
    field_names,
    generic_value,
    market_data_type,
    normal_price,
    normal_size,
    string_value,
)
from publisher.gateway.ticktypes import IBAPI_TICK_NAMES

# The contract's names (docs: contract.md "Tick"), written out here rather than read from the
# module under test.
CORE = {
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
DELAYED = {
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

NAMES = field_names(IBAPI_TICK_NAMES)
"""The table the publisher names its fields from (service/root.py builds the same)."""
IBAPI_IDS = sorted(i for i, name in TickTypeEnum.idx2name.items() if name != "NOT_SET")


def name_of(tick_type: int) -> str:
    return field_name(NAMES, tick_type)


@pytest.mark.parametrize(("tick_type", "name"), sorted(CORE.items()))
def test_core_tick_types_use_contract_names(tick_type: int, name: str) -> None:
    """Tick types 0..9, 14, 45 and 49 map to the contract's field names."""
    assert name_of(tick_type) == name


@pytest.mark.parametrize(("delayed", "live"), sorted(DELAYED.items()))
def test_delayed_ids_map_to_live_names(delayed: int, live: int) -> None:
    """Delayed ids (66-76, 88, 90) carry the same field name as their live twin."""
    assert name_of(delayed) == CORE[live]


def test_the_delayed_ids_are_the_contracts() -> None:
    """The normaliser treats exactly the contract's delayed ids as delayed twins."""
    assert dict(DELAYED_TO_LIVE) == DELAYED


@pytest.mark.parametrize("tick_type", IBAPI_IDS)
def test_every_ibapi_tick_type_gets_its_name(tick_type: int) -> None:
    """Every id of ibapi's TickTypeEnum has the contract's name, else ibapi's in lower case."""
    live = DELAYED.get(tick_type, tick_type)
    expected = CORE.get(live, TickTypeEnum.toStr(tick_type).lower())
    assert name_of(tick_type) == expected


def test_odd_lot_ask_exch_is_named() -> None:
    """Tick 110 (odd-lot ticks, server version 225) is ``odd_lot_ask_exch``, not ``tick_110``."""
    assert TickTypeEnum.ODD_LOT_ASK_EXCH == 110
    assert name_of(110) == "odd_lot_ask_exch"


def test_ibapi_placeholder_is_not_a_name() -> None:
    """ibapi's closing ``NOT_SET`` member names no tick type: its id publishes as ``tick_<id>``."""
    not_set: int = TickTypeEnum.NOT_SET
    assert name_of(not_set) == f"tick_{not_set}"


def test_unknown_id_becomes_tick_id() -> None:
    """An id ibapi does not know becomes ``tick_<id>``."""
    assert name_of(999) == "tick_999"


def test_a_newer_ibapis_names_pass_through() -> None:
    """The core names from the table it is given: an id it has never seen takes that name."""
    names = field_names({1: "bid_from_ibapi", 120: "some_new_tick"})
    assert field_name(names, 120) == "some_new_tick"
    assert field_name(names, 1) == "bid"  # the contract's names win
    assert field_name(names, 121) == "tick_121"


@pytest.mark.parametrize("current", [1, 2, 3, 4])
def test_delayed_ids_are_always_delayed(current: int) -> None:
    """A delayed id has mdt 3, or 4 when the stream announced delayed-frozen."""
    assert market_data_type(66, current) == (4 if current == 4 else 3)


@pytest.mark.parametrize("current", [1, 2, 3, 4])
def test_live_ids_take_the_streams_type(current: int) -> None:
    """A live id carries the stream's announced market data type."""
    assert market_data_type(1, current) == current


def test_no_price_markers_become_none() -> None:
    """IB's -1 and the unset double become nil; real prices pass through."""
    assert normal_price(-1.0) is None
    assert normal_price(UNSET_DOUBLE) is None
    assert normal_price(189.52) == 189.52
    assert normal_price(-0.5) == -0.5  # negative spreads are real prices


def test_decimal_sizes_keep_fractions() -> None:
    """Decimal sizes become floats without losing fractional shares."""
    assert normal_size(Decimal("0.0001")) == 0.0001
    assert normal_size(Decimal("300")) == 300.0
    assert isinstance(normal_size(Decimal("300")), float)


def test_unset_size_becomes_none() -> None:
    """IB's unset decimal marker becomes nil rather than a huge number."""
    assert normal_size(UNSET_DECIMAL) is None


@given(st.decimals(min_value=0, max_value=10**12, places=4, allow_nan=False))
def test_sizes_round_trip_through_float(size: Decimal) -> None:
    """Every realistic decimal size converts to the nearest float."""
    assert normal_size(size) == float(size)


def test_last_timestamp_string_becomes_int_seconds() -> None:
    """tickString 45 and 88 carry epoch seconds as int."""
    assert string_value(45, "1704467000") == 1704467000
    assert string_value(88, "1704467000") == 1704467000
    assert string_value(48, "1.5;100;1704467000000;5000;1.4;true") == (
        "1.5;100;1704467000000;5000;1.4;true"
    )


def test_generic_whole_numbers_become_int() -> None:
    """tickGeneric states such as halted (49) publish as int; fractions stay float."""
    assert generic_value(49, 1.0) == 1
    assert isinstance(generic_value(49, 1.0), int)
    assert generic_value(24, 0.2345) == 0.2345


def test_attrib_mask_bits() -> None:
    """The attrib mask is 1 can-auto-execute, 2 past-limit, 4 pre-open."""
    assert attrib_mask(True, False, False) == 1
    assert attrib_mask(False, True, False) == 2
    assert attrib_mask(False, False, True) == 4
    assert attrib_mask(True, True, True) == 7

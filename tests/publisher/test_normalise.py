"""The pure tick-normalisation rules of contract v1."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ibapi.ticktype import TickTypeEnum

from publisher.core.normalise import (
    DELAYED_TO_LIVE,
    FIELD_NAMES,
    UNSET_DECIMAL,
    UNSET_DOUBLE,
    attrib_mask,
    field_name,
    generic_value,
    market_data_type,
    normal_price,
    normal_size,
    string_value,
)

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


@pytest.mark.parametrize(("tick_type", "name"), sorted(CORE.items()))
def test_core_tick_types_use_contract_names(tick_type: int, name: str) -> None:
    """Tick types 0..9, 14, 45 and 49 map to the contract's field names."""
    assert field_name(tick_type) == name


@pytest.mark.parametrize(("delayed", "live"), sorted(DELAYED_TO_LIVE.items()))
def test_delayed_ids_map_to_live_names(delayed: int, live: int) -> None:
    """Delayed ids (66-76, 88, 90) carry the same field name as their live twin."""
    assert field_name(delayed) == CORE[live]


def test_other_known_types_use_ibapi_lower_case_name() -> None:
    """Any other known type uses ibapi's TickTypeEnum name in lower case."""
    for tick_type in (21, 37, 48, 77, 84, 86, 105):
        assert field_name(tick_type) == TickTypeEnum.toStr(tick_type).lower()


def test_name_table_agrees_with_installed_ibapi() -> None:
    """Our copy of the names matches ibapi's enum for every id we did not rename."""
    for tick_type, name in FIELD_NAMES.items():
        if tick_type in CORE or tick_type in DELAYED_TO_LIVE:
            continue
        assert name == TickTypeEnum.toStr(tick_type).lower()


def test_unknown_id_becomes_tick_id() -> None:
    """An id ibapi does not know becomes ``tick_<id>``."""
    assert field_name(999) == "tick_999"


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

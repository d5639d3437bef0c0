"""The data-kind grammar shared by the config, the control requests and the library."""

import pytest

from subscribers.kinds import KindError, parse_kind, parse_kinds, topics


@pytest.mark.parametrize(
    ("text", "family", "name"),
    [
        ("l1", "l1", "l1"),
        ("greeks", "greeks", "greeks"),
        ("tbt_last", "tbt", "tbt_last"),
        ("tbt_all_last", "tbt", "tbt_all_last"),
        ("tbt_bid_ask", "tbt", "tbt_bid_ask"),
        ("tbt_midpoint", "tbt", "tbt_midpoint"),
        ("depth", "depth", "depth:10"),
        ("depth:5", "depth", "depth:5"),
        ("depth:20:smart", "depth", "depth:20:smart"),
        ("bars_5s", "bars", "bars_5s:TRADES"),
        ("bars_5s:midpoint", "bars", "bars_5s:MIDPOINT"),
        ("bars_5s:BID:rth", "bars", "bars_5s:BID:rth"),
    ],
)
def test_each_kind_parses_to_its_canonical_name(text: str, family: str, name: str) -> None:
    kind = parse_kind(text)
    assert (kind.family, kind.name) == (family, name)
    assert parse_kind(kind.name) == kind


def test_parameters_reach_the_request() -> None:
    depth = parse_kind("depth:7:smart")
    assert (depth.rows, depth.smart) == (7, True)
    bars = parse_kind("bars_5s:ASK:rth")
    assert (bars.what, bars.rth) == ("ASK", True)
    assert parse_kind("tbt_bid_ask").tbt_type == "BidAsk"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "non-empty"),
        ("l2", "unknown data kind"),
        ("l1:x", "no parameters"),
        ("tbt_last:1", "no parameters"),
        ("depth:0", "1 to 100"),
        ("depth:101", "1 to 100"),
        ("depth:ten", "whole number"),
        ("depth:5:dumb", "only be 'smart'"),
        ("depth:5:smart:x", "at most"),
        ("bars_5s:VOLUME", "WHAT must be one of"),
        ("bars_5s:TRADES:eth", "only be 'rth'"),
    ],
)
def test_bad_kinds_are_refused_with_the_reason(text: str, words: str) -> None:
    with pytest.raises(KindError, match=words):
        parse_kind(text)


def test_a_list_refuses_conflicts_and_repeats() -> None:
    with pytest.raises(KindError, match="non-empty list"):
        parse_kinds([])
    with pytest.raises(KindError, match="named twice"):
        parse_kinds(["l1", "depth", "depth:10"])
    with pytest.raises(KindError, match="only one depth kind"):
        parse_kinds(["depth:5", "depth:10"])
    with pytest.raises(KindError, match="only one bars kind"):
        parse_kinds(["bars_5s", "bars_5s:BID"])
    kinds = parse_kinds(["l1", "tbt_last", "tbt_bid_ask", "depth", "bars_5s", "greeks"])
    assert topics(kinds, "AAPL") == [
        "tick.AAPL",
        "tbt.AAPL",
        "depth.AAPL",
        "bar.AAPL",
        "greeks.AAPL",
    ]

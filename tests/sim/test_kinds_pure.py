"""The data kinds' pure parts: the simulated book stays valid and equal to the client's, its
best rows are the walk's quote; Black-Scholes satisfies put-call parity."""

import math
from pathlib import Path

import pytest

from publisher.sim.catalogue import Catalogue, CatalogueError
from publisher.sim.catalogue.files import load_instruments
from publisher.sim.greeks import black_scholes
from publisher.sim.kinds.book import SimBook
from publisher.sim.market import Market
from publisher.sim.protocol.data_events import SIDE_ASK, SIDE_BID, DepthChange
from subscribers.depth import OPERATIONS, SIDES, DepthBook

CATALOGUE = Catalogue.builtin()


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("rows", [1, 3, 10])
def test_book_changes_are_valid_and_track_the_walk(seed: int, rows: int) -> None:
    """Over 3,000 market steps every change applies, and after each step the client's book is
    the simulator's, ``rows`` deep, its best rows the walk's bid and ask."""
    market = Market(seed, clock=lambda: 1.0)
    (aapl,) = [i for i in CATALOGUE if i.spec.local_symbol == "AAPL"]
    market.subscribe(1, aapl)
    walk = market.feed(aapl)
    client = DepthBook(rows)
    changes: list[DepthChange] = []
    book = SimBook(7, rows, walk, changes.append, seed=seed)
    book.start()
    for _ in range(3000):
        market.next_ticks(1)
        for c in changes:
            assert client.apply(c.position, OPERATIONS[c.operation], SIDES[c.side], c.price, c.size)
        changes.clear()
        assert client.bids == [(p, float(s), m) for p, s, m in book.rows_of(SIDE_BID)]
        assert client.asks == [(p, float(s), m) for p, s, m in book.rows_of(SIDE_ASK)]
        assert len(client.bids) == len(client.asks) == rows
        assert client.bids[0][:2] == (walk.price(walk.bid), walk.bid_size)
        assert client.asks[0][:2] == (walk.price(walk.ask), walk.ask_size)


def test_put_call_parity() -> None:
    """C - P = S e^{-qT} - K e^{-rT}, and deltas differ by e^{-qT}."""
    args = (230.0, 240.0, 0.25, 0.3, 0.04, 0.01)
    call, put = black_scholes(True, *args), black_scholes(False, *args)
    s, k, t, _v, r, q = args
    assert math.isclose(call.price - put.price, s * math.exp(-q * t) - k * math.exp(-r * t))
    assert math.isclose(call.delta - put.delta, math.exp(-q * t))
    assert math.isclose(call.gamma, put.gamma) and call.vega > 0


def test_a_feed_is_the_l1_walk_and_outlives_it_while_observed() -> None:
    """A kind requested before L1 gets a hidden walk that the L1 stream then takes over; after
    cancelling L1 it keeps ticking for its observer (and sends no L1), and stops when released."""
    market = Market(5, clock=lambda: 1.0)
    (msft,) = [i for i in CATALOGUE if i.spec.local_symbol == "MSFT"]
    changes: list[DepthChange] = []
    walk = market.feed(msft)
    book = SimBook(3, 2, walk, changes.append)
    book.start()
    assert len(market) == 0 and market.ticking
    assert market.next_ticks(50) == [] and changes, "a hidden walk sends no L1 but moves"
    sub_id, initial = market.subscribe(9, msft)
    assert market.feed(msft) is walk and len(market) == 1
    assert {t.req_id for t in initial} == {9}
    assert {sid for sid, _ in market.next_ticks(50)} == {sub_id}
    market.unsubscribe(sub_id)
    changes.clear()
    assert len(market) == 0 and market.next_ticks(50) == [] and changes
    market.release(walk, book)
    assert not market.ticking


def test_a_file_catalogue_can_say_a_contract_has_no_depth(tmp_path: Path) -> None:
    """``depth = false`` in a catalogue file marks the contract (error 10092); default true."""
    path = tmp_path / "extra.toml"
    row = 'symbol = "{0}"\nsec_type = "STK"\nexchange = "SMART"\ncurrency = "USD"\nprice = 10.0\n'
    path.write_text(
        "[[contracts]]\ncon_id = 1\n" + row.format("X") + "depth = false\n"
        "[[contracts]]\ncon_id = 2\n" + row.format("Y")
    )
    x, y = load_instruments(path)
    assert (x.depth, y.depth) == (False, True)
    path.write_text("[[contracts]]\ncon_id = 1\n" + row.format("X") + 'depth = "no"\n')
    with pytest.raises(CatalogueError, match=r"contracts\[0\]\.depth.*true or false"):
        load_instruments(path)
    (chf,) = [i for i in CATALOGUE if i.spec.local_symbol == "EUR.CHF"]
    assert not chf.depth and all(not i.depth for i in CATALOGUE if i.spec.sec_type == "OPT")

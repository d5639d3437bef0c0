"""sub.books on real sockets: a hand-made PUB and snapshot ROUTER, a Subscriber reading depth.

The test's bus keeps the publisher's book (subscribers.depth.DepthBook, as the publisher does)
and serves it in snapshot replies; the subscriber's book must equal it after joining
mid-stream, and again after changes are lost (a gap) or the publisher restarts.
"""

import itertools
import random
from collections.abc import Iterator
from typing import Any

import pytest

from subscribers.client import Subscriber
from subscribers.events import BookResync, BookSynced, Event
from subscribers.wire import Depth
from tests.subscribers.control_server import Bus, SnapshotServer, servers
from tests.support.waiting import wait_for

Servers = tuple[Any, Any, Bus]


@pytest.fixture
def env() -> Iterator[tuple[Bus, SnapshotServer]]:
    with servers() as (context, _, bus):
        snap = SnapshotServer(context, bus.sid, [], bus)
        try:
            yield bus, snap
        finally:
            snap.close()


class Market:
    """Random but always possible changes to one book of the test bus."""

    def __init__(self, bus: Bus, key: str, seed: int = 7) -> None:
        self.bus, self.key, self.rng = bus, key, random.Random(seed)
        self.prices = itertools.count(1)

    def change(self, *, lost: bool = False) -> None:
        book = self.bus.books.get(self.key)
        side = self.rng.choice(["bid", "ask"])
        rows = [] if book is None else (book.bids if side == "bid" else book.asks)
        operation = "insert" if len(rows) < 3 else self.rng.choice(["update", "delete", "insert"])
        position = self.rng.randrange(len(rows) + (operation == "insert"))
        price = float(next(self.prices))
        self.bus.depth(self.key, position, operation, side, price, 1.0, lost=lost)


def read_until_equal(sub: Subscriber, bus: Bus, market: Market, key: str) -> None:
    """Keep the market moving until the subscriber's book is the bus's, row for row."""

    def equal() -> bool:
        market.change()
        bus.heartbeat()
        while sub.recv(0.02) is not None:
            pass
        book, theirs = sub.books.get(key), bus.books[key]
        return (
            sub.book_ready(key)
            and book is not None
            and (book.bids, book.asks) == (theirs.bids, theirs.asks)
        )

    wait_for(equal, f"the book of {key} to equal the publisher's")


@pytest.mark.parametrize("snapshot", [False, True])
def test_a_late_joiner_gets_the_book_and_resyncs_after_a_gap(
    env: tuple[Bus, SnapshotServer], snapshot: bool
) -> None:
    """Joining mid-stream the book comes from the snapshot; lost changes empty it and a new
    snapshot restores it (each said by an event); depth.ESZ6 never reaches the ES book."""
    bus, snap = env
    market, other = Market(bus, "ES"), Market(bus, "ESZ6", seed=8)
    for _ in range(20):
        market.change()
        other.change()
    events: list[Event] = []
    with Subscriber(
        bus.endpoint, exact_keys=["ES"], data=["depth"], snapshot=snapshot,
        snapshot_endpoint=snap.endpoint, on_event=events.append,
    ) as sub:  # fmt: skip
        read_until_equal(sub, bus, market, "ES")
        assert "ESZ6" not in sub.books
        synced = len([e for e in events if isinstance(e, BookSynced)])
        market.change(lost=True)
        market.change(lost=True)
        read_until_equal(sub, bus, market, "ES")
        resyncs = [e for e in events if isinstance(e, BookResync)]
        assert any("lost" in e.reason for e in resyncs), resyncs
        assert len([e for e in events if isinstance(e, BookSynced)]) > synced
        stats = sub.stats
    assert stats.book_resyncs >= 1 and stats.lost >= 2


def test_a_publisher_restart_rebuilds_the_book(env: tuple[Bus, SnapshotServer]) -> None:
    """A new session starts a new book: the old one is not carried into it."""
    bus, snap = env
    market = Market(bus, "ES")
    for _ in range(10):
        market.change()
    with Subscriber(
        bus.endpoint, exact_keys=["ES"], data=["depth"], snapshot_endpoint=snap.endpoint
    ) as sub:
        read_until_equal(sub, bus, market, "ES")
        bus.restart(sid=999)
        snap.reply["sid"] = 999
        for _ in range(5):
            market.change()
        read_until_equal(sub, bus, market, "ES")
        msg = sub.recv(0.01)
        assert msg is None or isinstance(msg, Depth)

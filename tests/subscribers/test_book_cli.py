"""``ibsub book``: the ladder's layout (pure) and the command against a hand-made bus."""

import io
import json
import threading
import time

import pytest

from subscribers.book_cli import BookOptions, book_json, ladder, run_book
from subscribers.cli import main
from subscribers.client import Subscriber
from subscribers.connect import Connection
from subscribers.depth import DepthBook
from subscribers.quotes import QuotesView
from subscribers.snapshot import Snapshot, TopicSnapshot
from subscribers.snapshot_cli import snapshot_json, snapshot_lines
from tests.subscribers.control_server import SnapshotServer, servers
from tests.support.waiting import wait_for


def sample_book() -> DepthBook:
    book = DepthBook()
    book.replace(
        [(100.25, 5.0, "CME"), (100.0, 12.0, None)],
        [(100.5, 3.0, "ARCA"), (100.75, 1.5, None), (101.0, 7.0, None)],
    )
    return book


def test_the_ladder_shows_both_sides_best_first_with_the_spread() -> None:
    lines = ladder("ES", sample_book(), 3, 42, 0)
    assert lines[0] == "depth.ES  seq 42  -  spread 0.25  (2 bids, 3 asks)"
    assert lines[1].split() == ["MM", "SIZE", "BID", "|", "ASK", "SIZE", "MM"]
    assert lines[2].split() == ["CME", "5", "100.25", "|", "100.50", "3", "ARCA"]
    assert lines[3].split() == ["12", "100.00", "|", "100.75", "1.5"]
    assert lines[4].split() == ["|", "101.00", "7"]
    assert len({line.index("|") for line in lines[1:]}) == 1  # the columns line up
    assert len(lines) == 5


def test_the_ladder_of_an_empty_book_has_no_spread() -> None:
    lines = ladder("ES", DepthBook(), 2, 0, 0)
    assert "spread -" in lines[0] and lines[2].strip() == "|"


def test_json_rows_are_capped_at_rows() -> None:
    got = book_json("ES", sample_book(), 2, 9, 5)
    assert got["asks"] == [[100.5, 3.0, "ARCA"], [100.75, 1.5, None]]
    assert (got["spread"], got["seq"], got["topic"]) == (0.25, 9, "depth.ES")


def test_book_help_names_the_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["book", "--help"]) == 0
    text = capsys.readouterr().out
    assert all(word in text for word in ("--rows", "--once", "--json", "--interval", "KEY"))


@pytest.mark.parametrize("as_json", [False, True])
def test_once_prints_the_publishers_book(as_json: bool) -> None:
    """--once prints the book from the snapshot (the bus's own book) and exits 0."""
    with servers() as (context, _, bus):
        snap = SnapshotServer(context, bus.sid, [], bus)
        try:
            bus.depth("ES", 0, "insert", "bid", 99.5, 2.0)
            bus.depth("ES", 0, "insert", "ask", 100.0, 4.0)
            bus.depth("ESZ6", 0, "insert", "ask", 1.0, 1.0)
            out, err = io.StringIO(), io.StringIO()
            options = BookOptions(
                Connection(bus.endpoint, snap.endpoint), "ES", rows=3, once=True, json=as_json,
                timeout=60.0,
            )  # fmt: skip
            result: list[int] = []
            runner = threading.Thread(target=lambda: result.append(run_book(options, out, err)))
            runner.start()
            wait_for(lambda: bus.heartbeat() and not runner.is_alive(), "ibsub book to finish")
            runner.join()
        finally:
            snap.close()
    assert result == [0], err.getvalue()
    if as_json:
        got = json.loads(out.getvalue())
        assert (got["bids"], got["asks"], got["spread"]) == (
            [[99.5, 2.0, None]],
            [[100.0, 4.0, None]],
            0.5,
        )
    else:
        text = out.getvalue()
        assert text.startswith("depth.ES  seq 2") and "\x1b" not in text
        assert "99.5" in text and "100" in text and "spread 0.5" in text


def test_snapshot_lines_and_json_show_books() -> None:
    """ibsub snapshot prints a depth topic's book as a ladder, and gives it in --json."""
    snap = Snapshot(
        5,
        0,
        (TopicSnapshot("depth.ES", 7, (), (((99.0, 1.0, None),), ((100.0, 2.0, "X"),))),),
    )
    lines = snapshot_lines(snap)
    assert "depth.ES  last seq 7" in lines
    assert any(line.split() == ["1", "99", "|", "100", "2", "X"] for line in lines), lines
    entry = snapshot_json(snap)["topics"][0]  # type: ignore[index]
    assert entry["book"] == {"bids": [[99.0, 1.0, None]], "asks": [[100.0, 2.0, "X"]]}


def test_quotes_show_the_depth_spread_when_a_book_is_known() -> None:
    """ibsub quotes appends the L2 book's spread to an instrument that also has depth."""
    with servers() as (context, _, bus):
        snap = SnapshotServer(context, bus.sid, [], bus)
        try:
            bus.depth("ES", 0, "insert", "bid", 99.5, 2.0)
            bus.depth("ES", 0, "insert", "ask", 100.25, 4.0)
            with Subscriber(
                bus.endpoint, exact_keys=["ES"], data=("tick", "depth"), snapshot=True,
                snapshot_endpoint=snap.endpoint, context=context,
            ) as sub:  # fmt: skip
                view = QuotesView(sub)

                def shown() -> bool:
                    bus.heartbeat()
                    bus.tick("ES")
                    while sub.recv(0.02) is not None:
                        pass
                    return "L2 spread 0.75" in view.line(time.time_ns())

                wait_for(shown, "the L2 spread in the quotes line")
                assert view.depth_spread("ES") == 0.75
        finally:
            snap.close()

"""The library and ``ibsub`` on every data kind, end to end: simulator -> publisher -> Subscriber.

The gateway is the real simulator, the publisher the real service with the kinds configured;
the subscriber is the library (and ``ibsub book`` a real process). Every kind arrives typed,
in order, without loss; ``sub.books`` equals the book the publisher serves in its snapshot at
the same seq; a late joiner's book equals an early subscriber's; kinds asked for on demand
arrive too.
"""

import csv
import json
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from subscribers.client import Subscriber
from subscribers.depth import Row
from subscribers.snapshot import fetch
from subscribers.wire import Bar, Depth, Greeks, Message, Tbt, Tick
from tests.support.config import AAPL, MSFT
from tests.support.processes import BIN, Processes
from tests.support.stack import Stack
from tests.support.waiting import DEADLINE, wait_for

AAPL_KINDS = {**AAPL, "data": ["l1", "tbt_last", "tbt_bid_ask", "depth:5", "bars_5s"]}
AAPL_CALL = {
    "key": "AAPL.C230", "sec_type": "OPT", "symbol": "AAPL", "last_trade_date": "20261218",
    "strike": 230.0, "right": "C", "multiplier": "100", "data": ["l1", "greeks"],
}  # fmt: skip
ALL = ["tick", "tbt", "depth", "bar", "greeks"]


@pytest.fixture
def kinds(stack: Stack) -> Iterator[Stack]:
    from publisher.sim.kinds.limits import DataLimits  # the simulator's knobs, for fast bars

    stack.start_gateway(rate=300.0, data_limits=DataLimits(bar_seconds=0.2))
    stack.start_publisher(instruments=(AAPL_KINDS, AAPL_CALL, MSFT))
    yield stack


class Reader:
    """A Subscriber read in steps, keeping every message and the AAPL book after each change."""

    def __init__(self, stack: Stack, **options: Any) -> None:
        live = stack.publisher
        self.sub = Subscriber(
            live.endpoint, snapshot_endpoint=live.snapshot_endpoint,
            control_endpoint=live.control_endpoint, context=stack.context, **options,
        )  # fmt: skip
        self.messages: list[Message] = []
        self.books: dict[int, tuple[list[Row], list[Row]]] = {}

    def read(self) -> "Reader":
        """Read what has arrived (at most a batch: the stream never pauses)."""
        for _ in range(500):
            msg = self.sub.recv(0.05)
            if msg is None:
                break
            self.messages.append(msg)
            if isinstance(msg, Depth) and msg.key == "AAPL" and self.sub.book_ready("AAPL"):
                book = self.sub.books["AAPL"]
                self.books[msg.seq] = (list(book.bids), list(book.asks))
        return self

    def of(self, kind: type[Any], topic: str) -> list[Any]:
        return [m for m in self.messages if isinstance(m, kind) and m.topic == topic]


def test_every_kind_arrives_typed_in_order_and_the_book_is_the_publishers(kinds: Stack) -> None:
    reader = Reader(kinds, exact_keys=["AAPL", "AAPL.C230"], data=ALL, snapshot=True)
    with reader.sub:
        wanted = {
            (Tick, "tick.AAPL"): 20, (Tbt, "tbt.AAPL"): 20, (Depth, "depth.AAPL"): 40,
            (Bar, "bar.AAPL"): 2, (Greeks, "greeks.AAPL.C230"): 2,
        }  # fmt: skip
        wait_for(
            lambda: all(len(reader.read().of(k, t)) >= n for (k, t), n in wanted.items()),
            "every kind",
        )
        snap = fetch(kinds.publisher.snapshot_endpoint, "depth.AAPL", context=kinds.context)
        (entry,) = [t for t in snap.topics if t.topic == "depth.AAPL"]
        assert entry.book is not None
        wait_for(lambda: entry.seq in reader.read().books, f"the book at seq {entry.seq}")
        bids, asks = reader.books[entry.seq]
        assert (tuple(bids), tuple(asks)) == entry.book
        sub = reader.sub
        stats = sub.stats
        assert (stats.gaps, stats.malformed, stats.unknown, stats.book_resyncs) == (0, 0, 0, 0)
        assert sub.bars["AAPL"].what == "TRADES"
        assert sub.greeks["AAPL.C230"] and {m.kind for m in sub.tbt["AAPL"].values()} <= {
            "last", "bid_ask",
        }  # fmt: skip
        for (kind, topic), _ in wanted.items():
            # The snapshot's latest messages first (their seqs apart), then every live one:
            # in order, no duplicate, and no gap (stats.gaps above).
            seqs = [m.seq for m in reader.of(kind, topic)]
            assert seqs == sorted(set(seqs)), (topic, seqs[:10])


def test_a_late_joiners_book_equals_an_early_ones(kinds: Stack) -> None:
    early = Reader(kinds, exact_keys=["AAPL"], data=["depth"], snapshot=True)
    with early.sub:
        wait_for(lambda: len(early.read().books) >= 50, "50 changes to the early book")
        late = Reader(kinds, exact_keys=["AAPL"], data=["depth"])  # no snapshot: it asks
        with late.sub:
            wait_for(
                lambda: (
                    set(late.read().books) & set(early.read().books) - {min(late.books, default=0)}
                ),
                "a change both books have applied",
            )
            common = sorted(set(late.books) & set(early.books))
            for seq in common[-5:]:
                assert late.books[seq] == early.books[seq], seq
            assert late.sub.stats.book_resyncs == 1  # joined mid-stream: one snapshot


def test_kinds_asked_for_on_demand_arrive(kinds: Stack) -> None:
    reader = Reader(kinds, requests=(), snapshot=True)
    with reader.sub:
        reply = reader.sub.request("MSFT", data=["l1", "depth:5"])
        assert reply.topics == ["tick.MSFT", "depth.MSFT"]
        wait_for(
            lambda: reader.read().of(Depth, "depth.MSFT") and reader.sub.book_ready("MSFT"),
            "MSFT depth on demand",
        )
        assert reader.sub.stats.gaps == 0


def test_ibsub_book_once_prints_the_live_book(kinds: Stack) -> None:
    live = kinds.publisher
    wait_for(
        lambda: any(
            t.book
            for t in fetch(live.snapshot_endpoint, "depth.AAPL", context=kinds.context).topics
        ),
        "a book in the snapshot",
    )
    done = subprocess.run(
        [str(BIN / "ibsub"), "book", "AAPL", "--once", "--json", "--rows", "3",
         "--endpoint", live.endpoint, "--snapshot-endpoint", live.snapshot_endpoint],
        capture_output=True, text=True, timeout=DEADLINE,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    book = json.loads(done.stdout)
    assert book["topic"] == "depth.AAPL" and 1 <= len(book["bids"]) <= 3
    assert book["spread"] is not None and book["spread"] > 0


def endpoints(stack: Stack) -> list[str]:
    live = stack.publisher
    return ["--endpoint", live.endpoint, "--snapshot-endpoint", live.snapshot_endpoint]


def test_ibsub_tail_prints_every_kind(kinds: Stack) -> None:
    """--exact AAPL prints every data topic of AAPL (JSON as the payloads), --type one kind."""
    ibsub = str(BIN / "ibsub")
    done = subprocess.run(
        [ibsub, "tail", "--exact", "AAPL", "AAPL.C230", "--json", "--count", "400",
         *endpoints(kinds)],
        capture_output=True, text=True, timeout=DEADLINE,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert {"tick.AAPL", "tbt.AAPL", "depth.AAPL"} <= {line["topic"] for line in lines}
    depth = next(line for line in lines if line["topic"] == "depth.AAPL")
    assert depth["type"] == "depth" and depth["side"] in ("bid", "ask")
    bars = subprocess.run(
        [ibsub, "tail", "--exact", "AAPL", "--type", "bar", "--count", "2", *endpoints(kinds)],
        capture_output=True, text=True, timeout=DEADLINE,
    )  # fmt: skip
    assert bars.returncode == 0, bars.stderr
    assert [line.split()[1] for line in bars.stdout.splitlines()] == ["bar.AAPL", "bar.AAPL"]
    assert all(" bar TRADES " in line for line in bars.stdout.splitlines())


def test_ibsub_record_writes_every_kind(kinds: Stack, procs: Processes, tmp_path: Path) -> None:
    """Rows of every kind, each with its own columns filled, in the same CSV files."""
    out = tmp_path / "rec"
    proc = procs.start([str(BIN / "ibsub"), "record", "--out", str(out), *endpoints(kinds)])

    def text() -> str:
        return "".join(p.read_text() for p in out.glob("ibsub-*.csv")) if out.is_dir() else ""

    wait_for(
        lambda: all(f"\n{kind}," in text() for kind in ("tick", "tbt", "depth", "bar", "greeks")),
        "rows of every kind",
    )
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=DEADLINE) == 0
    rows: list[dict[str, str]] = []
    for path in sorted(out.glob("ibsub-*.csv")):
        with path.open(newline="") as f:
            rows += csv.DictReader(f)
    by_kind = {row["row"]: row for row in rows}
    assert by_kind["depth"]["operation"] in ("insert", "update", "delete")
    assert by_kind["depth"]["field"] == "" and by_kind["tick"]["operation"] == ""
    assert float(by_kind["bar"]["close"]) > 0 and by_kind["bar"]["what"] == "TRADES"
    assert by_kind["greeks"]["field"].endswith("_option")
    assert by_kind["tbt"]["kind"] in ("last", "bid_ask")

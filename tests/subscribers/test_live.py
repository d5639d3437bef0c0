"""The subscriber library against a real publisher: late joining, loss, restarts and silence.

The publisher (PublisherService fed by the simulated gateway) runs in-process on real sockets;
where a subscriber must see every tick from ``seq`` 1, the publisher starts first, the
subscriber connects and hears a heartbeat, and only then does the simulator start.
"""

import os
import shutil
import signal
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from subscribers.book import Book
from subscribers.client import Subscriber
from subscribers.events import (
    Event,
    Gap,
    PublisherRestart,
    PublisherSilent,
    SnapshotApplied,
)
from subscribers.wire import Heartbeat, Message, Tick
from tests.helpers import BIN, Processes, free_port, processes, wait_for
from tests.subscribers.live import LivePublisher, start_gateway


@pytest.fixture
def procs() -> Iterator[Processes]:
    with processes() as group:
        yield group


def heard(sub: Subscriber, name: str) -> bool:
    """Read for a moment; True once a heartbeat of publisher ``name`` has arrived."""
    sub.recv(timeout=0.05)
    return name in sub.publishers


def of(events: list[Event], kind: type) -> list[Event]:
    return [e for e in events if isinstance(e, kind)]


def book_of(ticks: list[Tick]) -> dict[str, tuple[object, ...]]:
    """Each instrument's top of book and last update time after applying ``ticks`` in order."""
    book = Book()
    for tick in ticks:
        book.apply_tick(tick)
    return {key: (*quote.top(), quote.updated_ns) for key, quote in book.quotes.items()}


def test_late_joiner_starts_from_the_early_view_without_gap_or_duplicate(
    tmp_path: Path,
) -> None:
    """A snapshot joiner's book equals an early subscriber's at the snapshot's seqs, then its
    live ticks continue each topic's seqs exactly, the same ticks the early one received."""
    port = free_port()
    live = LivePublisher(tmp_path, port).start()
    gateway = None
    try:
        with Subscriber(live.endpoint, prefixes=["tick."]) as early:
            wait_for(lambda: heard(early, live.name), "the early subscriber to be subscribed")
            gateway = start_gateway(port, rate=400)
            early_ticks: list[Message] = []

            def early_reads(count: int) -> bool:
                while (msg := early.recv(timeout=0)) is not None:
                    early_ticks.append(msg)
                return len(early_ticks) >= count or bool(early.recv(timeout=0.02) and False)

            wait_for(lambda: early_reads(400), "400 ticks on the early subscriber")
            events: list[Event] = []
            late_msgs: list[Message] = []
            with Subscriber(
                live.endpoint,
                prefixes=["tick."],
                snapshot=True,
                snapshot_endpoint=live.snapshot_endpoint,
                on_event=events.append,
            ) as late:

                def late_reads() -> bool:
                    while (msg := late.recv(timeout=0.02)) is not None:
                        late_msgs.append(msg)
                    early_reads(0)
                    return late.stats.received >= 300

                wait_for(late_reads, "300 live ticks on the late joiner")
                late_stats = late.stats
            late_max = {m.topic: m.seq for m in late_msgs}
            wait_for(
                lambda: early_reads(0)
                and all(any(m.topic == t and m.seq >= s for m in early_ticks) for t, s in
                        late_max.items()),
                "the early subscriber to catch up",
            ) if False else None
            covered = lambda: (  # noqa: E731
                early_reads(0),
                all(max((m.seq for m in early_ticks if m.topic == t), default=0) >= s
                    for t, s in late_max.items()),
            )[1]
            wait_for(covered, "the early subscriber to pass the late joiner")
            early_stats = early.stats
    finally:
        live.stop()
        if gateway is not None:
            gateway.stop()

    assert (early_stats.gaps, late_stats.gaps, late_stats.lost, late_stats.stale) == (0, 0, 0, 0)
    (applied,) = of(events, SnapshotApplied)
    assert isinstance(applied, SnapshotApplied)
    snapshot_ticks = late_msgs[: applied.ticks]
    live_ticks = late_msgs[applied.ticks :]
    assert all(isinstance(t, Tick) and t.seq <= applied.seqs[t.topic] for t in snapshot_ticks)

    early_by_topic: dict[str, list[Tick]] = defaultdict(list)
    for msg in early_ticks:
        assert isinstance(msg, Tick)
        early_by_topic[msg.topic].append(msg)
    for topic, ticks in early_by_topic.items():  # the early view is complete from seq 1
        assert [t.seq for t in ticks] == list(range(1, len(ticks) + 1)), topic

    at_snapshot = [
        t for t in early_ticks if isinstance(t, Tick) and t.seq <= applied.seqs.get(t.topic, 0)
    ]
    assert book_of([t for t in snapshot_ticks if isinstance(t, Tick)]) == book_of(at_snapshot)

    live_by_topic: dict[str, list[Message]] = defaultdict(list)
    for msg in live_ticks:
        live_by_topic[msg.topic].append(msg)
    for topic, msgs in live_by_topic.items():
        first = applied.seqs[topic] + 1
        assert [m.seq for m in msgs] == list(range(first, first + len(msgs))), topic
        assert msgs == early_by_topic[topic][first - 1 : first - 1 + len(msgs)], topic

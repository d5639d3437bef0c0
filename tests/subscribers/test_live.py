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
from typing import Any, TypeVar

import pytest

from subscribers.book import Book
from subscribers.client import Subscriber
from subscribers.events import (
    Event,
    Gap,
    PublisherRestart,
    PublisherSilent,
    SnapshotApplied,
    SnapshotFailed,
)
from subscribers.liveness import DEFAULT_INTERVAL
from subscribers.wire import Heartbeat, Message, Tick
from tests.support.config import LIVE
from tests.support.processes import BIN, Processes, free_port
from tests.support.stack import Stack
from tests.support.waiting import wait_for

E = TypeVar("E", bound=Event)
HEARTBEAT = 0.2  # the test publisher's heartbeat_interval


class Reader:
    """A subscriber, what it delivered so far, and the events it reported."""

    def __init__(self, endpoint: str, **options: Any) -> None:
        self.events: list[Event] = []
        self.sub = Subscriber(endpoint, on_event=self.events.append, **options)
        self.messages: list[Message] = []

    def read(self, wait: float = 0.02) -> "Reader":
        """Take whatever has arrived (waiting up to ``wait`` for the first message)."""
        msg = self.sub.recv(timeout=wait)
        while msg is not None:
            self.messages.append(msg)
            msg = self.sub.recv(timeout=0)
        return self

    def heard(self, name: str) -> bool:
        """True once a heartbeat of publisher ``name`` has arrived."""
        self.read()
        return name in self.sub.publishers

    def ticks(self) -> list[Tick]:
        return [m for m in self.messages if isinstance(m, Tick)]

    def heartbeats(self) -> list[dict[str, int]]:
        """The tick seqs of each heartbeat delivered, oldest first."""
        return [dict(m.seqs) for m in self.messages if isinstance(m, Heartbeat)]

    def events_of(self, kind: type[E]) -> list[E]:
        return [e for e in self.events if isinstance(e, kind)]

    def last_seq(self, topic: str) -> int:
        return max((m.seq for m in self.messages if m.topic == topic), default=0)

    def close(self) -> None:
        self.sub.close()


@pytest.fixture
def readers() -> Iterator[list[Reader]]:
    """Readers created by a test, closed at teardown."""
    made: list[Reader] = []
    yield made
    for reader in made:
        reader.close()


def book_of(ticks: list[Tick]) -> dict[str, tuple[object, ...]]:
    """Each instrument's top of book and last update time after applying ``ticks`` in order."""
    book = Book()
    for tick in ticks:
        book.apply_tick(tick)
    return {key: (*quote.top(), quote.updated_ns) for key, quote in book.quotes.items()}


def test_late_joiner_starts_from_the_early_view_without_gap_or_duplicate(
    stack: Stack, readers: list[Reader]
) -> None:
    """A snapshot joiner's book equals an early subscriber's at the snapshot's seqs, then its
    live ticks continue each topic's seqs exactly: the very ticks the early one received."""
    live = stack.start_publisher(**LIVE)
    try:
        early = Reader(live.endpoint, prefixes=["tick."])
        readers.append(early)
        wait_for(lambda: early.heard(live.name), "the early subscriber to be subscribed")
        stack.start_gateway(rate=400)
        wait_for(lambda: len(early.read().messages) >= 400, "400 ticks on the early subscriber")
        late = Reader(
            live.endpoint,
            prefixes=["tick."],
            snapshot=True,
            snapshot_endpoint=live.snapshot_endpoint,
        )
        readers.append(late)
        wait_for(
            lambda: early.read(0) and late.read().sub.stats.received >= 300,
            "300 live ticks on the late joiner",
        )
        topics = {m.topic for m in late.messages}
        wait_for(
            lambda: all(early.read().last_seq(t) >= late.last_seq(t) for t in topics),
            "the early subscriber to catch up with the late joiner",
        )
    finally:
        live.stop()

    late_stats = late.sub.stats
    assert (early.sub.stats.gaps, late_stats.gaps, late_stats.lost) == (0, 0, 0)
    (applied,) = late.events_of(SnapshotApplied)
    snapshot_ticks, live_ticks = late.ticks()[: applied.ticks], late.ticks()[applied.ticks :]
    assert all(t.seq <= applied.seqs[t.topic] for t in snapshot_ticks)

    early_by_topic: dict[str, list[Tick]] = defaultdict(list)
    for tick in early.ticks():
        early_by_topic[tick.topic].append(tick)
    for topic, ticks in early_by_topic.items():  # the early view is complete from seq 1
        assert [t.seq for t in ticks] == list(range(1, len(ticks) + 1)), topic

    known = [t for t in early.ticks() if t.seq <= applied.seqs.get(t.topic, 0)]
    assert book_of(snapshot_ticks) == book_of(known)

    live_by_topic: dict[str, list[Tick]] = defaultdict(list)
    for tick in live_ticks:
        live_by_topic[tick.topic].append(tick)
    assert live_by_topic
    for topic, ticks in live_by_topic.items():
        first = applied.seqs[topic] + 1
        assert [t.seq for t in ticks] == list(range(first, first + len(ticks))), topic
        assert ticks == early_by_topic[topic][first - 1 : first - 1 + len(ticks)], topic


def test_paused_subscriber_reports_exactly_what_it_missed(
    stack: Stack, readers: list[Reader]
) -> None:
    """A paused subscriber with a tiny queue, overrun by a burst, reports as lost exactly the
    ticks it did not receive; so does an unpaused one, which misses far fewer (normally none)."""
    # ipc: a Unix socket buffers far less than loopback TCP, so a short burst overruns it.
    directory = Path(tempfile.mkdtemp(prefix="ibpub-"))
    live = stack.start_publisher(
        **LIVE, bus={"send_hwm": 2000}, pub_endpoint=f"ipc://{directory}/bus"
    )
    try:
        steady = Reader(live.endpoint, prefixes=["tick.", "hb."])
        paused = Reader(live.endpoint, prefixes=["tick.", "hb."], rcvhwm=10)
        readers += [steady, paused]
        wait_for(lambda: steady.heard(live.name), "the steady subscriber to be subscribed")
        wait_for(lambda: paused.heard(live.name), "the paused subscriber to be subscribed")
        gateway = stack.start_gateway(rate=5000)
        wait_for(lambda: len(steady.read().ticks()) >= 10_000, "a burst of 10,000 ticks")
        gateway.stop()  # the flow stops; heartbeats go on carrying the final seqs

        def flow_stopped() -> bool:
            heartbeats = steady.read().heartbeats()
            return len(heartbeats) >= 2 and heartbeats[-1] == heartbeats[-2]

        wait_for(flow_stopped, "two heartbeats with the same seqs", every=0.2)
        final = steady.heartbeats()[-1]
        wait_for(
            lambda: final in paused.read().heartbeats(),
            "the paused subscriber to read up to a heartbeat after the flow stopped",
        )
    finally:
        live.stop()
        shutil.rmtree(directory, ignore_errors=True)

    published = sum(final.values())
    for reader in (steady, paused):  # every tick published was either received or reported
        assert len(reader.ticks()) + tick_losses(reader) == published
    assert tick_losses(paused) > tick_losses(steady)  # normally none for the steady one


def tick_losses(reader: Reader) -> int:
    """The tick messages a reader's gap events reported lost."""
    return sum(e.missing for e in reader.events_of(Gap) if e.topic.startswith("tick."))


def test_restart_is_reported_and_resynchronised(stack: Stack, readers: list[Reader]) -> None:
    """When the publisher restarts, the subscriber reports the new sid, applies a snapshot of
    the new session and carries on from it without counting the restart as loss."""
    stack.start_gateway(rate=300)
    live = stack.start_publisher(**LIVE)
    try:
        reader = Reader(
            live.endpoint,
            prefixes=["tick."],
            snapshot=True,
            snapshot_endpoint=live.snapshot_endpoint,
        )
        readers.append(reader)
        wait_for(lambda: reader.read().sub.stats.received >= 50, "live ticks before the restart")
        old_sid = live.sid
        live.restart()
        new_sid = live.sid

        def resynced() -> bool:
            reader.read()
            snapshots = reader.events_of(SnapshotApplied)
            return any(s.sid == new_sid for s in snapshots) and reader.ticks()[-1].sid == new_sid

        wait_for(resynced, "a snapshot of the new session and its live ticks")
    finally:
        live.stop()

    (restart,) = reader.events_of(PublisherRestart)
    assert restart == PublisherRestart(live.name, old_sid, new_sid)
    assert [s.sid for s in reader.events_of(SnapshotApplied)] == [old_sid, new_sid]
    stats = reader.sub.stats
    assert (stats.gaps, stats.lost, stats.publisher_restarts) == (0, 0, 1)
    (resync,) = [s for s in reader.events_of(SnapshotApplied) if s.sid == new_sid]
    after = [t for t in reader.ticks() if t.sid == new_sid]
    assert after[0].seq <= resync.seqs[after[0].topic]  # the snapshot's ticks come first
    quote = reader.sub.book.quotes[after[-1].key]
    assert quote.updated_ns >= after[-1].ts  # the book follows the new session


def test_unanswered_snapshot_fails_and_live_ticks_flow(stack: Stack, readers: list[Reader]) -> None:
    """With no snapshot server answering, the subscriber reports SnapshotFailed and delivers
    live ticks anyway."""
    stack.start_gateway(rate=300)
    live = stack.start_publisher(**LIVE)
    try:
        reader = Reader(
            live.endpoint,
            prefixes=["tick."],
            snapshot=True,
            snapshot_endpoint=f"tcp://127.0.0.1:{free_port()}",  # nobody there
            snapshot_timeout=0.2,
        )
        readers.append(reader)
        wait_for(lambda: len(reader.read().ticks()) >= 20, "live ticks after the failure")
    finally:
        live.stop()
    (failed,) = reader.events_of(SnapshotFailed)
    assert "no snapshot reply" in failed.reason
    assert reader.sub.stats.snapshot_failures == 1
    assert reader.sub.synchronised


def test_killed_publisher_is_reported_silent(
    stack: Stack, tmp_path: Path, procs: Processes, readers: list[Reader]
) -> None:
    """After ``ibpub run`` is killed, the subscriber reports it silent for 3 heartbeat intervals
    (the interval it learnt from the heartbeats, not its 1 s default)."""
    stack.start_gateway(rate=100)
    live = stack.publisher_for(**LIVE)  # not started: its configuration runs as a process
    config = tmp_path / "run.toml"
    config.write_text(live.config_text())
    publisher = procs.start([str(BIN / "ibpub"), "run", "--config", str(config)])
    reader = Reader(live.endpoint, prefixes=["tick."])
    readers.append(reader)
    # Two heartbeats in a row teach the subscriber the interval (0.2 s, not the 1 s default).
    wait_for(
        lambda: reader.heard(live.name) and reader.sub.publishers[live.name].interval < 0.5,
        "the heartbeat interval to be learnt",
    )
    os.killpg(publisher.pid, signal.SIGKILL)
    wait_for(lambda: reader.read().events_of(PublisherSilent), "the silence to be reported")

    (silent,) = reader.events_of(PublisherSilent)
    assert silent.pub == live.name
    assert HEARTBEAT * 0.5 <= silent.interval < DEFAULT_INTERVAL  # learnt, however late
    assert silent.silent_for >= 3 * silent.interval
    assert not reader.sub.publishers[live.name].alive

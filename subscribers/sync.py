"""A subscriber's snapshot synchronisation: ZeroMQ's Clone pattern, as a small state machine.

With ``snapshot=True`` the subscriber subscribes, waits for a heartbeat (proof that its
subscriptions are active at the publisher), asks the snapshot endpoint for the latest ticks,
delivers them, then delivers the live messages that are newer than the snapshot and drops the
older ones, so nothing is missed or repeated. After a snapshot every message of that session is
accounted for from ``seq`` 1, even on topics that appear later. A publisher restart starts it
again.

:class:`SnapshotSync` holds the live messages back while it waits, owns the snapshot socket's
place in the subscriber's poller, and applies the reply to the subscriber's
:class:`~subscribers.intake.Intake` (sequence tracker, book, states, delivery queue); the
:class:`~subscribers.client.Subscriber` feeds it messages, restarts, readable sockets and the
time, and rearms its own timers after each call.
"""

import enum
import math
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any

import zmq

from subscribers.events import Event, SnapshotApplied, SnapshotFailed
from subscribers.intake import Intake
from subscribers.schema import DEPTH_PREFIX
from subscribers.snapshot import Snapshot, SnapshotClient, SnapshotError
from subscribers.wire import Heartbeat, Message


class SyncState(enum.Enum):
    LIVE = "live"
    """Messages are processed and delivered as they arrive."""
    AWAIT_HEARTBEAT = "await-heartbeat"
    """Snapshot mode, starting: holding messages until a heartbeat proves we are subscribed."""
    AWAIT_SNAPSHOT = "await-snapshot"
    """Snapshot requested: holding live messages until it is applied (or fails)."""


class SnapshotSync:
    """The snapshot synchronisation of one subscriber (always :attr:`live` when not enabled),
    whose messages go through ``intake`` once it is."""

    def __init__(
        self,
        snapshots: SnapshotClient,
        poller: zmq.Poller,
        intake: Intake,
        *,
        enabled: bool,
        timeout: float,
        clock: Callable[[], float],
        on_event: Callable[[Event], None],
    ) -> None:
        self.snapshots = snapshots
        self.enabled = enabled
        self.timeout = timeout
        self.state = SyncState.AWAIT_HEARTBEAT if enabled else SyncState.LIVE
        self.deadline = math.inf
        """When the reply in flight is given up on; infinity while none is."""
        self.pubs: frozenset[str] = frozenset()
        """Publishers whose ticks the last snapshot held: a restart of one of them resyncs."""
        self._poller = poller
        self._polled: zmq.Socket[Any] | None = None
        self._clock = clock
        self._on_event = on_event
        self._intake = intake
        self._held: list[Message] = []
        self._partial: set[str] | None = None
        """The depth topics a book resync in flight asks for; None for a whole snapshot."""
        intake.on_resync = self.resync

    @property
    def live(self) -> bool:
        """False while a snapshot is awaited (live messages are then held back)."""
        return self.state is SyncState.LIVE

    def hold(self, msg: Message) -> bool:
        """Keep a live message until the snapshot is in (call only while not :attr:`live`);
        the first heartbeat proves the subscriptions active, so the snapshot is asked for
        (True then: the deadline changed)."""
        self._held.append(msg)
        if self.state is SyncState.AWAIT_HEARTBEAT and isinstance(msg, Heartbeat):
            self.request()
            return True
        return False

    def restarted(self, pub: str) -> None:
        """Publisher ``pub`` began a new session: resynchronise if its ticks are ours."""
        if not self.enabled or self.state is SyncState.AWAIT_HEARTBEAT:
            return
        # Through a proxy other publishers' restarts reach us too; only the snapshot's own
        # publisher (or any, if the snapshot was empty and named none) calls for a new one.
        if not self.pubs or pub in self.pubs:
            self.request()

    def request(self) -> None:
        """Ask for a snapshot of every cached topic subscribed to, holding messages meanwhile."""
        self._end_request()
        self._partial = None
        prefixes = self._intake.selection.snapshot_prefixes()
        if not prefixes:  # nothing subscribed is cached (status or hb only)
            self._release()
            return
        self._send(prefixes)

    def resync(self, topic: str) -> None:
        """Ask for a snapshot of one depth topic's book (holding messages meanwhile)."""
        self.sync_topics((topic,))

    def sync_topics(self, topics: Iterable[str]) -> None:
        """Ask for a snapshot of ``topics`` only (a depth topic's book to resync, or the topics
        of an instrument just granted on demand, whose first ``seq`` is then checked against
        the snapshot's), holding messages meanwhile. A whole snapshot already awaited covers
        them; a partial one in flight is widened to them."""
        wanted = set(topics)
        if not wanted:
            return
        if not self.live:
            if self._partial is None or wanted <= self._partial:
                return
            self._partial |= wanted
        else:
            self._partial = wanted
        self._end_request()
        self._send(sorted(self._partial))

    def _send(self, prefixes: list[str]) -> None:
        try:
            self.snapshots.request(prefixes)
        except zmq.ZMQError as exc:
            self._failed(f"cannot ask {self.snapshots.endpoint}: {exc.strerror}")
            return
        self._polled = self.snapshots.socket
        self._poller.register(self._polled, zmq.POLLIN)
        self.state = SyncState.AWAIT_SNAPSHOT
        self.deadline = self._clock() + self.timeout

    def on_polled(self, events: Mapping[Any, int]) -> bool:
        """Read the snapshot reply if a poll found its socket readable (True if so)."""
        if self._polled is None or self._polled not in events:
            return False
        try:
            snapshot = self.snapshots.on_readable()
        except SnapshotError as exc:
            self._failed(exc.reason)
            return True
        if snapshot is not None:
            self._apply(snapshot)
        return True

    def run_timers(self, now: float) -> None:
        """Give up on a reply that did not come in time (delivering what was held)."""
        if now >= self.deadline:
            self._failed(
                f"no snapshot reply from {self.snapshots.endpoint} within {self.timeout:g} s"
            )

    def close(self) -> None:
        """Close the snapshot socket."""
        self.snapshots.close()

    def _apply(self, snapshot: Snapshot) -> None:
        self._end_request()
        if self._partial is not None:
            self._apply_topics(snapshot, self._partial)
            return
        intake = self._intake
        tracks = intake.selection.tracks
        seqs: dict[str, int] = {}
        pubs: set[str] = set()
        ticks = 0
        for entry in snapshot.topics:
            if not tracks(entry.topic):
                continue
            seqs[entry.topic] = entry.seq
            pubs.update(tick.pub for tick in entry.ticks)
            intake.seq.reset(entry.topic, snapshot.sid, entry.seq)
            if entry.book is not None:
                intake.seed_book(entry.topic, entry.seq, *entry.book)
            for tick in entry.ticks:
                intake.keep_latest(tick)
                intake.ready.append(tick)
                ticks += 1
        intake.seq.complete_sid = snapshot.sid
        intake.states.apply_all(snapshot.states)
        self.pubs = frozenset(pubs)
        counts = intake.counts
        counts["malformed"] += snapshot.malformed
        counts["snapshots"] += 1
        counts["snapshot_ticks"] += ticks
        self._on_event(SnapshotApplied(snapshot.sid, MappingProxyType(seqs), ticks))
        self._release()

    def _apply_topics(self, snapshot: Snapshot, topics: set[str]) -> None:
        """A partial snapshot's reply: each asked-for topic's seq is set to the snapshot's
        (unless already past it), its book seeded, its latest messages delivered; a topic the
        publisher has sent nothing on yet starts from seq 0 (so a first message above 1 is a
        gap). Then live again (held messages at or below a topic's ``seq`` are dropped as
        already in the snapshot)."""
        intake = self._intake
        sid = snapshot.sid
        delivered = 0
        for entry in snapshot.topics:
            topic = entry.topic
            if topic not in topics or not intake.current_sid(topic, sid):
                continue
            topics = topics - {topic}
            last = intake.seq.last(topic)
            after = last[1] if last is not None and last[0] == sid else 0
            if after > entry.seq:
                continue  # already past the snapshot (asyncio: read while the reply was awaited)
            intake.seq.reset(topic, sid, entry.seq)
            if entry.book is not None:
                intake.seed_book(topic, entry.seq, *entry.book)
            for msg in entry.ticks:
                if msg.seq > after:
                    intake.keep_latest(msg)
                    intake.ready.append(msg)
                    delivered += 1
        for topic in topics:  # nothing sent on it yet in this session
            if intake.seq.last(topic) is None and intake.current_sid(topic, sid):
                intake.seq.reset(topic, sid, 0)
                if topic.startswith(DEPTH_PREFIX):
                    intake.seed_book(topic, 0, (), ())
        counts = intake.counts
        counts["malformed"] += snapshot.malformed
        counts["snapshots"] += 1
        counts["snapshot_ticks"] += delivered
        self._release()

    def _failed(self, reason: str) -> None:
        self._end_request()
        self._intake.counts["snapshot_failures"] += 1
        self._on_event(SnapshotFailed(reason))
        self._release()

    def _end_request(self) -> None:
        """Stop polling for a snapshot reply and forget any still outstanding."""
        if self._polled is not None:
            self._poller.unregister(self._polled)
            self._polled = None
        if self.snapshots.pending:
            self.snapshots.cancel()
        self.deadline = math.inf

    def _release(self) -> None:
        """Go live: process the held messages, dropping those of a session since replaced."""
        self.state = SyncState.LIVE
        self._partial = None
        held, self._held = self._held, []
        intake = self._intake
        for at, msg in enumerate(held):
            if not self.live:  # a held change asked for a book resync: hold the rest again
                self._held[:0] = held[at:]
                return
            if intake.current(msg):
                intake.process(msg)

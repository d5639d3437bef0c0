"""A subscriber's receive path, pure: frames in, in-order messages queued, events out.

Everything :class:`~subscribers.client.Subscriber` does with a message once its SUB socket has
given it up, and nothing that waits: decoding (and dropping what the caller did not ask for:
ZeroMQ's prefix subscriptions let ``tick.ESZ6`` through for ``tick.ES``), spotting a
publisher's new session, heartbeats for liveness and lost tails, the per-topic ``seq`` check,
the book and ``sub.states``, and the counters of ``sub.stats``. No socket and no clock (the
time of arrival is passed in), so a test drives it with plain frames.
"""

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from msgspec import MsgspecError

from subscribers.book import Book
from subscribers.depth import DepthBook, Row
from subscribers.events import (
    BookResync,
    BookSynced,
    Event,
    Gap,
    PublisherAlive,
    PublisherRestart,
    PublisherSilent,
)
from subscribers.liveness import HeartbeatWatch
from subscribers.schema import DATA_PREFIXES, DEPTH_PREFIX
from subscribers.selection import Selection
from subscribers.states import StateTable
from subscribers.stats import SubscriberStats
from subscribers.tracking import SeqResult, SeqStatus, SeqTracker
from subscribers.wire import (
    TICK_DECODE,
    Bar,
    DataMessage,
    Depth,
    Greeks,
    Heartbeat,
    Message,
    Status,
    Tbt,
    Tick,
    UnknownTypeError,
    WireError,
    build_tick,
)
from subscribers.wire import decode as decode_message

if TYPE_CHECKING:  # anything with the buffer protocol: bytes, a zmq.Frame (no copy)
    from typing_extensions import Buffer

_DATA_PREFIXES: Final = tuple(p.encode() for p in DATA_PREFIXES)


def _no_resync(topic: str) -> None:
    """The default :attr:`Intake.on_resync`: nobody to ask (a pure test of the intake)."""


class Intake:
    """The messages of one subscriber, from frames to the queue its caller reads."""

    def __init__(
        self,
        selection: Selection,
        watch: HeartbeatWatch,
        on_event: Callable[[Event], None],
    ) -> None:
        self.selection = selection
        self.watch = watch
        self.seq = SeqTracker()
        self.book = Book()
        self.books: dict[str, DepthBook] = {}
        """The L2 book per key, from ``depth.`` messages (seeded from snapshots)."""
        self.bars: dict[str, Bar] = {}
        """The latest bar per key."""
        self.greeks: dict[str, dict[str, Greeks]] = {}
        """The latest option computation per key and field (``model_option``, ...)."""
        self.tbt: dict[str, dict[str, Tbt]] = {}
        """The latest tick-by-tick event per key and kind (``last``, ``bid_ask``, ...)."""
        self.books_ok: set[str] = set()
        """Depth topics whose book is trustworthy (seeded, or built from the session's start)."""
        self.keep_books = True
        """Whether depth messages build :attr:`books` (and resync them); False for a caller
        that only passes the changes on (``ibsub tail``, ``ibsub record``)."""
        self.on_resync: Callable[[str], None] = _no_resync
        """Asks for a snapshot of one depth topic (set by the subscriber to its sync)."""
        self._asked: set[str] = set()
        self.states = StateTable()
        self.ready: deque[Message] = deque()
        """Messages ready for the caller, in delivery order."""
        self.counts = dict.fromkeys(SubscriberStats.__slots__, 0)
        """The counters of :meth:`stats` but the sequence tracker's (the snapshot sync adds
        its own here)."""
        self.last_error: WireError | None = None
        self._tracks = selection.tracks
        self._on_event = on_event
        self._sids: dict[str, int] = {}
        self._fast_tick = selection.fast_tick
        self._fast_topics = selection.fast_ticks
        self._last_seq = self.seq.last_seen
        self._apply = self.book.apply

    def stats(self) -> SubscriberStats:
        """The counters as they are now."""
        counts = self.counts
        tracker = self.seq
        counts.update(
            stale=tracker.stale, gaps=tracker.gaps, lost=tracker.lost, restarts=tracker.restarts
        )
        return SubscriberStats(**counts)

    def decode(self, frames: list[bytes]) -> Message | None:
        """Decode one message; None (and counted) if it is filtered out or malformed."""
        if len(frames) != 2:
            name = frames[0].decode("utf-8", "backslashreplace") if frames else ""
            self._count_malformed(WireError(f"{len(frames)} frames, not 2", name))
            return None
        topic, payload = frames
        selection = self.selection
        exact = selection.exact_bytes
        if (
            exact
            and topic.startswith(_DATA_PREFIXES)
            and topic not in exact
            and not selection.passes_prefix(topic)
        ):
            self.counts["filtered"] += 1
            return None
        try:
            return decode_message(topic, payload)
        except UnknownTypeError:
            self.counts["unknown"] += 1
            return None
        except WireError as exc:
            self._count_malformed(exc)
            return None

    def take(self, topic: bytes, payload: "Buffer") -> Tick | None:
        """The common message, all at once: a valid tick on a topic the caller wants, of its
        publisher's known session and next in its topic's sequence, decoded, sequence-checked,
        applied to the book and counted, as :meth:`decode`, :meth:`note_session` and
        :meth:`process` would; it is returned, not queued (the caller delivers it now, so
        call this only when :attr:`ready` is empty). Any other message gives None and changes
        nothing: the caller then takes that full path with the same frames, which reports
        (or delivers) it."""
        text, key = self._fast_topics.get(topic) or self._fast_tick(topic)
        if not key:
            return None
        try:
            wire = TICK_DECODE(payload)
        except MsgspecError:
            return None
        sid, seq = wire.sid, wire.seq
        last = self._last_seq.get(text)  # the tracker's: is it the next in the same session?
        if last is None or last[1] != seq - 1 or last[0] != sid or self._sids.get(wire.pub) != sid:
            return None
        try:
            tick = build_tick(text, key, wire)
        except WireError:
            return None
        self._last_seq[text] = (sid, seq)  # as SeqTracker.observe records a NEXT
        self._apply(key, tick.field, tick.price, tick.size, tick.mdt, tick.ts)
        self.counts["received"] += 1
        return tick

    def _count_malformed(self, error: WireError) -> None:
        self.counts["malformed"] += 1
        self.last_error = error

    def note_session(self, msg: Message) -> bool:
        """Learn ``msg``'s publisher session; True when a known publisher began a new one
        (counted, and a :class:`~subscribers.events.PublisherRestart` emitted)."""
        known = self._sids.get(msg.pub)
        if known == msg.sid:
            return False
        self._sids[msg.pub] = msg.sid
        if known is None:
            return False
        self.counts["publisher_restarts"] += 1
        self._on_event(PublisherRestart(msg.pub, known, msg.sid))
        return True

    def current(self, msg: Message) -> bool:
        """Whether ``msg`` is of its publisher's latest session (held messages may not be)."""
        return self._sids.get(msg.pub) == msg.sid

    def current_sid(self, topic: str, sid: int) -> bool:
        """Whether ``sid`` is the latest session of the publisher of ``topic`` as far as its
        messages tell (True when none has been seen yet)."""
        last = self.seq.last(topic)
        return last is None or last[0] == sid or sid in self._sids.values()

    def note_heartbeat(self, hb: Heartbeat, now: float) -> None:
        """A heartbeat arrived at ``now``: the publisher is alive (or back)."""
        first = hb.pub not in self.watch
        if self.watch.beat(hb.pub, hb.sid, hb.seq, hb.ts, hb.gateway, now):
            self._on_event(PublisherAlive(hb.pub, hb.sid, returned=not first))

    def check_silence(self, now: float) -> None:
        """Report the publishers gone 3 heartbeat intervals without a heartbeat by ``now``."""
        for silence in self.watch.overdue(now):
            self.counts["silences"] += 1
            self._on_event(
                PublisherSilent(silence.pub, silence.sid, silence.silent_for, silence.interval)
            )

    def joined(self, topics: tuple[str, ...]) -> list[str]:
        """Take the topics of an instrument granted on demand; those new to the caller (now
        accounted for from the first ``seq`` seen)."""
        joined = self.selection.grant(topics)
        for topic in joined:
            self.seq.joined(topic)
        return joined

    def process(self, msg: Message) -> None:
        """Sequence-check one message in delivery order and queue it for the caller."""
        topic = msg.topic
        if isinstance(msg, Status):
            self.states.apply(msg)
            if not self._tracks(topic):  # read for sub.states only
                return
        result = self.seq.observe(topic, msg.sid, msg.seq)
        if result.status is SeqStatus.GAP:
            self._on_event(Gap(topic, msg.sid, msg.seq - result.missing, msg.seq - 1, "seq"))
        elif not result.fresh:
            return
        if isinstance(msg, Tick):
            self.book.apply_tick(msg)
        elif isinstance(msg, Depth):
            if self.keep_books:
                self._apply_depth(msg, result)
        elif isinstance(msg, Heartbeat):
            self._check_tail(msg)
        elif isinstance(msg, Status):
            pass
        else:
            self.keep_latest(msg)
        if self._tracks(topic):  # not a heartbeat read only for the subscriber's own use
            self.counts["received"] += 1
            self.ready.append(msg)

    def _check_tail(self, hb: Heartbeat) -> None:
        """Count the data messages the heartbeat says were sent but never arrived."""
        for topic, seq in hb.seqs.items():
            if self._tracks(topic):
                missing = self.seq.observe_tail(topic, hb.sid, seq)
                if missing:
                    self._on_event(Gap(topic, hb.sid, seq - missing + 1, seq, "heartbeat"))
                    if self.keep_books and topic.startswith(DEPTH_PREFIX):
                        self._resync(topic, f"{missing} change(s) lost (heartbeat)")

    # -- the latest state per key: books, bars, greeks, tick-by-tick -----------------------

    def keep_latest(self, msg: DataMessage) -> None:
        """Keep a non-depth data message as its key's latest (snapshot messages too)."""
        if isinstance(msg, Tick):
            self.book.apply_tick(msg)
        elif isinstance(msg, Bar):
            self.bars[msg.key] = msg
        elif isinstance(msg, Greeks):
            self.greeks.setdefault(msg.key, {})[msg.field] = msg
        elif isinstance(msg, Tbt):
            self.tbt.setdefault(msg.key, {})[msg.kind] = msg

    def seed_book(self, topic: str, seq: int, bids: tuple[Row, ...], asks: tuple[Row, ...]) -> None:
        """Take a snapshot's book of ``topic`` as it stood at ``seq``."""
        key = topic[len(DEPTH_PREFIX) :]
        book = self.books.get(key)
        if book is None:
            book = self.books[key] = DepthBook()
        book.replace(list(bids), list(asks))
        self.books_ok.add(topic)
        self._asked.discard(topic)
        self._on_event(BookSynced(topic, seq, len(bids), len(asks)))

    def _apply_depth(self, msg: Depth, result: SeqResult) -> None:
        topic = msg.topic
        book = self.books.get(msg.key)
        if book is None:
            book = self.books[msg.key] = DepthBook()
        status = result.status
        if status is SeqStatus.GAP:
            self._resync(topic, f"{result.missing} change(s) lost (seq)")
            return
        if status is SeqStatus.RESTART and msg.seq != 1:
            self._resync(topic, "publisher restarted")
            return
        if msg.seq == 1:  # the session's first change: its book starts empty, so it is ours
            book.clear()
            self.books_ok.add(topic)
            self._asked.discard(topic)
        elif topic not in self.books_ok:
            if topic not in self._asked:
                self._resync(topic, "joined mid-stream: no book to apply changes to")
            return
        if not book.apply(
            msg.position, msg.operation, msg.side, msg.price, msg.size, msg.market_maker
        ):
            self.counts["book_errors"] += 1
            self._resync(
                topic,
                f"impossible update: {msg.operation} {msg.side}[{msg.position}] "
                f"(seq {msg.seq}; {len(book.bids)} bids, {len(book.asks)} asks)",
            )

    def _resync(self, topic: str, reason: str) -> None:
        """Empty ``topic``'s book and ask for a snapshot of it."""
        book = self.books.get(topic[len(DEPTH_PREFIX) :])
        if book is not None:
            book.clear()
        self.books_ok.discard(topic)
        self._asked.add(topic)
        self.counts["book_resyncs"] += 1
        self._on_event(BookResync(topic, reason))
        self.on_resync(topic)

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

from subscribers.book import Book
from subscribers.events import Event, Gap, PublisherAlive, PublisherRestart, PublisherSilent
from subscribers.liveness import HeartbeatWatch
from subscribers.selection import Selection
from subscribers.states import StateTable
from subscribers.stats import SubscriberStats
from subscribers.tracking import SeqStatus, SeqTracker
from subscribers.wire import Heartbeat, Message, Status, Tick, UnknownTypeError, WireError
from subscribers.wire import decode as decode_message


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
            and topic.startswith(b"tick.")
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
        elif isinstance(msg, Heartbeat):
            self._check_tail(msg)
        if self._tracks(topic):  # not a heartbeat read only for the subscriber's own use
            self.counts["received"] += 1
            self.ready.append(msg)

    def _check_tail(self, hb: Heartbeat) -> None:
        """Count the tick messages the heartbeat says were sent but never arrived."""
        for topic, seq in hb.seqs.items():
            if self._tracks(topic):
                missing = self.seq.observe_tail(topic, hb.sid, seq)
                if missing:
                    self._on_event(Gap(topic, hb.sid, seq - missing + 1, seq, "heartbeat"))

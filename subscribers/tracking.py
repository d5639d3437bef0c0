"""Per-topic sequence tracking: (``sid``, ``seq``) in, a verdict out (next, gap, restart, stale).

Pure: no sockets, no clock. :class:`~subscribers.client.Subscriber` feeds it every message it
receives; a strategy reading another source (a recording, a replay) can use it alone.
"""

import enum
from dataclasses import dataclass
from typing import Final

from subscribers.schema import DATA_PREFIXES

__all__ = ["SeqResult", "SeqStatus", "SeqTracker"]


class SeqStatus(enum.Enum):
    """How one (``sid``, ``seq``) relates to the last one seen on its topic."""

    FIRST = "first"
    """The first message seen on the topic: nothing to compare with (not a gap)."""
    NEXT = "next"
    """``seq`` is one above the last."""
    GAP = "gap"
    """``seq`` skipped ahead: the messages in between were lost."""
    RESTART = "restart"
    """A new ``sid``: the publisher restarted and counting starts over (not a gap)."""
    STALE = "stale"
    """``seq`` at or below the last in the same ``sid``: a duplicate or an old message."""


@dataclass(frozen=True, slots=True)
class SeqResult:
    """The verdict on one message's sequence number; ``missing`` counts the messages lost."""

    status: SeqStatus
    missing: int = 0

    @property
    def fresh(self) -> bool:
        """True unless the message is a duplicate or older than one already seen."""
        return self.status is not SeqStatus.STALE


_FIRST: Final = SeqResult(SeqStatus.FIRST)
_NEXT: Final = SeqResult(SeqStatus.NEXT)
_RESTART: Final = SeqResult(SeqStatus.RESTART)
_STALE: Final = SeqResult(SeqStatus.STALE)


class SeqTracker:
    """Per-topic (``sid``, ``seq``) bookkeeping: counts gaps, lost messages and restarts.

    ``complete_sid`` names a session whose every tick message should be seen from ``seq`` 1
    (set after a snapshot of that session, which lists every tick topic with a message): a tick
    topic first seen in it is compared with ``seq`` 0, so messages lost before the first one
    received are counted too.
    """

    def __init__(self) -> None:
        self._last: dict[str, tuple[int, int]] = {}
        self.last_seen = self._last
        """The last (``sid``, ``seq``) per topic, read-only but for a fast path that records
        a NEXT itself (:meth:`subscribers.intake.Intake.take`)."""
        self._joined: set[str] = set()
        self.complete_sid: int | None = None
        self.gaps = 0
        """Gap events: how many times a topic's ``seq`` skipped ahead."""
        self.lost = 0
        """Messages lost: the sum of the ``seq`` numbers skipped."""
        self.restarts = 0
        """How many times a topic changed ``sid`` (a publisher restart)."""
        self.stale = 0
        """Duplicates and old messages seen (they do not change the state)."""

    def observe(self, topic: str, sid: int, seq: int) -> SeqResult:
        """Record one message's (``sid``, ``seq``) on ``topic`` and classify it."""
        last = self._last.get(topic)
        if last is None or last[0] != sid:
            restarted = last is not None
            self.restarts += restarted
            self._last[topic] = (sid, seq)
            joined = topic in self._joined
            self._joined.discard(topic)
            if sid != self.complete_sid or not topic.startswith(DATA_PREFIXES) or joined:
                return _RESTART if restarted else _FIRST
            if seq == 1:
                return _RESTART if restarted else _NEXT
            return self._gap(seq - 1)
        last_seq = last[1]
        if seq <= last_seq:
            self.stale += 1
            return _STALE
        self._last[topic] = (sid, seq)
        if seq == last_seq + 1:
            return _NEXT
        return self._gap(seq - last_seq - 1)

    def observe_tail(self, topic: str, sid: int, seq: int) -> int:
        """A heartbeat says ``seq`` was the last sent on ``topic``: count and return the
        messages never received (0 when none, or when there is nothing to compare with)."""
        last = self._last.get(topic)
        if last is not None and last[0] == sid:
            last_seq = last[1]
        elif last is None and topic in self._joined:
            # Not yet a baseline: the subscription may not have reached the publisher yet (a
            # heartbeat cannot prove it, its own subscription being older), so the topic's
            # first message will be.
            return 0
        elif sid == self.complete_sid and topic.startswith(DATA_PREFIXES):
            self.restarts += last is not None
            last_seq = 0
        else:
            return 0
        if seq <= last_seq:
            return 0
        self._last[topic] = (sid, seq)
        return self._gap(seq - last_seq).missing

    def joined(self, topic: str) -> None:
        """``topic`` is subscribed to only now (an on-demand instrument that may already be
        streaming): its first message, or heartbeat ``seq``, is a baseline even in
        ``complete_sid``, since what was sent before the subscription took effect was never
        ours to lose (a heartbeat ``seq`` before that first message is no baseline)."""
        if topic not in self._last:
            self._joined.add(topic)

    def reset(self, topic: str, sid: int, seq: int) -> None:
        """Take (``sid``, ``seq``) as the last seen on ``topic`` (e.g. from a snapshot)."""
        self._joined.discard(topic)
        self._last[topic] = (sid, seq)

    def _gap(self, missing: int) -> SeqResult:
        self.gaps += 1
        self.lost += missing
        return SeqResult(SeqStatus.GAP, missing)

    def last(self, topic: str) -> tuple[int, int] | None:
        """The last (``sid``, ``seq``) recorded on ``topic``, or None before the first."""
        return self._last.get(topic)

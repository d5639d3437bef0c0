"""What a :class:`~subscribers.client.Subscriber` noticed besides messages (pure values).

A subscriber passes each event to its ``on_event`` callback when it happens, before the
message that revealed it is returned, so a recorder can write a gap row in the right place.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, TypeAlias

GapSource: TypeAlias = Literal["seq", "heartbeat"]


@dataclass(frozen=True, slots=True)
class Gap:
    """Messages ``first``..``last`` (``missing`` of them) on ``topic`` in session ``sid`` were lost.

    ``detected_by`` is ``"seq"`` when a later message skipped ahead, ``"heartbeat"`` when the
    publisher's heartbeat reported a higher ``seq`` than the last one received (a lost tail).
    """

    topic: str
    sid: int
    first: int
    last: int
    detected_by: GapSource

    @property
    def missing(self) -> int:
        """How many messages were lost."""
        return self.last - self.first + 1


@dataclass(frozen=True, slots=True)
class PublisherRestart:
    """Publisher ``pub`` started a new session: ``sid`` changed from ``old_sid``."""

    pub: str
    old_sid: int
    sid: int


@dataclass(frozen=True, slots=True)
class PublisherSilent:
    """No heartbeat from ``pub`` for ``silent_for`` seconds, at least 3 of its ``interval``s:
    treat it as gone (stopped, crashed or unreachable) and its last values as stale."""

    pub: str
    sid: int
    silent_for: float
    interval: float


@dataclass(frozen=True, slots=True)
class PublisherAlive:
    """A heartbeat from ``pub``: the first one seen (``returned`` False) or after a silence."""

    pub: str
    sid: int
    returned: bool


@dataclass(frozen=True, slots=True)
class SnapshotApplied:
    """A snapshot of session ``sid`` was applied: ``ticks`` ticks; ``seqs`` maps each topic to
    its ``seq`` at the snapshot (live messages at or below it were dropped as already known)."""

    sid: int
    seqs: Mapping[str, int]
    ticks: int

    @property
    def topics(self) -> int:
        """How many topics the snapshot held."""
        return len(self.seqs)


@dataclass(frozen=True, slots=True)
class SnapshotFailed:
    """A snapshot could not be had; ``reason`` says why. Live messages carry on regardless,
    without a baseline; the next publisher restart (or a new subscriber) asks again."""

    reason: str


@dataclass(frozen=True, slots=True)
class Requested:
    """An on-demand instrument was granted: ``key`` streams on ``topics``. ``again`` is True
    for a request the subscriber made by itself (after a publisher restart, or a lost lease)."""

    key: str
    topics: tuple[str, ...]
    state: str
    again: bool


@dataclass(frozen=True, slots=True)
class RequestFailed:
    """A request the subscriber made by itself (a renewal, or asking again) failed: ``error``
    is the contract's code (or ``timeout``); ``retrying`` says whether it will ask again."""

    instrument: str
    error: str
    message: str
    retrying: bool


@dataclass(frozen=True, slots=True)
class BookResync:
    """The L2 book of ``topic`` (a ``depth.`` topic) can no longer be trusted and was emptied;
    a snapshot of it is asked for. ``reason``: a gap, a publisher restart, an update that is
    impossible for the book, or a first change seen mid-stream with no book to apply it to."""

    topic: str
    reason: str


@dataclass(frozen=True, slots=True)
class BookSynced:
    """The L2 book of ``topic`` was seeded from a snapshot, as it stood at ``seq`` (``bids``
    and ``asks`` rows); changes above ``seq`` are applied to it from here on."""

    topic: str
    seq: int
    bids: int
    asks: int


Event: TypeAlias = (
    Gap
    | PublisherRestart
    | PublisherSilent
    | PublisherAlive
    | SnapshotApplied
    | SnapshotFailed
    | Requested
    | RequestFailed
    | BookResync
    | BookSynced
)


def describe(event: Event) -> str:
    """One human-readable line for ``event``."""
    if isinstance(event, Gap):
        where = "by heartbeat" if event.detected_by == "heartbeat" else "by seq"
        span = f"seq {event.first}"
        if event.last != event.first:
            span += f"..{event.last}"
        return f"gap on {event.topic}: {event.missing} lost ({span}, detected {where})"
    if isinstance(event, PublisherRestart):
        return f"publisher {event.pub} restarted: sid {event.old_sid} -> {event.sid}"
    if isinstance(event, PublisherSilent):
        return (
            f"publisher {event.pub} silent for {event.silent_for:.1f} s "
            f"(heartbeat every {event.interval:g} s): treating it as gone"
        )
    if isinstance(event, PublisherAlive):
        verb = "is back" if event.returned else "is alive"
        return f"publisher {event.pub} {verb} (sid {event.sid})"
    if isinstance(event, SnapshotApplied):
        counted = f"{_count(event.ticks, 'tick')} on {_count(event.topics, 'topic')}"
        return f"snapshot applied: {counted} (sid {event.sid})"
    if isinstance(event, Requested):
        how = "requested again" if event.again else "requested"
        return f"{event.key} {how}: {', '.join(event.topics)} ({event.state})"
    if isinstance(event, BookResync):
        return f"book {event.topic} resync: {event.reason}"
    if isinstance(event, BookSynced):
        return (
            f"book {event.topic} synced at seq {event.seq}: "
            f"{_count(event.bids, 'bid')}, {_count(event.asks, 'ask')}"
        )
    if isinstance(event, RequestFailed):
        then = "; will retry" if event.retrying else ""
        return f"request for {event.instrument} failed: {event.error}: {event.message}{then}"
    return f"snapshot failed: {event.reason}"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"

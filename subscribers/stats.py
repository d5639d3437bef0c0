"""The counters one :class:`~subscribers.client.Subscriber` reports as ``sub.stats``.

A frozen value, taken when read: the subscriber keeps plain integers while it runs (one
increment per message, no object churn) and builds one of these only when asked.
"""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SubscriberStats:
    """Counters of one :class:`~subscribers.client.Subscriber` at one moment."""

    received: int = 0
    """Live messages delivered to the caller."""
    malformed: int = 0
    """Messages that broke the contract (wrong frame count, failed decode); skipped."""
    unknown: int = 0
    """Messages of a type this library does not know (a later contract's data kind, such as
    ``news.``); skipped without complaint, as contract 1.1 asks of every subscriber."""
    filtered: int = 0
    """Data topics dropped by exact-key filtering (``tick.ESZ6`` when only ``ES`` is wanted)."""
    stale: int = 0
    """Duplicates and messages older than what was delivered (or than a snapshot); skipped."""
    gaps: int = 0
    """Gap events across all topics."""
    lost: int = 0
    """Messages lost in those gaps."""
    restarts: int = 0
    """Topics seen changing ``sid`` (publisher restarts)."""
    publisher_restarts: int = 0
    """Publishers seen starting a new session."""
    silences: int = 0
    """Times a publisher went 3 heartbeat intervals without a heartbeat."""
    snapshots: int = 0
    """Snapshots applied."""
    snapshot_ticks: int = 0
    """Ticks delivered from snapshots (not counted in ``received``)."""
    snapshot_failures: int = 0
    """Snapshot requests that failed (no reply in time, or a bad one)."""
    book_resyncs: int = 0
    """Times an L2 book was emptied and a snapshot of it asked for (gap, restart, impossible
    update, joined mid-stream)."""
    book_errors: int = 0
    """Depth changes that were impossible for the book (a resync followed)."""

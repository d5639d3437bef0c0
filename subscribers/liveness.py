"""Which publishers are alive, from their heartbeats (pure: the caller passes the clock).

A publisher sends ``hb.<name>`` every ``heartbeat_interval`` seconds; one not heard from for
:data:`MISSED_BEATS` intervals is silent (contract v1). The interval is not on the wire, so the
watch learns it from the publish times of consecutive heartbeats (``seq`` one apart) unless it
is given one; until it has learnt it, it assumes :data:`DEFAULT_INTERVAL`.
"""

from dataclasses import dataclass
from typing import Final

MISSED_BEATS: Final = 3
DEFAULT_INTERVAL: Final = 1.0
"""The publisher's default ``bus.heartbeat_interval``, assumed until one is learnt."""
MIN_INTERVAL: Final = 0.001


@dataclass(frozen=True, slots=True)
class PublisherInfo:
    """What the last heartbeat of one publisher said, and whether it is still heard."""

    pub: str
    sid: int
    gateway: str
    interval: float
    """Seconds between heartbeats (given, learnt, or the default)."""
    last_seen: float
    """When its last heartbeat arrived, on the watch's clock (monotonic seconds)."""
    alive: bool


@dataclass(slots=True)
class _Watched:
    sid: int
    gateway: str
    seq: int
    ts: int
    interval: float
    last_seen: float
    alive: bool = True


@dataclass(frozen=True, slots=True)
class Silence:
    """A publisher found silent by :meth:`HeartbeatWatch.overdue`."""

    pub: str
    sid: int
    silent_for: float
    interval: float


class HeartbeatWatch:
    """Tracks every publisher's last heartbeat; reports those silent for 3 intervals once each."""

    def __init__(self, interval: float | None = None) -> None:
        if interval is not None and not interval > 0:
            raise ValueError(f"heartbeat interval must be > 0 seconds, not {interval}")
        self._given = interval
        self._watched: dict[str, _Watched] = {}

    def __contains__(self, pub: object) -> bool:
        """Whether a heartbeat of ``pub`` has been seen."""
        return pub in self._watched

    def beat(self, pub: str, sid: int, seq: int, ts: int, gateway: str, now: float) -> bool:
        """Record a heartbeat received at ``now``; True if ``pub`` is new or was silent."""
        known = self._watched.get(pub)
        if known is None:
            self._watched[pub] = _Watched(
                sid, gateway, seq, ts, self._given or DEFAULT_INTERVAL, now
            )
            return True
        if self._given is None and sid == known.sid and seq == known.seq + 1 and ts > known.ts:
            known.interval = max(MIN_INTERVAL, (ts - known.ts) / 1e9)
        came_back = not known.alive
        known.sid, known.gateway, known.seq, known.ts = sid, gateway, seq, ts
        known.last_seen, known.alive = now, True
        return came_back

    def overdue(self, now: float) -> list[Silence]:
        """Publishers that have just become silent at ``now`` (each reported once per silence)."""
        found = []
        for pub, w in self._watched.items():
            if w.alive and now - w.last_seen >= MISSED_BEATS * w.interval:
                w.alive = False
                found.append(Silence(pub, w.sid, now - w.last_seen, w.interval))
        return found

    def next_check(self) -> float | None:
        """The earliest time a live publisher can become silent, or None if none is live."""
        times = [w.last_seen + MISSED_BEATS * w.interval for w in self._watched.values() if w.alive]
        return min(times) if times else None

    def info(self) -> dict[str, PublisherInfo]:
        """Every publisher heard so far, by name."""
        return {
            pub: PublisherInfo(pub, w.sid, w.gateway, w.interval, w.last_seen, w.alive)
            for pub, w in self._watched.items()
        }

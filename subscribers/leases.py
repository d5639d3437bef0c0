"""What a subscriber holds on demand, and when to renew or ask again (pure: the clock is passed).

A :class:`~subscribers.client.Subscriber` (or :class:`~subscribers.aio.AsyncSubscriber`) asks
the publisher's control socket for instruments; this module only keeps the books:

* each :class:`Wanted` instrument (what was asked for) and, once granted, its :class:`Held`
  record (the key, the topics, when the lease runs out);
* when to renew: about every lease/3 (the lease asked for, else the one granted), so two renewals
  can be lost before a lease runs out;
* what to do when a renewal fails: a refusal means the publisher no longer knows the hold (it
  restarted, or the lease ran out), so the instrument is asked for again; a timeout is retried;
* after a publisher restart (a new ``sid`` on the bus) every held instrument is asked for again;
* a request refused for a transient reason (``budget_exceeded``, ``rate_limited``, a timeout) is
  retried with a capped backoff; a permanent one (``unknown_contract``...) is given up.

Times here are the caller's monotonic seconds; ``lease_expires`` on the wire is the
publisher's wall clock (ns since the epoch), turned into a duration with the caller's wall
clock once, when the reply arrives.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from subscribers.schema import DEFAULT_DATA, ControlInstrument, SubscribeReply

RENEW_FRACTION: Final = 1 / 3
"""Renew after this fraction of the lease: two renewals may be lost before it runs out."""
MIN_RENEW: Final = 0.05
"""The shortest renewal interval, for a lease asked for by the caller (tests use short ones)."""
MIN_DERIVED_RENEW: Final = 0.5
"""The shortest interval derived from the publisher's ``lease_expires`` (clocks may differ)."""
RETRY_FIRST: Final = 1.0
RETRY_MAX: Final = 30.0
TRANSIENT: Final = frozenset({"budget_exceeded", "limit_exceeded", "rate_limited", "timeout"})
"""Refusals worth asking again for (lines may free up; a timeout may be a restart)."""


@dataclass(frozen=True, slots=True)
class Wanted:
    """One on-demand request as the caller made it."""

    instrument: ControlInstrument
    data: tuple[str, ...] = DEFAULT_DATA
    lease: float | None = None
    """Seconds asked for; None: the publisher's ``control.lease``."""


@dataclass(frozen=True, slots=True)
class Held:
    """A granted request: the publisher's key and topics for it, and its latest lease."""

    wanted: Wanted
    key: str
    conid: int
    topics: tuple[str, ...]
    state: str
    lease_expires: int
    """ns since the epoch (publisher clock), from the last subscribe or renew reply."""


@dataclass(slots=True)
class _Timer:
    renew_at: float
    lease: float
    renewing: bool = False


@dataclass(slots=True)
class _Retry:
    at: float
    delay: float
    asked: bool = False


class Holdings:
    """The on-demand requests of one client and the timers that keep them alive."""

    def __init__(self) -> None:
        self._held: dict[Wanted, Held] = {}
        self._timers: dict[Wanted, _Timer] = {}
        self._retries: dict[Wanted, _Retry] = {}

    def __len__(self) -> int:
        """How many requests are held."""
        return len(self._held)

    @property
    def held(self) -> Mapping[str, Held]:
        """What is held now, by key (read-only)."""
        return MappingProxyType({h.key: h for h in self._held.values()})

    def topics(self) -> frozenset[str]:
        """Every topic of every held instrument."""
        return frozenset(t for h in self._held.values() for t in h.topics)

    def granted(self, wanted: Wanted, reply: SubscribeReply, now: float, wall_ns: int) -> Held:
        """Record a ``subscribe`` reply received at ``now`` (monotonic) / ``wall_ns``."""
        held = Held(
            wanted,
            reply.key,
            reply.conid,
            tuple(reply.topics),
            reply.state,
            reply.lease_expires,
        )
        self._held[wanted] = held
        self._retries.pop(wanted, None)
        interval = self._interval(wanted, reply.lease_expires, wall_ns)
        self._timers[wanted] = _Timer(now + interval, interval)
        return held

    def due_renewals(self, now: float) -> tuple[str, ...]:
        """Keys whose renewal is due at ``now``: they are then in flight until answered."""
        due = []
        for wanted, timer in self._timers.items():
            if not timer.renewing and now >= timer.renew_at:
                timer.renewing = True
                due.append(self._held[wanted].key)
        return tuple(sorted(due))

    def renewed(self, keys: Iterable[str], lease_expires: int, now: float, wall_ns: int) -> None:
        """A ``renew`` of ``keys`` was granted until ``lease_expires``."""
        for wanted in self._by_keys(keys):
            held = self._held[wanted]
            self._held[wanted] = Held(
                wanted, held.key, held.conid, held.topics, held.state, lease_expires
            )
            interval = self._interval(wanted, lease_expires, wall_ns)
            self._timers[wanted] = _Timer(now + interval, interval)

    def renew_timed_out(self, keys: Iterable[str], now: float) -> None:
        """No answer to a renewal: try again soon (within the lease, if it is still running)."""
        for wanted in self._by_keys(keys):
            timer = self._timers[wanted]
            timer.renewing = False
            timer.renew_at = now + min(timer.lease, RETRY_FIRST)

    def renew_refused(self, keys: Iterable[str]) -> tuple[Wanted, ...]:
        """The publisher refused a renewal: it no longer holds ``keys`` for us. They are
        dropped and returned, to be asked for again."""
        lost = tuple(self._by_keys(keys))
        for wanted in lost:
            self._timers.pop(wanted, None)
            self._held.pop(wanted, None)
        return lost

    def restarted(self) -> tuple[Wanted, ...]:
        """A publisher restarted: every request (held, or waiting to be retried) is asked for
        again now. Renewals stop until the new grants arrive."""
        self._timers.clear()
        self._retries.clear()
        return tuple(self._held)

    def refused(self, wanted: Wanted, error: str, now: float) -> bool:
        """A background (re-)request was refused with ``error``; True if it will be retried."""
        self._timers.pop(wanted, None)
        self._held.pop(wanted, None)
        if error not in TRANSIENT:
            self._retries.pop(wanted, None)
            return False
        known = self._retries.get(wanted)
        delay = RETRY_FIRST if known is None else min(RETRY_MAX, known.delay * 2)
        self._retries[wanted] = _Retry(now + delay, delay)
        return True

    def due_requests(self, now: float) -> tuple[Wanted, ...]:
        """Refused requests whose retry is due at ``now`` (each then awaits its answer)."""
        due = []
        for wanted, retry in self._retries.items():
            if not retry.asked and now >= retry.at:
                retry.asked = True
                due.append(wanted)
        return tuple(due)

    def release(self, key: str) -> Held | None:
        """Forget the hold on ``key`` (the caller unsubscribes); None if it was not held."""
        for wanted in self._by_keys([key]):
            self._timers.pop(wanted, None)
            self._retries.pop(wanted, None)
            return self._held.pop(wanted)
        return None

    def next_due(self) -> float:
        """The earliest renewal or retry time (infinity when nothing is pending)."""
        times = [t.renew_at for t in self._timers.values() if not t.renewing]
        times += [r.at for r in self._retries.values() if not r.asked]
        return min(times, default=float("inf"))

    def _by_keys(self, keys: Iterable[str]) -> list[Wanted]:
        wanted_keys = set(keys)
        return [w for w, h in self._held.items() if h.key in wanted_keys]

    @staticmethod
    def _interval(wanted: Wanted, lease_expires: int, wall_ns: int) -> float:
        if wanted.lease is not None:
            return max(MIN_RENEW, wanted.lease * RENEW_FRACTION)
        return max(MIN_DERIVED_RENEW, (lease_expires - wall_ns) / 1e9 * RENEW_FRACTION)

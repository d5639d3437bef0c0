"""Stale detection: which streaming instruments stopped ticking, as a pure function.

An instrument is stale when it has not ticked for ``after`` seconds while some other instrument
did (when nothing ticks at all the market is quiet, or the feed is dead, which the connection
probe catches). A stale instrument is re-requested at most ``max_retries`` times; then it is
said once to be left stale until the next reconnect. An instrument requested less than
``after`` seconds ago is left alone: its first ticks may be the initial quote only.

:func:`find_stale` reads the records and decides; the subscription machine
(:mod:`publisher.core.subscriptions`) carries the findings out. The clocks are arguments.
"""

from collections.abc import Collection
from dataclasses import dataclass
from enum import Enum
from typing import Final

from publisher.core.instruments import STALE, STREAMING, Instrument

MAX_CHECK_INTERVAL: Final = 1.0
"""Seconds between checks at most (a quarter of ``after`` when that is shorter)."""


@dataclass(frozen=True, slots=True)
class StalePolicy:
    """``gateway.stale_after`` (seconds, 0: off) and ``gateway.max_stale_retries``."""

    after: float
    max_retries: int

    @property
    def enabled(self) -> bool:
        return self.after > 0

    @property
    def interval(self) -> float:
        """Seconds between checks: often enough to notice within about a quarter period."""
        return min(MAX_CHECK_INTERVAL, self.after / 4)


class Verdict(Enum):
    """What a check decided about one instrument."""

    RECOVERED = "recovered"  # ticked for a whole period after re-requests: forget them
    RETRY = "retry"  # silent while others tick: re-request it
    GIVE_UP = "give_up"  # silent after every retry: say so once, leave it stale


@dataclass(frozen=True, slots=True)
class Finding:
    """One instrument's verdict; ``attempt`` numbers a retry (1 for the first)."""

    key: str
    verdict: Verdict
    attempt: int = 0


def find_stale(
    instruments: Collection[Instrument], now: float, wall_ns: int, policy: StalePolicy
) -> list[Finding]:
    """The instruments that need something done, in order; the records are not changed.

    ``now`` is monotonic seconds (compared with :attr:`Instrument.requested_at`), ``wall_ns``
    the wall clock in ns (compared with :attr:`Instrument.last_tick_ns`).
    """
    after_ns = policy.after * 1e9
    newest = max((i.last_tick_ns for i in instruments), default=0)
    if not policy.enabled or wall_ns - newest > after_ns:
        return []  # nothing ticks: a quiet market (or a dead feed, which the probe catches)
    findings: list[Finding] = []
    for inst in instruments:
        if not inst.data_req or (inst.state not in STREAMING and inst.state != STALE):
            continue
        if inst.requested_at is None or now - inst.requested_at < policy.after:
            continue  # requested recently (its first ticks may be the initial quote only)
        if wall_ns - inst.last_tick_ns < after_ns:
            if inst.state in STREAMING and inst.stale_retries:
                findings.append(Finding(inst.key, Verdict.RECOVERED))
            continue
        retries = inst.stale_retries
        if retries < policy.max_retries:
            findings.append(Finding(inst.key, Verdict.RETRY, retries + 1))
        elif retries == policy.max_retries:
            findings.append(Finding(inst.key, Verdict.GIVE_UP))
    return findings

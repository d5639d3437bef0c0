"""When to try a failed instrument again: capped exponential backoff with jitter. Pure.

A failure whose cause is transient is retried: 101 (max tickers: once a line is free again),
100 (pacing), 10197 (a competing session), 1100 (connectivity lost while qualifying). A
permanent cause (200 no security definition, 354 not subscribed, 10168 no delayed data, and
any code not listed) stays failed until the configuration or a new request changes it.

The clock (``now``, monotonic seconds) and the random source (``jitter()`` in [0, 1)) are the
caller's, so tests drive both.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

__all__ = [
    "LINES_FULL",
    "PERMANENT_CODES",
    "TRANSIENT_CODES",
    "Retries",
    "RetryPolicy",
]

LINES_FULL: Final = 101
TRANSIENT_CODES: Final = frozenset({LINES_FULL, 100, 10197, 1100})
PERMANENT_CODES: Final = frozenset({200, 354, 10168})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    initial: float = 1.0
    """Seconds before the first retry; doubled per attempt up to ``maximum``."""
    maximum: float = 60.0

    def delay(self, attempt: int, jitter: float) -> float:
        """The wait before retry ``attempt`` (1, 2, ...): full backoff scaled into [50 %, 100 %)
        by ``jitter`` so that instruments failed together do not retry together."""
        backoff = min(self.maximum, self.initial * 2.0 ** (attempt - 1))
        return backoff * (0.5 + jitter / 2.0)


@dataclass(slots=True)
class _Pending:
    code: int
    attempt: int
    at: float


class Retries:
    """Failed instruments waiting for their next try, by key."""

    def __init__(self, policy: RetryPolicy, jitter: Callable[[], float]) -> None:
        self._policy = policy
        self._jitter = jitter
        self._waiting: dict[str, _Pending] = {}
        self._attempts: dict[str, int] = {}

    def __contains__(self, key: object) -> bool:
        return key in self._waiting

    def failed(self, key: str, code: int | None, now: float) -> float | None:
        """An instrument failed with ``code``: when it is retried (None: it is not)."""
        if code not in TRANSIENT_CODES:
            self.forget(key)
            return None
        attempt = self._attempts.get(key, 0) + 1
        self._attempts[key] = attempt
        at = now + self._policy.delay(attempt, self._jitter())
        self._waiting[key] = _Pending(code, attempt, at)
        return at

    def due(self, now: float, *, lines_free: bool) -> list[tuple[str, int, int]]:
        """(key, code, attempt) of every retry due now, taken off the list; a 101 waits until
        a line is free (``lines_free``)."""
        ready = [
            key
            for key, p in self._waiting.items()
            if p.at <= now and (lines_free or p.code != LINES_FULL)
        ]
        return [(key, self._waiting[key].code, self._waiting.pop(key).attempt) for key in ready]

    def recovered(self, key: str) -> None:
        """It streams again: the next failure starts from the first delay."""
        self._attempts.pop(key, None)

    def forget(self, key: str) -> None:
        self._waiting.pop(key, None)
        self._attempts.pop(key, None)

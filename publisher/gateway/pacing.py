"""Request pacing: every request to the gateway passes a token bucket under IB's 50 msg/s.

IB disconnects a client that sends more than 50 messages per second (error 100 first). A token
bucket of capacity ``burst`` refilled at ``rate`` per second lets through at most
``burst + rate * t`` requests in any window of ``t`` seconds, so the defaults (5 + 40/s) stay
below 50 in every one-second window with a margin for network jitter.

Requests are queued, never sent late by blocking: the service's loop calls :meth:`drain` from
its timers and polls again by :meth:`next_ready`, so a burst of hundreds of subscriptions is
spread out while ticks keep flowing. Pure apart from the injected clock.
"""

import time
from collections import deque
from collections.abc import Callable
from typing import Final

IB_MESSAGES_PER_SECOND: Final = 50
DEFAULT_RATE: Final = 40.0
DEFAULT_BURST: Final = 5
MIN_RATE: Final = 5.0
"""The slowest :meth:`RequestPacer.slow_down` goes."""

_WHOLE: Final = 1.0 - 1e-9
"""A token, give or take float rounding (so a wait computed for one token always earns it)."""

Request = Callable[[], None]


class RequestPacer:
    """A FIFO of requests released at most ``rate`` per second after an initial ``burst``."""

    def __init__(
        self,
        rate: float = DEFAULT_RATE,
        burst: int = DEFAULT_BURST,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not (rate > 0 and burst >= 1):
            raise ValueError(f"rate must be > 0 and burst >= 1, got {rate}, {burst}")
        if burst + rate > IB_MESSAGES_PER_SECOND:
            raise ValueError(f"burst + rate must stay under {IB_MESSAGES_PER_SECOND} per second")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._stamp = clock()
        self._queue: deque[Request] = deque()
        self.sent = 0
        """Requests released so far (for tests and logs)."""

    def __len__(self) -> int:
        return len(self._queue)

    def submit(self, request: Request, *, urgent: bool = False) -> None:
        """Queue a request; ``urgent`` ones (liveness probes) go to the front."""
        if urgent:
            self._queue.appendleft(request)
        else:
            self._queue.append(request)

    def drain(self) -> int:
        """Send as many queued requests as the bucket allows now; returns how many."""
        self._refill()
        sent = 0
        while self._queue and self._tokens >= _WHOLE:
            self._tokens = max(0.0, self._tokens - 1.0)
            request = self._queue.popleft()
            sent += 1
            request()
        self.sent += sent
        return sent

    def next_ready(self) -> float | None:
        """Monotonic time when the next queued request may go (None while the queue is empty)."""
        if not self._queue:
            return None
        self._refill()
        if self._tokens >= _WHOLE:
            return self._stamp
        return self._stamp + (1.0 - self._tokens) / self.rate

    def clear(self) -> None:
        """Forget every queued request (the connection they were meant for is gone)."""
        self._queue.clear()

    def slow_down(self) -> None:
        """Halve the rate (the gateway said we were too fast: error 100); never below MIN_RATE."""
        self._refill()
        self.rate = max(MIN_RATE, self.rate / 2)

    def _refill(self) -> None:
        now = self._clock()
        if now > self._stamp:
            self._tokens = min(float(self.burst), self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now

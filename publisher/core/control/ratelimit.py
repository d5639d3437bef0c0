"""Per-client token buckets: a client flooding requests cannot starve the others. Pure.

Each client (its CURVE key, else its connection) has a bucket of ``rate`` tokens refilled at
``rate`` per second; a request takes one token or is refused. The clock is the caller's
(monotonic seconds passed in), so tests drive time. Idle buckets are dropped once full again,
so a stream of one-shot clients cannot grow the table without bound.
"""

from typing import Final

__all__ = ["MAX_CLIENTS", "RateLimiter"]

MAX_CLIENTS: Final = 10_000
"""Buckets kept at most; beyond it the full (idle) ones are swept."""


class RateLimiter:
    """``allow(client, now)``: whether ``client`` may send one more request now."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be > 0, got {rate}")
        self._rate = rate
        self._burst = max(1.0, burst if burst is not None else rate)
        self._buckets: dict[bytes, tuple[float, float]] = {}  # client -> (tokens, at)

    def allow(self, client: bytes, now: float) -> bool:
        tokens, at = self._buckets.get(client, (self._burst, now))
        tokens = min(self._burst, tokens + (now - at) * self._rate)
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
        if client not in self._buckets and len(self._buckets) >= MAX_CLIENTS:
            self._sweep(now)
        self._buckets[client] = (tokens, now)
        return allowed

    def __len__(self) -> int:
        return len(self._buckets)

    def _sweep(self, now: float) -> None:
        full = [
            client
            for client, (tokens, at) in self._buckets.items()
            if tokens + (now - at) * self._rate >= self._burst
        ]
        for client in full:
            del self._buckets[client]

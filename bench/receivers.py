"""What the benchmark waits on: something that counts tick messages and says when a target was met.

Both the stock ibapi client (:mod:`bench.stock`) and the counting subscriber (:mod:`bench.counter`)
run in their own processes and answer the same two commands over a pipe, so a scenario drives
either without knowing which it has.
"""

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Expect:
    """Count ``count`` more tick messages from now on; ``latency`` samples publish-to-receipt."""

    count: int
    latency: bool = False


@dataclass(frozen=True, slots=True)
class Wait:
    """Reply with an :class:`Arrival` once the expected count is met, or after ``seconds``."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Quit:
    """Disconnect and exit."""


@dataclass(frozen=True, slots=True)
class Arrival:
    """How far a receiver got; times are ``time.time_ns()``."""

    expected: int
    received: int
    reached_ns: int
    """When the expected count was met (0 if it was not)."""
    last_publish_ns: int = 0
    """The bus ``ts`` of the message that met the count (subscriber only)."""
    latencies_ns: list[int] = field(default_factory=list)
    """Publish-to-receipt samples (subscriber with ``latency`` only, every 8th message)."""
    cpu_seconds: float = 0.0
    """CPU time of the receiving process so far (the stock client: its whole decode cost)."""

    @property
    def complete(self) -> bool:
        return self.received >= self.expected and self.reached_ns > 0


Command = Expect | Wait | Quit
